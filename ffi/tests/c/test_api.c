/*
 * The whole C API, every error path and NULL arguments, as a C program sees it.
 * Built against include/jwtauth.h and linked against libjwtauth (shared and static)
 * by ffi/tests/c_api.rs, which passes: DATA_FILE WORK_DIR.
 * Prints one line per failed check, then "c_api: N passed, M failed".
 */
#include "jwtauth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int passed, failed;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (cond) {                                                                 \
            passed++;                                                               \
        } else {                                                                    \
            failed++;                                                               \
            fprintf(stderr, "FAIL %s:%d: %s (last error: %s)\n", __FILE__, __LINE__, \
                    #cond, jwtauth_last_error());                                   \
        }                                                                           \
    } while (0)

#define CHECK_STATUS(call, expected) CHECK((call) == (expected))
#define OK JWTAUTH_STATUS_OK
#define INVALID JWTAUTH_STATUS_INVALID_ARGUMENT

static const char *SECRET = "c-api-test-secret-0123456789abcdef-xyz";
static char work_dir[1024];
static char config_json[8192];

/* A handle whose config matches the tokens in the data file (HS256). */
static jwtauth *open_hs256(void) {
    jwtauth *h = NULL;
    CHECK_STATUS(jwtauth_open_json(config_json, &h), OK);
    CHECK(h != NULL);
    return h;
}

static void test_static_functions(void) {
    const char *v = jwtauth_version();
    CHECK(v != NULL && strchr(v, '.') != NULL);
    CHECK(strcmp(jwtauth_status_str(JWTAUTH_STATUS_OK), "ok") == 0);
    CHECK(strcmp(jwtauth_status_str(8), "expired") == 0);
    CHECK(JWTAUTH_STATUS_EXPIRED == 8 && JWTAUTH_STATUS_RATE_LIMITED == 19);
    CHECK(strcmp(jwtauth_status_str(JWTAUTH_STATUS_REFRESH_REUSED), "refresh_reused") == 0);
    CHECK(strcmp(jwtauth_status_str(JWTAUTH_STATUS_INVALID_ARGUMENT), "invalid_argument") == 0);
    CHECK(strcmp(jwtauth_status_str(JWTAUTH_STATUS_STORE), "store") == 0);
    CHECK(strcmp(jwtauth_status_str(999), "unknown") == 0);
    CHECK(strcmp(jwtauth_status_str(0xFFFFFFFFu), "unknown") == 0);
    /* NULL is a no-op for every destructor. */
    jwtauth_close(NULL);
    jwtauth_claims_free(NULL);
    jwtauth_tokens_free(NULL);
    jwtauth_string_free(NULL);
}

static void test_open_errors(void) {
    jwtauth *sentinel = (jwtauth *)&passed; /* never dereferenced: must stay unchanged */
    jwtauth *h = sentinel;

    CHECK_STATUS(jwtauth_open_json(NULL, &h), INVALID);
    CHECK(h == sentinel);
    CHECK(strstr(jwtauth_last_error(), "config_json") != NULL);
    CHECK_STATUS(jwtauth_open_json(config_json, NULL), INVALID);
    CHECK_STATUS(jwtauth_open_json("{not json", &h), JWTAUTH_STATUS_CONFIG);
    CHECK(h == sentinel);
    CHECK_STATUS(jwtauth_open_json("{\"no_such_key\": 1}", &h), JWTAUTH_STATUS_CONFIG);
    CHECK(strstr(jwtauth_last_error(), "no_such_key") != NULL);
    /* A placeholder secret is refused, and the hint never repeats it. */
    CHECK_STATUS(jwtauth_open_json("{\"algorithm\":\"HS256\",\"hs_secret\":\"your-256-bit-secret\"}", &h),
                 JWTAUTH_STATUS_CONFIG);
    CHECK(strstr(jwtauth_last_error(), "hs_secret") != NULL);
    CHECK(strstr(jwtauth_last_error(), "your-256-bit-secret") == NULL);
    CHECK_STATUS(jwtauth_open_json("{\"issuer\":\"\xff\xfe\"}", &h), INVALID);
    CHECK(strstr(jwtauth_last_error(), "UTF-8") != NULL);
    /* A store that cannot be opened. */
    char json[2048];
    snprintf(json, sizeof json, "{\"log\":{\"dir\":\"%s/logs\"},\"store\":{\"url\":\"sqlite:///proc/self/nope/x.db\"}}",
             work_dir);
    CHECK_STATUS(jwtauth_open_json(json, &h), JWTAUTH_STATUS_STORE);
    CHECK(strstr(jwtauth_last_error(), "store") != NULL);
    CHECK_STATUS(jwtauth_open_json("{\"store\":{\"url\":\"mysql://db/x\"}}", &h), JWTAUTH_STATUS_CONFIG);
    CHECK(h == sentinel);
    CHECK_STATUS(jwtauth_open("/nonexistent/jwtauth.toml", &h), JWTAUTH_STATUS_CONFIG);
    CHECK_STATUS(jwtauth_open("\xc3\x28", &h), INVALID);
    CHECK_STATUS(jwtauth_open(NULL, NULL), INVALID);
    CHECK(h == sentinel);

    /* A TOML file, like the binaries read. */
    char path[1200], text[4096];
    snprintf(path, sizeof path, "%s/jwtauth.toml", work_dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        snprintf(text, sizeof text,
                 "issuer = \"https://auth.test\"\naudience = \"c-api\"\nalgorithm = \"HS256\"\n"
                 "hs_secret = \"%s\"\n[log]\ndir = \"%s/logs\"\n[store]\nurl = \"sqlite://%s/file.db\"\n",
                 SECRET, work_dir, work_dir);
        fputs(text, f);
        fclose(f);
        h = NULL;
        CHECK_STATUS(jwtauth_open(path, &h), OK);
        CHECK(h != NULL);
        jwtauth_close(h);
    }
    /* The last error is cleared by a call that succeeds. */
    CHECK(strcmp(jwtauth_last_error(), "") == 0);
}

