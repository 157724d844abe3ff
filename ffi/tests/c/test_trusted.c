/* Tokens of a trusted external issuer, validated from C with no function beyond
 * those an application already calls: open with a configuration that names the
 * issuer, validate, read the claims.
 *
 * usage: test_trusted CONFIG_JSON_FILE GOOD_TOKEN HS_TOKEN STRANGER_TOKEN ISSUER
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwtauth.h"

static int passed, failed;

#define CHECK(cond)                                                       \
    do {                                                                  \
        if (cond) {                                                       \
            passed++;                                                     \
        } else {                                                          \
            failed++;                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                 \
    } while (0)

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    fclose(f);
    if (buf) buf[n] = '\0';
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s CONFIG_JSON_FILE GOOD_TOKEN HS_TOKEN STRANGER_TOKEN ISSUER\n", argv[0]);
        return 2;
    }
    char *config = read_file(argv[1]);
    CHECK(config != NULL);
    if (!config) return 1;
    jwtauth *h = NULL;
    jwtauth_status st = jwtauth_open_json(config, &h);
    free(config);
    CHECK(st == JWTAUTH_STATUS_OK);
    if (st != JWTAUTH_STATUS_OK) {
        fprintf(stderr, "open: %s\n", jwtauth_last_error());
        return 1;
    }

    jwtauth_claims *c = NULL;
    st = jwtauth_validate(h, argv[2], &c);
    CHECK(st == JWTAUTH_STATUS_OK);
    if (st == JWTAUTH_STATUS_OK) {
        const char *s = NULL;
        CHECK(jwtauth_claims_subject(c, &s) == JWTAUTH_STATUS_OK && strcmp(s, "ext-user") == 0);
        CHECK(jwtauth_claims_issuer(c, &s) == JWTAUTH_STATUS_OK && strcmp(s, argv[5]) == 0);
        size_t roles = 0;
        CHECK(jwtauth_claims_role_count(c, &roles) == JWTAUTH_STATUS_OK && roles == 2);
        CHECK(jwtauth_claims_role_at(c, 0, &s) == JWTAUTH_STATUS_OK && strcmp(s, "Buyer") == 0);
        jwtauth_claims_free(c);
    } else {
        fprintf(stderr, "validate: %s: %s\n", jwtauth_status_str(st), jwtauth_last_error());
    }
    /* Validated again: served from the verified-token cache, same answer. */
    c = NULL;
    CHECK(jwtauth_validate(h, argv[2], &c) == JWTAUTH_STATUS_OK);
    jwtauth_claims_free(c);

    c = NULL;
    st = jwtauth_validate(h, argv[3], &c);
    /* Its kid was never published by the issuer, and no HS key is ever taken
     * from a key set: refused either way. */
    CHECK(st == JWTAUTH_STATUS_UNKNOWN_KID || st == JWTAUTH_STATUS_ALG_NOT_ALLOWED);
    CHECK(c == NULL);

    st = jwtauth_validate(h, argv[4], &c);
    CHECK(st == JWTAUTH_STATUS_WRONG_ISSUER);
    CHECK(strstr(jwtauth_last_error(), argv[5]) != NULL);

    jwtauth_close(h);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
