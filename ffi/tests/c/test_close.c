/*
 * jwtauth_close while other threads use the handle, calls after it, and closing
 * twice. Run by ffi/tests/c_api.rs as: test_close WORK_DIR [ITERATIONS]. Checks:
 *  - 4 threads validate in a loop (ITERATIONS at most, stopping soon after the
 *    close) while the main thread closes: each call returns
 *    OK or CLOSED, never anything else, and once a thread saw CLOSED it never sees
 *    OK again;
 *  - every function of the handle returns CLOSED afterwards (its _ex twin too,
 *    with the error's reason "closed"), out-parameters untouched;
 *  - claims obtained before the close stay valid;
 *  - closing again, from one thread or from several at once, returns cleanly.
 * Under valgrind (the runner's valgrind test) no read may touch freed memory.
 * Prints one line per failed check, then "c_close: N passed, M failed".
 */
#include "check.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OK JWTAUTH_STATUS_OK
#define CLOSED JWTAUTH_STATUS_CLOSED
#define THREADS 4

static jwtauth *shared;
static const char *token;
static int iterations;
static atomic_int started; /* threads that have validated at least once */

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Validates until some calls after the close have been refused (bounded). */
static void *validate_in_a_loop(void *arg) {
    (void)arg;
    int closed_seen = 0, other = 0, ok_after_closed = 0, bad_error = 0;
    for (int i = 0; i < iterations && closed_seen < 20; i++) {
        jwtauth_claims *c = NULL;
        jwtauth_error *err = NULL;
        jwtauth_status st = (i % 2) ? jwtauth_validate(shared, token, &c) : jwtauth_validate_ex(shared, token, &c, &err);
        if (st == OK) {
            if (closed_seen) ok_after_closed++;
            if (i == 0) atomic_fetch_add(&started, 1);
        } else if (st == CLOSED) {
            closed_seen++;
            if ((i % 2) == 0 && (!err || jwtauth_error_status(err) != CLOSED ||
                                 strcmp(jwtauth_error_reason(err), "closed") != 0 ||
                                 !strstr(jwtauth_error_hint(err), "jwtauth_close")))
                bad_error++;
        } else {
            other++;
        }
        jwtauth_claims_free(c);
        jwtauth_error_free(err);
    }
    CHECK(other == 0);
    CHECK(ok_after_closed == 0);
    CHECK(bad_error == 0);
    CHECK(closed_seen > 0);
    return NULL;
}

static void *close_it(void *arg) {
    jwtauth_close((jwtauth *)arg);
    return NULL;
}

static void every_call_is_refused(jwtauth *h, jwtauth_claims *kept) {
    jwtauth_tokens *t = (jwtauth_tokens *)&passed; /* never written: must stay unchanged */
    jwtauth_claims *c = (jwtauth_claims *)&passed;
    char *s = (char *)"unchanged";
    const char *roles[] = {"reader"};
    bool known = false;
    uint64_t n = 7;

    CHECK(jwtauth_validate(h, token, &c) == CLOSED);
    CHECK(strstr(jwtauth_last_error(), "closed") != NULL);
    CHECK(jwtauth_validate_header(h, "Bearer x", NULL, &c) == CLOSED);
    CHECK(jwtauth_issue(h, "alice", roles, 1, NULL, &t) == CLOSED);
    CHECK(jwtauth_require_role(h, kept, "reader", NULL) == CLOSED);
    CHECK(jwtauth_jwks(h, &s) == CLOSED);
    CHECK(jwtauth_session_start(h, "alice", NULL, 0, NULL, &t) == CLOSED);
    CHECK(jwtauth_refresh(h, "r", NULL, &t) == CLOSED);
    CHECK(jwtauth_revoke(h, "r", &known) == CLOSED);
    CHECK(jwtauth_revoke_subject(h, "alice", &n) == CLOSED);
    CHECK(jwtauth_rotate_key(h, NULL, &s) == CLOSED);
    CHECK(jwtauth_reopen(h) == CLOSED);
    CHECK(t == (jwtauth_tokens *)&passed && c == (jwtauth_claims *)&passed);
    CHECK(strcmp(s, "unchanged") == 0 && !known && n == 7);

    jwtauth_error *err = NULL;
    CHECK(jwtauth_issue_ex(h, "alice", NULL, 0, NULL, &t, &err) == CLOSED);
    CHECK(err && jwtauth_error_status(err) == CLOSED && strcmp(jwtauth_error_reason(err), "closed") == 0);
    jwtauth_error_free(err);
    CHECK(jwtauth_reopen_ex(h, &err) == CLOSED && err != NULL);
    jwtauth_error_free(err);
    /* A NULL handle is still an argument error, not a closed one. */
    CHECK(jwtauth_reopen(NULL) == JWTAUTH_STATUS_INVALID_ARGUMENT);

    /* What the handle handed out before is the caller's, and still good. */
    const char *sub = NULL;
    CHECK(jwtauth_claims_subject(kept, &sub) == OK && strcmp(sub, "alice") == 0);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s WORK_DIR [ITERATIONS]\n", argv[0]);
        return 2;
    }
    iterations = argc > 2 ? atoi(argv[2]) : 100000;
    CHECK(JWTAUTH_STATUS_CLOSED == 106 && strcmp(jwtauth_status_str(CLOSED), "closed") == 0);
    char json[2048];
    snprintf(json, sizeof json,
             "{\"algorithm\":\"HS256\",\"hs_secret\":\"c-close-test-secret-0123456789abcdef\","
             "\"allow_unsealed_keys\":true,\"store\":{\"url\":\"sqlite://%s/close.db\"}}",
             argv[1]);
    CHECK(jwtauth_open_json(json, &shared) == OK);
    if (!shared) goto done;
    const char *roles[] = {"reader"};
    jwtauth_tokens *t = NULL;
    jwtauth_claims *kept = NULL;
    CHECK(jwtauth_issue(shared, "alice", roles, 1, NULL, &t) == OK);
    if (!t || jwtauth_tokens_access_token(t, &token) != OK) goto done;
    CHECK(jwtauth_validate(shared, token, &kept) == OK);

    /* Close while 4 threads validate. */
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, validate_in_a_loop, NULL);
    /* Close while every thread is in its loop (bounded wait). */
    for (int i = 0; i < 6000 && atomic_load(&started) < THREADS; i++) sleep_ms(5);
    CHECK(atomic_load(&started) == THREADS);
    jwtauth_close(shared);
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);

    every_call_is_refused(shared, kept);
    jwtauth_close(shared); /* twice: nothing happens */
    jwtauth_close(shared);

    /* Closed from several threads at once: one of them closes it, the others find it closed. */
    jwtauth *h = NULL;
    CHECK(jwtauth_open_json(json, &h) == OK);
    if (h) {
        pthread_t closers[THREADS];
        for (int i = 0; i < THREADS; i++) pthread_create(&closers[i], NULL, close_it, h);
        for (int i = 0; i < THREADS; i++) pthread_join(closers[i], NULL);
        jwtauth_claims *c = NULL;
        CHECK(jwtauth_validate(h, token, &c) == CLOSED && c == NULL);
    }
    jwtauth_claims_free(kept);
    jwtauth_tokens_free(t);
done:
    printf("c_close: %d passed, %d failed\n", atomic_load(&passed), atomic_load(&failed));
    return atomic_load(&failed) == 0 ? 0 : 1;
}