static void test_issue_and_claims(jwtauth *h) {
    const char *roles[] = {"Admin", "reader"};
    jwtauth_tokens *t = NULL;
    CHECK_STATUS(jwtauth_issue(h, "alice", roles, 2,
                               "{\"tenant\":\"acme\",\"tenant_id\":42,\"email_verified\":true,\"scopes\":[\"a\",\"b\"]}",
                               &t),
                 OK);
    if (t == NULL) return;

    const char *token = NULL, *jti = NULL, *kid = NULL, *s = NULL;
    int64_t exp = 0, i = 0;
    CHECK_STATUS(jwtauth_tokens_access_token(t, &token), OK);
    CHECK(token != NULL && strchr(token, '.') != NULL);
    CHECK_STATUS(jwtauth_tokens_jwt_id(t, &jti), OK);
    CHECK_STATUS(jwtauth_tokens_kid(t, &kid), OK);
    CHECK_STATUS(jwtauth_tokens_access_expires_at(t, &exp), OK);
    CHECK(exp > 1700000000);
    s = "unchanged";
    CHECK_STATUS(jwtauth_tokens_refresh_token(t, &s), JWTAUTH_STATUS_NOT_FOUND);
    CHECK(strcmp(s, "unchanged") == 0);
    CHECK_STATUS(jwtauth_tokens_refresh_expires_at(t, &i), JWTAUTH_STATUS_NOT_FOUND);
    CHECK_STATUS(jwtauth_tokens_access_token(NULL, &token), INVALID);
    CHECK_STATUS(jwtauth_tokens_access_token(t, NULL), INVALID);
    CHECK_STATUS(jwtauth_tokens_access_expires_at(NULL, &exp), INVALID);
    CHECK_STATUS(jwtauth_tokens_jwt_id(NULL, &jti), INVALID);
    CHECK_STATUS(jwtauth_tokens_kid(t, NULL), INVALID);
    CHECK_STATUS(jwtauth_tokens_refresh_token(NULL, &s), INVALID);
    CHECK_STATUS(jwtauth_tokens_refresh_expires_at(t, NULL), INVALID);

    jwtauth_claims *c = NULL;
    CHECK_STATUS(jwtauth_validate(h, token, &c), OK);
    if (c == NULL) {
        jwtauth_tokens_free(t);
        return;
    }
    CHECK_STATUS(jwtauth_claims_subject(c, &s), OK);
    CHECK(strcmp(s, "alice") == 0);
    CHECK_STATUS(jwtauth_claims_issuer(c, &s), OK);
    CHECK(strcmp(s, "https://auth.test") == 0);
    CHECK_STATUS(jwtauth_claims_jwt_id(c, &s), OK);
    CHECK(strcmp(s, jti) == 0);
    CHECK_STATUS(jwtauth_claims_kid(c, &s), OK);
    CHECK(strcmp(s, kid) == 0);
    CHECK_STATUS(jwtauth_claims_expires_at(c, &i), OK);
    CHECK(i == exp);
    CHECK_STATUS(jwtauth_claims_issued_at(c, &i), OK);
    CHECK(i > 1700000000 && i <= exp);
    CHECK_STATUS(jwtauth_claims_not_before(c, &i), OK);

    size_t n = 0;
    bool yes = false;
    CHECK_STATUS(jwtauth_claims_role_count(c, &n), OK);
    CHECK(n == 2);
    CHECK_STATUS(jwtauth_claims_role_at(c, 0, &s), OK);
    CHECK(strcmp(s, "Admin") == 0);
    CHECK_STATUS(jwtauth_claims_role_at(c, 1, &s), OK);
    CHECK(strcmp(s, "reader") == 0);
    CHECK_STATUS(jwtauth_claims_role_at(c, 2, &s), JWTAUTH_STATUS_NOT_FOUND);
    CHECK_STATUS(jwtauth_claims_has_role(c, "Admin", &yes), OK);
    CHECK(yes);
    CHECK_STATUS(jwtauth_claims_has_role(c, "admin", &yes), OK);
    CHECK(!yes); /* exact and case-sensitive */
    CHECK_STATUS(jwtauth_claims_audience_count(c, &n), OK);
    CHECK(n == 1);
    CHECK_STATUS(jwtauth_claims_audience_at(c, 0, &s), OK);
    CHECK(strcmp(s, "c-api") == 0);
    CHECK_STATUS(jwtauth_claims_audience_at(c, 1, &s), JWTAUTH_STATUS_NOT_FOUND);

    CHECK_STATUS(jwtauth_claims_get_str(c, "tenant", &s), OK);
    CHECK(strcmp(s, "acme") == 0);
    CHECK_STATUS(jwtauth_claims_get_str(c, "sub", &s), OK);
    CHECK(strcmp(s, "alice") == 0);
    CHECK_STATUS(jwtauth_claims_get_str(c, "tenant_id", &s), JWTAUTH_STATUS_TYPE_MISMATCH);
    CHECK(strstr(jwtauth_last_error(), "not a string") != NULL);
    CHECK_STATUS(jwtauth_claims_get_str(c, "nope", &s), JWTAUTH_STATUS_NOT_FOUND);
    CHECK_STATUS(jwtauth_claims_get_int(c, "tenant_id", &i), OK);
    CHECK(i == 42);
    CHECK_STATUS(jwtauth_claims_get_int(c, "exp", &i), OK);
    CHECK(i == exp);
    CHECK_STATUS(jwtauth_claims_get_int(c, "tenant", &i), JWTAUTH_STATUS_TYPE_MISMATCH);
    CHECK_STATUS(jwtauth_claims_get_bool(c, "email_verified", &yes), OK);
    CHECK(yes);
    CHECK_STATUS(jwtauth_claims_get_bool(c, "tenant_id", &yes), JWTAUTH_STATUS_TYPE_MISMATCH);
    CHECK_STATUS(jwtauth_claims_get_bool(c, "nope", &yes), JWTAUTH_STATUS_NOT_FOUND);

    char *json = NULL;
    CHECK_STATUS(jwtauth_claims_get_json(c, "scopes", &json), OK);
    CHECK(json && strcmp(json, "[\"a\",\"b\"]") == 0);
    jwtauth_string_free(json);
    CHECK_STATUS(jwtauth_claims_get_json(c, "nope", &json), JWTAUTH_STATUS_NOT_FOUND);
    json = NULL;
    CHECK_STATUS(jwtauth_claims_to_json(c, &json), OK);
    CHECK(json && strstr(json, "\"sub\":\"alice\"") && strstr(json, "\"roles\":[\"Admin\",\"reader\"]") &&
          strstr(json, "\"tenant\":\"acme\""));
    jwtauth_string_free(json);

    /* NULL arguments of every accessor. */
    CHECK_STATUS(jwtauth_claims_subject(NULL, &s), INVALID);
    CHECK_STATUS(jwtauth_claims_subject(c, NULL), INVALID);
    CHECK_STATUS(jwtauth_claims_issuer(NULL, &s), INVALID);
    CHECK_STATUS(jwtauth_claims_jwt_id(c, NULL), INVALID);
    CHECK_STATUS(jwtauth_claims_kid(NULL, &s), INVALID);
    CHECK_STATUS(jwtauth_claims_expires_at(NULL, &i), INVALID);
    CHECK_STATUS(jwtauth_claims_issued_at(c, NULL), INVALID);
    CHECK_STATUS(jwtauth_claims_not_before(NULL, &i), INVALID);
    CHECK_STATUS(jwtauth_claims_role_count(NULL, &n), INVALID);
    CHECK_STATUS(jwtauth_claims_role_at(c, 0, NULL), INVALID);
    CHECK_STATUS(jwtauth_claims_audience_count(c, NULL), INVALID);
    CHECK_STATUS(jwtauth_claims_audience_at(NULL, 0, &s), INVALID);
    CHECK_STATUS(jwtauth_claims_has_role(c, NULL, &yes), INVALID);
    CHECK_STATUS(jwtauth_claims_has_role(c, "\xff", &yes), INVALID);
    CHECK_STATUS(jwtauth_claims_has_role(NULL, "Admin", &yes), INVALID);
    CHECK_STATUS(jwtauth_claims_get_str(c, NULL, &s), INVALID);
    CHECK_STATUS(jwtauth_claims_get_int(c, "exp", NULL), INVALID);
    CHECK_STATUS(jwtauth_claims_get_bool(NULL, "x", &yes), INVALID);
    CHECK_STATUS(jwtauth_claims_get_json(c, "\xfe", &json), INVALID);
    CHECK_STATUS(jwtauth_claims_to_json(NULL, &json), INVALID);

    /* Roles through the handle: recorded as insufficient_role. */
    CHECK_STATUS(jwtauth_require_role(h, c, "Admin", NULL), OK);
    jwtauth_request req = {.client = "203.0.113.7:5000", .method = "DELETE", .path = "/api/products/1"};
    CHECK_STATUS(jwtauth_require_role(h, c, "Owner", &req), JWTAUTH_STATUS_INSUFFICIENT_ROLE);
    CHECK(strstr(jwtauth_last_error(), "Owner") != NULL);
    CHECK_STATUS(jwtauth_require_role(NULL, c, "Admin", NULL), INVALID);
    CHECK_STATUS(jwtauth_require_role(h, NULL, "Admin", NULL), INVALID);
    CHECK_STATUS(jwtauth_require_role(h, c, NULL, NULL), INVALID);

    /* Claims outlive the tokens they came from. */
    jwtauth_tokens_free(t);
    CHECK_STATUS(jwtauth_claims_subject(c, &s), OK);
    CHECK(strcmp(s, "alice") == 0);
    jwtauth_claims_free(c);
}

