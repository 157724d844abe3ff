/*
 * libjwtauth from C: a login, validating a request's Authorization header,
 * a role check, a refresh, and what happens when a stolen refresh token is replayed.
 *
 *   make run                  # builds against ../../target/release, runs with a temp store
 *   ./login_flow [jwtauth.toml]
 *
 * Configuration as for every jwtauth binary: the file given, else $JWTAUTH_CONFIG,
 * else ./jwtauth.toml, else laptop defaults; JWTAUTH_* variables override it.
 * Exits 0 when every step behaved as shown.
 */
#include <jwtauth.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unexpected;

/* Prints a status the way an application would log it (never the token itself). */
static void report(const char *step, jwtauth_status got, jwtauth_status want) {
    printf("%-34s -> %s", step, jwtauth_status_str(got));
    if (got != JWTAUTH_STATUS_OK) printf(" (%s)", jwtauth_last_error());
    printf("\n");
    if (got != want) {
        printf("   !! expected %s\n", jwtauth_status_str(want));
        unexpected++;
    }
}

static char *dup_refresh(const jwtauth_tokens *t) {
    const char *r = NULL;
    return jwtauth_tokens_refresh_token(t, &r) == JWTAUTH_STATUS_OK ? strdup(r) : NULL;
}

int main(int argc, char **argv) {
    printf("libjwtauth %s\n\n", jwtauth_version());

    jwtauth *auth = NULL;
    jwtauth_status st = jwtauth_open(argc > 1 ? argv[1] : NULL, &auth);
    report("open", st, JWTAUTH_STATUS_OK);
    if (st != JWTAUTH_STATUS_OK) return 1;

    /* 1. Login: the application checked the password; jwtauth starts a session. */
    const char *roles[] = {"Admin"};
    jwtauth_tokens *login = NULL;
    report("login (session_start alice)",
           jwtauth_session_start(auth, "alice", roles, 1, "{\"tenant\":\"acme\"}", &login), JWTAUTH_STATUS_OK);
    if (!login) return 1;
    const char *access = NULL;
    int64_t exp = 0;
    jwtauth_tokens_access_token(login, &access);
    jwtauth_tokens_access_expires_at(login, &exp);
    char *refresh1 = dup_refresh(login);

    /* 2. A request arrives with "Authorization: Bearer <access token>". */
    char header[4096];
    snprintf(header, sizeof header, "Bearer %s", access);
    jwtauth_request req = {.client = "127.0.0.1:50000", .method = "GET", .path = "/api/products"};
    jwtauth_claims *claims = NULL;
    report("validate Authorization header", jwtauth_validate_header(auth, header, &req, &claims), JWTAUTH_STATUS_OK);
    if (claims) {
        const char *sub = NULL, *tenant = NULL;
        jwtauth_claims_subject(claims, &sub);
        jwtauth_claims_get_str(claims, "tenant", &tenant);
        printf("   subject=%s tenant=%s expires_at=%lld\n", sub, tenant, (long long)exp);
        report("require role Admin", jwtauth_require_role(auth, claims, "Admin", &req), JWTAUTH_STATUS_OK);
        report("require role Owner", jwtauth_require_role(auth, claims, "Owner", &req),
               JWTAUTH_STATUS_INSUFFICIENT_ROLE);
        jwtauth_claims_free(claims);
        claims = NULL;
    }

    /* A client that forgot the "Bearer " prefix. */
    report("validate a bare token", jwtauth_validate_header(auth, access, &req, &claims), JWTAUTH_STATUS_BAD_SCHEME);

    /* 3. The access token is about to expire: refresh (the refresh token rotates). */
    jwtauth_tokens *second = NULL;
    report("refresh", jwtauth_refresh(auth, refresh1, &req, &second), JWTAUTH_STATUS_OK);
    char *refresh2 = second ? dup_refresh(second) : NULL;

    /* 4. An attacker replays the spent refresh token: the whole session is revoked. */
    jwtauth_tokens *stolen = NULL;
    report("replay the spent refresh token", jwtauth_refresh(auth, refresh1, &req, &stolen),
           JWTAUTH_STATUS_REFRESH_REUSED);
    /* ... so the legitimate client's current refresh token no longer works either. */
    st = refresh2 ? jwtauth_refresh(auth, refresh2, &req, &stolen) : JWTAUTH_STATUS_INTERNAL;
    report("refresh with the current token", st, JWTAUTH_STATUS_REVOKED);

    /* 5. The public keys, for services that validate on their own. */
    char *jwks = NULL;
    if (jwtauth_jwks(auth, &jwks) == JWTAUTH_STATUS_OK) {
        printf("\nJWKS: %.100s%s\n", jwks, strlen(jwks) > 100 ? "..." : "");
        jwtauth_string_free(jwks);
    }

    free(refresh1);
    free(refresh2);
    jwtauth_tokens_free(login);
    jwtauth_tokens_free(second);
    jwtauth_close(auth);
    printf("\n%s\n", unexpected ? "some steps did not behave as expected" : "every step behaved as expected");
    return unexpected ? 1 : 0;
}