static void test_issue_errors(jwtauth *h) {
    jwtauth_tokens *sentinel = (jwtauth_tokens *)&failed, *t = sentinel;
    const char *roles[] = {"a", NULL};
    CHECK_STATUS(jwtauth_issue(NULL, "alice", NULL, 0, NULL, &t), INVALID);
    CHECK_STATUS(jwtauth_issue(h, NULL, NULL, 0, NULL, &t), INVALID);
    CHECK_STATUS(jwtauth_issue(h, "alice", NULL, 0, NULL, NULL), INVALID);
    CHECK_STATUS(jwtauth_issue(h, "", NULL, 0, NULL, &t), INVALID);
    CHECK(strstr(jwtauth_last_error(), "subject") != NULL);
    CHECK_STATUS(jwtauth_issue(h, "al\xffice", NULL, 0, NULL, &t), INVALID);
    CHECK_STATUS(jwtauth_issue(h, "alice", NULL, 2, NULL, &t), INVALID);
    CHECK_STATUS(jwtauth_issue(h, "alice", roles, 2, NULL, &t), INVALID);
    CHECK(strstr(jwtauth_last_error(), "roles[1]") != NULL);
    CHECK_STATUS(jwtauth_issue(h, "alice", roles, (size_t)-1, NULL, &t), INVALID);
    CHECK_STATUS(jwtauth_issue(h, "alice", NULL, 0, "[1,2]", &t), INVALID);
    CHECK_STATUS(jwtauth_issue(h, "alice", NULL, 0, "{\"a\":", &t), INVALID);
    CHECK_STATUS(jwtauth_issue(h, "alice", NULL, 0, "{\"sub\":\"mallory\"}", &t), INVALID);
    CHECK(strstr(jwtauth_last_error(), "reserved") != NULL);
    CHECK_STATUS(jwtauth_issue(h, "alice", NULL, 0, "{\"roles\":[\"Admin\"]}", &t), INVALID);
    CHECK(t == sentinel);
    /* Roles may be given as NULL with length 0. */
    t = NULL;
    CHECK_STATUS(jwtauth_issue(h, "bob", NULL, 0, NULL, &t), OK);
    jwtauth_tokens_free(t);
}

static int status_by_name(const char *name) {
    for (uint32_t code = 0; code < 200; code++)
        if (strcmp(jwtauth_status_str(code), name) == 0) return (int)code;
    return -1;
}

static void test_validation_failures(jwtauth *h, const char *data_file) {
    FILE *f = fopen(data_file, "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[8192];
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char name[128], expected[64], token[8000];
        if (sscanf(line, "%127s %63s %7999s", name, expected, token) != 3) continue;
        rows++;
        jwtauth_claims *c = NULL;
        jwtauth_status got = jwtauth_validate(h, token, &c);
        int want = status_by_name(expected);
        if ((int)got != want)
            fprintf(stderr, "FAIL token %s: got %s, expected %s (%s)\n", name, jwtauth_status_str(got), expected,
                    jwtauth_last_error());
        CHECK((int)got == want);
        if (got == OK) {
            CHECK(c != NULL);
            CHECK(strcmp(jwtauth_last_error(), "") == 0);
        } else {
            CHECK(c == NULL);
            /* A hint is given, and never the whole token. */
            CHECK(strlen(jwtauth_last_error()) > 0);
            CHECK(strstr(jwtauth_last_error(), token) == NULL);
        }
        jwtauth_claims_free(c);
    }
    fclose(f);
    CHECK(rows >= 13);
}

static void test_hostile_tokens(jwtauth *h) {
    jwtauth_claims *c = NULL;
    jwtauth_tokens *t = NULL;
    const char *token = NULL;
    CHECK_STATUS(jwtauth_validate(h, NULL, &c), INVALID);
    CHECK_STATUS(jwtauth_validate(NULL, "a.b.c", &c), INVALID);
    CHECK_STATUS(jwtauth_validate(h, "a.b.c", NULL), INVALID);
    CHECK_STATUS(jwtauth_validate(h, "", &c), JWTAUTH_STATUS_MISSING_TOKEN);
    CHECK_STATUS(jwtauth_validate(h, "\xff\xfe.\x80.\x01", &c), JWTAUTH_STATUS_MALFORMED);

    size_t big = 1u << 20;
    char *huge = malloc(big + 1);
    if (huge) {
        memset(huge, 'a', big);
        huge[big] = '\0';
        CHECK_STATUS(jwtauth_validate(h, huge, &c), JWTAUTH_STATUS_TOO_LARGE);
        /* A megabyte subject is refused at issue time, not signed into a token this
           same handle would refuse. */
        CHECK_STATUS(jwtauth_issue(h, huge, NULL, 0, NULL, &t), INVALID);
        jwtauth_tokens_free(t);
        t = NULL;
        free(huge);
    }

    /* One flipped character in the payload: bad_signature. */
    CHECK_STATUS(jwtauth_issue(h, "alice", NULL, 0, NULL, &t), OK);
    if (t && jwtauth_tokens_access_token(t, &token) == OK) {
        char *copy = strdup(token);
        char *payload = strchr(copy, '.') + 1;
        payload[3] = payload[3] == 'A' ? 'B' : 'A';
        CHECK_STATUS(jwtauth_validate(h, copy, &c), JWTAUTH_STATUS_BAD_SIGNATURE);
        free(copy);
    }
    CHECK(c == NULL);
    jwtauth_tokens_free(t);
}

/* jwtauth_validate_bytes(_ex): the token as pointer + length, never read past len. */
static void test_validate_bytes(jwtauth *h) {
    jwtauth_claims *c = NULL;
    jwtauth_tokens *t = NULL;
    jwtauth_error *err = NULL;
    const char *token = NULL;
    const char *s = NULL;
    CHECK_STATUS(jwtauth_issue(h, "bytes-alice", NULL, 0, NULL, &t), OK);
    if (!t || jwtauth_tokens_access_token(t, &token) != OK) {
        jwtauth_tokens_free(t);
        return;
    }
    size_t n = strlen(token);
    /* The token followed by more bytes and no NUL: only len bytes count. */
    char *buf = malloc(n + 8);
    if (buf) {
        memcpy(buf, token, n);
        memcpy(buf + n, "garbage!", 8);
        CHECK_STATUS(jwtauth_validate_bytes(h, (const uint8_t *)buf, n, &c), OK);
        CHECK(c != NULL && jwtauth_claims_subject(c, &s) == OK && strcmp(s, "bytes-alice") == 0);
        jwtauth_claims_free(c);
        c = NULL;
        CHECK_STATUS(jwtauth_validate_bytes_ex(h, (const uint8_t *)buf, n, &c, &err), OK);
        CHECK(c != NULL && err == NULL);
        jwtauth_claims_free(c);
        c = NULL;
        /* A byte short, or the bytes after it counted: not the token. */
        CHECK(jwtauth_validate_bytes(h, (const uint8_t *)buf, n - 1, &c) != OK);
        CHECK(jwtauth_validate_bytes(h, (const uint8_t *)buf, n + 8, &c) != OK);
        CHECK(c == NULL);

        /* A NUL inside is malformed, never a token cut short there: not after the
           token, not inside its signature. */
        buf[n] = '\0';
        CHECK_STATUS(jwtauth_validate_bytes(h, (const uint8_t *)buf, n + 1, &c), JWTAUTH_STATUS_MALFORMED);
        CHECK_STATUS(jwtauth_validate_bytes_ex(h, (const uint8_t *)buf, n + 5, &c, &err), JWTAUTH_STATUS_MALFORMED);
        CHECK(err != NULL && strcmp(jwtauth_error_reason(err), "malformed") == 0);
        jwtauth_error_free(err);
        err = NULL;
        char keep = buf[n - 2];
        buf[n - 2] = '\0';
        CHECK_STATUS(jwtauth_validate_bytes(h, (const uint8_t *)buf, n, &c), JWTAUTH_STATUS_MALFORMED);
        buf[n - 2] = keep;
        CHECK(c == NULL);
        free(buf);
    }

    /* Length 0 is an empty token, NULL or not; NULL with a length is an argument error. */
    CHECK_STATUS(jwtauth_validate_bytes(h, NULL, 0, &c), JWTAUTH_STATUS_MISSING_TOKEN);
    CHECK_STATUS(jwtauth_validate_bytes(h, (const uint8_t *)token, 0, &c), JWTAUTH_STATUS_MISSING_TOKEN);
    CHECK_STATUS(jwtauth_validate_bytes(h, NULL, 10, &c), INVALID);
    CHECK_STATUS(jwtauth_validate_bytes_ex(h, NULL, 10, &c, &err), INVALID);
    CHECK(err != NULL && strstr(jwtauth_error_hint(err), "NULL") != NULL);
    jwtauth_error_free(err);
    err = NULL;
    CHECK_STATUS(jwtauth_validate_bytes(h, (const uint8_t *)token, n, NULL), INVALID);
    CHECK_STATUS(jwtauth_validate_bytes(NULL, (const uint8_t *)token, n, &c), INVALID);
    CHECK(c == NULL);

    /* Over-long: a megabyte, judged by its length (no NUL anywhere), or a length
       no buffer can have. */
    size_t big = 1u << 20;
    uint8_t *huge = malloc(big);
    if (huge) {
        memset(huge, 'a', big);
        CHECK_STATUS(jwtauth_validate_bytes_ex(h, huge, big, &c, &err), JWTAUTH_STATUS_TOO_LARGE);
        CHECK(err != NULL && strcmp(jwtauth_error_reason(err), "too_large") == 0);
        jwtauth_error_free(err);
        err = NULL;
        free(huge);
    }
    CHECK_STATUS(jwtauth_validate_bytes(h, (const uint8_t *)token, SIZE_MAX, &c), INVALID);
    CHECK(c == NULL);
    jwtauth_tokens_free(t);
}

/* The token's characters as UTF-16 code units (a .NET or Java string's memory). */
static uint16_t *to_units(const char *s, size_t n, size_t extra) {
    uint16_t *u = malloc((n + extra) * sizeof *u);
    if (u)
        for (size_t i = 0; i < n; i++) u[i] = (unsigned char)s[i];
    return u;
}

/* Status and reason of jwtauth_validate_utf16_ex, the claims freed. */
static jwtauth_status utf16_reason(jwtauth *h, const uint16_t *u, size_t n, char *reason, size_t cap) {
    jwtauth_claims *c = NULL;
    jwtauth_error *err = NULL;
    jwtauth_status st = jwtauth_validate_utf16_ex(h, u, n, &c, &err);
    snprintf(reason, cap, "%s", err ? jwtauth_error_reason(err) : "");
    jwtauth_error_free(err);
    jwtauth_claims_free(c);
    return st;
}

/* jwtauth_validate_utf16(_ex): code units + length, judged as their UTF-8 would be. */
static void test_validate_utf16(jwtauth *h) {
    jwtauth_claims *c = NULL;
    jwtauth_tokens *t = NULL;
    const char *token = NULL, *s = NULL;
    char reason[64];
    CHECK_STATUS(jwtauth_issue(h, "utf16-alice", NULL, 0, NULL, &t), OK);
    if (!t || jwtauth_tokens_access_token(t, &token) != OK) {
        jwtauth_tokens_free(t);
        return;
    }
    size_t n = strlen(token);
    uint16_t *u = to_units(token, n, 4);
    if (u) {
        u[n] = 'x';
        CHECK_STATUS(jwtauth_validate_utf16(h, u, n, &c), OK);
        CHECK(c != NULL && jwtauth_claims_subject(c, &s) == OK && strcmp(s, "utf16-alice") == 0);
        jwtauth_claims_free(c);
        c = NULL;
        /* One unit short, or one counted past the token: not the token. */
        CHECK(jwtauth_validate_utf16(h, u, n - 1, &c) != OK);
        CHECK(jwtauth_validate_utf16(h, u, n + 1, &c) != OK);
        CHECK(c == NULL);
        /* U+0000, a non-ASCII character and a lone surrogate inside the signature are
           malformed (a JWS is ASCII), never cut short or skipped. */
        const uint16_t odd[] = {0x0000, 0x00e9, 0xd800, 0xdc00};
        for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
            uint16_t keep = u[n - 2];
            u[n - 2] = odd[i];
            CHECK_STATUS(utf16_reason(h, u, n, reason, sizeof reason), JWTAUTH_STATUS_MALFORMED);
            CHECK(strcmp(reason, "malformed") == 0);
            u[n - 2] = keep;
        }
        /* Not 2-byte aligned: refused, never read. */
        CHECK_STATUS(jwtauth_validate_utf16(h, (const uint16_t *)((const char *)u + 1), n - 1, &c), INVALID);
        free(u);
    }
    jwtauth_tokens_free(t);
    t = NULL;

    /* Longer than the stack copy (4096 units): still verified. */
    char extra[4200];
    memset(extra, 0, sizeof extra);
    snprintf(extra, sizeof extra, "{\"note\":\"");
    memset(extra + strlen(extra), 'n', 3500);
    strcat(extra, "\"}");
    CHECK_STATUS(jwtauth_issue(h, "utf16-long", NULL, 0, extra, &t), OK);
    if (t && jwtauth_tokens_access_token(t, &token) == OK) {
        n = strlen(token);
        CHECK(n > 4096);
        u = to_units(token, n, 0);
        if (u) {
            CHECK_STATUS(jwtauth_validate_utf16(h, u, n, &c), OK);
            CHECK(c != NULL && jwtauth_claims_subject(c, &s) == OK && strcmp(s, "utf16-long") == 0);
            jwtauth_claims_free(c);
            c = NULL;
            u[n - 2] = 0x20ac; /* the euro sign, 3 bytes in UTF-8 */
            CHECK_STATUS(utf16_reason(h, u, n, reason, sizeof reason), JWTAUTH_STATUS_MALFORMED);
            free(u);
        }
    }
    jwtauth_tokens_free(t);

    /* Length 0 is an empty token; NULL with a length, or a length no buffer of code
       units can have, is an argument error; a megabyte is judged by its size. */
    CHECK_STATUS(jwtauth_validate_utf16(h, NULL, 0, &c), JWTAUTH_STATUS_MISSING_TOKEN);
    CHECK_STATUS(jwtauth_validate_utf16(h, NULL, 10, &c), INVALID);
    const uint16_t one[] = {'a'};
    CHECK_STATUS(jwtauth_validate_utf16(h, one, SIZE_MAX / 2, &c), INVALID);
    CHECK_STATUS(jwtauth_validate_utf16(NULL, one, 1, &c), INVALID);
    CHECK_STATUS(jwtauth_validate_utf16(h, one, 1, NULL), INVALID);
    size_t big = 1u << 20;
    uint16_t *huge = malloc(big * sizeof *huge);
    if (huge) {
        for (size_t i = 0; i < big; i++) huge[i] = 'a';
        CHECK_STATUS(utf16_reason(h, huge, big, reason, sizeof reason), JWTAUTH_STATUS_TOO_LARGE);
        CHECK(strcmp(reason, "too_large") == 0);
        free(huge);
    }
    CHECK(c == NULL);
}

static void test_validate_header(jwtauth *h) {
    jwtauth_tokens *t = NULL;
    jwtauth_claims *c = NULL;
    const char *token = NULL, *s = NULL;
    char header[4096];
    CHECK_STATUS(jwtauth_issue(h, "carol", NULL, 0, NULL, &t), OK);
    if (!t) return;
    CHECK_STATUS(jwtauth_tokens_access_token(t, &token), OK);

    snprintf(header, sizeof header, "Bearer %s", token);
    jwtauth_request req = {.client = "127.0.0.1:1234", .method = "GET", .path = "/api/products",
                           .user_agent = "test_api.c", .request_id = "req-1"};
    CHECK_STATUS(jwtauth_validate_header(h, header, &req, &c), OK);
    if (c) {
        CHECK_STATUS(jwtauth_claims_subject(c, &s), OK);
        CHECK(strcmp(s, "carol") == 0);
        jwtauth_claims_free(c);
        c = NULL;
    }
    snprintf(header, sizeof header, "bearer %s", token);
    CHECK_STATUS(jwtauth_validate_header(h, header, NULL, &c), OK);
    jwtauth_claims_free(c);
    c = NULL;

    CHECK_STATUS(jwtauth_validate_header(h, NULL, &req, &c), JWTAUTH_STATUS_MISSING_TOKEN);
    CHECK_STATUS(jwtauth_validate_header(h, "Bearer", NULL, &c), JWTAUTH_STATUS_MISSING_TOKEN);
    CHECK_STATUS(jwtauth_validate_header(h, token, NULL, &c), JWTAUTH_STATUS_BAD_SCHEME);
    CHECK(strstr(jwtauth_last_error(), "Bearer") != NULL);
    CHECK_STATUS(jwtauth_validate_header(h, "Basic dXNlcjpwYXNz", NULL, &c), JWTAUTH_STATUS_BAD_SCHEME);
    CHECK_STATUS(jwtauth_validate_header(h, "Bearer a.b.c", NULL, &c), JWTAUTH_STATUS_MALFORMED);
    CHECK_STATUS(jwtauth_validate_header(h, "Bearer \xff", NULL, &c), INVALID);
    jwtauth_request bad = {.path = "/\xff"};
    snprintf(header, sizeof header, "Bearer %s", token);
    CHECK_STATUS(jwtauth_validate_header(h, header, &bad, &c), INVALID);
    CHECK(strstr(jwtauth_last_error(), "request->path") != NULL);
    CHECK_STATUS(jwtauth_validate_header(NULL, header, NULL, &c), INVALID);
    CHECK_STATUS(jwtauth_validate_header(h, header, NULL, NULL), INVALID);
    CHECK(c == NULL);
    jwtauth_tokens_free(t);
}

static void test_jwks(jwtauth *hs) {
    char *jwks = NULL;
    CHECK_STATUS(jwtauth_jwks(hs, &jwks), OK);
    CHECK(jwks && strcmp(jwks, "{\"keys\":[]}") == 0); /* an HS secret is never published */
    jwtauth_string_free(jwks);
    CHECK_STATUS(jwtauth_jwks(NULL, &jwks), INVALID);
    CHECK_STATUS(jwtauth_jwks(hs, NULL), INVALID);

    /* The laptop default: an ES256 key generated at open. */
    char json[4096];
    snprintf(json, sizeof json, "{\"log\":{\"dir\":\"%s/logs\"},\"store\":{\"url\":\"sqlite://%s/es.db\"}}", work_dir,
             work_dir);
    jwtauth *es = NULL;
    CHECK_STATUS(jwtauth_open_json(json, &es), OK);
    jwks = NULL;
    CHECK_STATUS(jwtauth_jwks(es, &jwks), OK);
    CHECK(jwks && strstr(jwks, "\"kty\":\"EC\"") && strstr(jwks, "\"crv\":\"P-256\"") && !strstr(jwks, "\"d\""));
    jwtauth_string_free(jwks);

    /* A token of one handle is foreign to another. */
    jwtauth_tokens *t = NULL;
    jwtauth_claims *c = NULL;
    const char *token = NULL;
    CHECK_STATUS(jwtauth_issue(es, "dave", NULL, 0, NULL, &t), OK);
    if (t && jwtauth_tokens_access_token(t, &token) == OK) {
        jwtauth_status st = jwtauth_validate(hs, token, &c);
        CHECK(st == JWTAUTH_STATUS_UNKNOWN_KID || st == JWTAUTH_STATUS_WRONG_ISSUER);
    }
    jwtauth_tokens_free(t);
    jwtauth_close(es);
}

/* ---- 8 threads validating on one handle at once ---- */

#define THREADS 8
struct worker {
    jwtauth *h;
    const char *token;
    int iterations;
    int ok;
    int own_error_seen;
};

static void *validate_loop(void *arg) {
    struct worker *w = arg;
    for (int i = 0; i < w->iterations; i++) {
        jwtauth_claims *c = NULL;
        const char *s = NULL;
        if (jwtauth_validate(w->h, w->token, &c) == JWTAUTH_STATUS_OK && jwtauth_claims_subject(c, &s) == OK &&
            strcmp(s, "erin") == 0)
            w->ok++;
        jwtauth_claims_free(c);
    }
    /* Each thread has its own last error. */
    jwtauth_claims *c = NULL;
    if (jwtauth_validate(w->h, "", &c) == JWTAUTH_STATUS_MISSING_TOKEN &&
        strstr(jwtauth_last_error(), "empty") != NULL)
        w->own_error_seen = 1;
    return NULL;
}

static void test_threads(jwtauth *h, int iterations) {
    jwtauth_tokens *t = NULL;
    const char *token = NULL;
    CHECK_STATUS(jwtauth_issue(h, "erin", NULL, 0, NULL, &t), OK);
    if (!t || jwtauth_tokens_access_token(t, &token) != OK) return;
    pthread_t ids[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.h = h, .token = token, .iterations = iterations};
        CHECK(pthread_create(&ids[i], NULL, validate_loop, &w[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(ids[i], NULL);
        CHECK(w[i].ok == iterations);
        CHECK(w[i].own_error_seen);
    }
    /* This thread's last error was untouched by the others. */
    CHECK(strcmp(jwtauth_last_error(), "") == 0);
    jwtauth_tokens_free(t);
}

/* ---- sessions through the store: login, refresh, reuse detection, logout ---- */

static char *copy_refresh(jwtauth_tokens *t) {
    const char *r = NULL;
    if (!t || jwtauth_tokens_refresh_token(t, &r) != OK) return NULL;
    return strdup(r);
}

static void test_sessions(jwtauth *h) {
    const char *roles[] = {"Admin"};
    jwtauth_tokens *login = NULL, *next = NULL, *again = NULL;
    jwtauth_claims *c = NULL;
    const char *access = NULL, *s = NULL;
    int64_t exp = 0, rexp = 0;

    CHECK_STATUS(jwtauth_session_start(h, "frank", roles, 1, "{\"tenant\":\"acme\"}", &login), OK);
    if (!login) return;
    CHECK_STATUS(jwtauth_tokens_access_token(login, &access), OK);
    CHECK_STATUS(jwtauth_tokens_access_expires_at(login, &exp), OK);
    CHECK_STATUS(jwtauth_tokens_refresh_expires_at(login, &rexp), OK);
    CHECK(rexp > exp);
    char *r1 = copy_refresh(login);
    CHECK(r1 != NULL && strlen(r1) >= 32 && strchr(r1, '.') == NULL);
    CHECK_STATUS(jwtauth_validate(h, access, &c), OK);
    jwtauth_claims_free(c);
    c = NULL;

    /* Refresh: a new pair; roles and extra claims carried over. */
    jwtauth_request req = {.client = "198.51.100.2:443", .path = "/auth/refresh"};
    CHECK_STATUS(jwtauth_refresh(h, r1, &req, &next), OK);
    char *r2 = copy_refresh(next);
    CHECK(r2 != NULL && r1 != NULL && strcmp(r1, r2) != 0);
    if (next && jwtauth_tokens_access_token(next, &access) == OK && jwtauth_validate(h, access, &c) == OK) {
        bool admin = false;
        CHECK_STATUS(jwtauth_claims_has_role(c, "Admin", &admin), OK);
        CHECK(admin);
        CHECK_STATUS(jwtauth_claims_get_str(c, "tenant", &s), OK);
        CHECK(strcmp(s, "acme") == 0);
    }
    jwtauth_claims_free(c);
    c = NULL;

    /* Reuse of the spent token: refresh_reused, and the whole session is revoked. */
    CHECK_STATUS(jwtauth_refresh(h, r1, &req, &again), JWTAUTH_STATUS_REFRESH_REUSED);
    CHECK(again == NULL);
    CHECK(strstr(jwtauth_last_error(), r1) == NULL);
    jwtauth_status st = jwtauth_refresh(h, r2, NULL, &again);
    CHECK(st == JWTAUTH_STATUS_REVOKED || st == JWTAUTH_STATUS_REFRESH_REUSED);
    CHECK(again == NULL);
    CHECK_STATUS(jwtauth_refresh(h, "not-a-refresh-token", NULL, &again), JWTAUTH_STATUS_REFRESH_INVALID);
    CHECK_STATUS(jwtauth_refresh(h, "", NULL, &again), JWTAUTH_STATUS_REFRESH_INVALID);

    /* Logout: the session's refresh token stops working; revoking twice is fine. */
    jwtauth_tokens *s2 = NULL, *after = NULL;
    CHECK_STATUS(jwtauth_session_start(h, "grace", NULL, 0, NULL, &s2), OK);
    char *r3 = copy_refresh(s2);
    bool known = false;
    CHECK_STATUS(jwtauth_revoke(h, r3, &known), OK);
    CHECK(known);
    CHECK_STATUS(jwtauth_revoke(h, r3, NULL), OK);
    CHECK_STATUS(jwtauth_revoke(h, "unknown-token", &known), OK);
    CHECK(!known);
    CHECK(jwtauth_refresh(h, r3, NULL, &after) != OK);
    CHECK(after == NULL);

    /* Logout everywhere: access tokens already issued fail with revoked. */
    jwtauth_tokens *s3 = NULL, *s4 = NULL;
    CHECK_STATUS(jwtauth_session_start(h, "heidi", NULL, 0, NULL, &s3), OK);
    CHECK_STATUS(jwtauth_session_start(h, "heidi", NULL, 0, NULL, &s4), OK);
    uint64_t n = 0;
    CHECK_STATUS(jwtauth_revoke_subject(h, "heidi", &n), OK);
    CHECK(n == 2);
    if (s3 && jwtauth_tokens_access_token(s3, &access) == OK)
        CHECK_STATUS(jwtauth_validate(h, access, &c), JWTAUTH_STATUS_REVOKED);
    char *r4 = copy_refresh(s4);
    CHECK(jwtauth_refresh(h, r4, NULL, &after) != OK);
    CHECK_STATUS(jwtauth_revoke_subject(h, "nobody", NULL), OK);

    /* NULL and bad arguments. */
    CHECK_STATUS(jwtauth_session_start(NULL, "x", NULL, 0, NULL, &after), INVALID);
    CHECK_STATUS(jwtauth_session_start(h, NULL, NULL, 0, NULL, &after), INVALID);
    CHECK_STATUS(jwtauth_session_start(h, "", NULL, 0, NULL, &after), INVALID);
    CHECK_STATUS(jwtauth_session_start(h, "x", NULL, 3, NULL, &after), INVALID);
    CHECK_STATUS(jwtauth_session_start(h, "x", NULL, 0, "{\"exp\":1}", &after), INVALID);
    CHECK_STATUS(jwtauth_session_start(h, "x", NULL, 0, NULL, NULL), INVALID);
    CHECK_STATUS(jwtauth_refresh(NULL, "t", NULL, &after), INVALID);
    CHECK_STATUS(jwtauth_refresh(h, NULL, NULL, &after), INVALID);
    CHECK_STATUS(jwtauth_refresh(h, "\xff", NULL, &after), INVALID);
    CHECK_STATUS(jwtauth_refresh(h, "t", NULL, NULL), INVALID);
    CHECK_STATUS(jwtauth_revoke(NULL, "t", NULL), INVALID);
    CHECK_STATUS(jwtauth_revoke(h, NULL, NULL), INVALID);
    CHECK_STATUS(jwtauth_revoke_subject(h, NULL, NULL), INVALID);
    CHECK_STATUS(jwtauth_revoke_subject(NULL, "x", NULL), INVALID);
    CHECK(after == NULL);

    free(r1);
    free(r2);
    free(r3);
    free(r4);
    jwtauth_tokens_free(login);
    jwtauth_tokens_free(next);
    jwtauth_tokens_free(s2);
    jwtauth_tokens_free(s3);
    jwtauth_tokens_free(s4);
}

/* The kid of a token issued now (a copy, to free), or NULL. */
static char *kid_of_new_token(jwtauth *h) {
    jwtauth_tokens *t = NULL;
    const char *kid = NULL;
    char *copy = NULL;
    if (jwtauth_issue(h, "ivan", NULL, 0, NULL, &t) == OK && jwtauth_tokens_kid(t, &kid) == OK) copy = strdup(kid);
    jwtauth_tokens_free(t);
    return copy;
}

/* Whether the JWKS of h lists kid. */
static int jwks_has(jwtauth *h, const char *kid) {
    char *jwks = NULL;
    char quoted[256];
    snprintf(quoted, sizeof quoted, "\"kid\":\"%s\"", kid);
    int found = jwtauth_jwks(h, &jwks) == OK && strstr(jwks, quoted) != NULL;
    jwtauth_string_free(jwks);
    return found;
}

/* The access token of t validates on h. */
static int validates(jwtauth *h, const jwtauth_tokens *t) {
    const char *token = NULL;
    jwtauth_claims *c = NULL;
    int ok = jwtauth_tokens_access_token(t, &token) == OK && jwtauth_validate(h, token, &c) == OK;
    jwtauth_claims_free(c);
    return ok;
}

/* The default key_publish_ahead (10 minutes): a rotated key is published, the
 * current key keeps signing. An emergency rotation signs at once and replaces the
 * key still waiting. */
static void test_rotate_key(jwtauth *h) {
    jwtauth_tokens *before = NULL, *after = NULL;
    char *kid = NULL, *now_kid = NULL;
    char *kid_before = kid_of_new_token(h);
    CHECK_STATUS(jwtauth_issue(h, "ivan", NULL, 0, NULL, &before), OK);
    CHECK_STATUS(jwtauth_rotate_key(h, "ES256", &kid), OK);
    CHECK(kid != NULL && kid_before != NULL);
    if (kid && kid_before) {
        CHECK(strcmp(kid_before, kid) != 0);
        CHECK(jwks_has(h, kid));
        char *kid_after = kid_of_new_token(h);
        CHECK(kid_after && strcmp(kid_after, kid_before) == 0);
        free(kid_after);
    }
    CHECK(before && validates(h, before));

    CHECK_STATUS(jwtauth_rotate_key_now(h, "ES256", &now_kid), OK);
    CHECK_STATUS(jwtauth_issue(h, "ivan", NULL, 0, NULL, &after), OK);
    if (now_kid && kid && after) {
        const char *kid_after = NULL;
        CHECK_STATUS(jwtauth_tokens_kid(after, &kid_after), OK);
        CHECK(strcmp(kid_after, now_kid) == 0 && strcmp(now_kid, kid) != 0);
        /* Tokens of the previous key still validate; new ones carry the new kid. */
        CHECK(validates(h, before) && validates(h, after));
        CHECK(jwks_has(h, now_kid));
        /* The key that was waiting to sign is gone. */
        CHECK(!jwks_has(h, kid));
    }
    char *other = (char *)"unchanged";
    CHECK_STATUS(jwtauth_rotate_key(h, "none", &other), INVALID);
    CHECK_STATUS(jwtauth_rotate_key(h, "es256", &other), INVALID);
    CHECK_STATUS(jwtauth_rotate_key(h, NULL, NULL), INVALID);
    CHECK_STATUS(jwtauth_rotate_key(NULL, NULL, &other), INVALID);
    CHECK_STATUS(jwtauth_rotate_key_now(h, "none", &other), INVALID);
    CHECK_STATUS(jwtauth_rotate_key_now(h, "HS256", &other), INVALID);
    CHECK(strstr(jwtauth_last_error(), "hs_secret") != NULL);
    CHECK_STATUS(jwtauth_rotate_key_now(h, NULL, NULL), INVALID);
    CHECK_STATUS(jwtauth_rotate_key_now(NULL, NULL, &other), INVALID);
    CHECK(strcmp(other, "unchanged") == 0);
    jwtauth_string_free(kid);
    jwtauth_string_free(now_kid);
    free(kid_before);
    jwtauth_tokens_free(before);
    jwtauth_tokens_free(after);
}

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The smallest key_publish_ahead the configuration takes (twice
 * revocation_staleness): the rotated key is published at once, signs only from
 * its activation second, and then without any reload. */
static void test_rotated_key_signs_after_key_publish_ahead(void) {
    char json[2048];
    snprintf(json, sizeof json,
             "{\"key_publish_ahead\":\"2s\",\"revocation_staleness\":\"1s\","
             "\"store\":{\"url\":\"sqlite://%s/ahead.db\"}}",
             work_dir);
    jwtauth *h = NULL;
    CHECK_STATUS(jwtauth_open_json(json, &h), OK);
    if (!h) return;
    jwtauth_tokens *old = NULL, *fresh = NULL;
    char *kid = NULL;
    char *old_kid = kid_of_new_token(h);
    CHECK_STATUS(jwtauth_issue(h, "ivan", NULL, 0, NULL, &old), OK);
    double rotated_at = seconds_now();
    CHECK_STATUS(jwtauth_rotate_key(h, NULL, &kid), OK);
    char *signer = kid_of_new_token(h);
    CHECK(kid && old_kid && signer && strcmp(signer, old_kid) == 0 && strcmp(kid, old_kid) != 0);
    CHECK(kid && jwks_has(h, kid) && jwks_has(h, old_kid));
    /* Poll until the new key signs (2 s after the second of the rotation). */
    while (kid && signer && strcmp(signer, kid) != 0 && seconds_now() - rotated_at < 6.0) {
        free(signer);
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
        signer = kid_of_new_token(h);
    }
    double waited = seconds_now() - rotated_at;
    CHECK(kid && signer && strcmp(signer, kid) == 0);
    /* Activation is the rotation's whole second + 2: more than 1 s after the call. */
    CHECK(waited > 1.0);
    CHECK_STATUS(jwtauth_issue(h, "ivan", NULL, 0, NULL, &fresh), OK);
    CHECK(fresh && validates(h, fresh) && old && validates(h, old));
    CHECK(kid && jwks_has(h, kid) && jwks_has(h, old_kid));
    free(signer);
    free(old_kid);
    jwtauth_string_free(kid);
    jwtauth_tokens_free(old);
    jwtauth_tokens_free(fresh);
    jwtauth_close(h);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s DATA_FILE WORK_DIR [ITERATIONS]\n", argv[0]);
        return 2;
    }
    int iterations = argc > 3 ? atoi(argv[3]) : 2000;
    snprintf(work_dir, sizeof work_dir, "%s", argv[2]);
    /* The token table's valid token lives until 2100: accept lifetimes that long. */
    snprintf(config_json, sizeof config_json,
             "{\"algorithm\":\"HS256\",\"hs_secret\":\"%s\",\"issuer\":\"https://auth.test\",\"audience\":\"c-api\","
             "\"max_access_ttl\":\"100y\","
             "\"log\":{\"dir\":\"%s/logs\"},\"store\":{\"url\":\"sqlite://%s/hs.db\"}}",
             SECRET, work_dir, work_dir);

    test_static_functions();
    test_open_errors();
    jwtauth *h = open_hs256();
    if (h) {
        test_issue_and_claims(h);
        test_issue_errors(h);
        test_validation_failures(h, argv[1]);
        test_hostile_tokens(h);
        test_validate_bytes(h);
        test_validate_utf16(h);
        test_validate_header(h);
        test_jwks(h);
        test_threads(h, iterations);
        test_sessions(h);
        test_rotate_key(h);
        jwtauth_close(h);
    }
    test_rotated_key_signs_after_key_publish_ahead();
    printf("c_api: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
