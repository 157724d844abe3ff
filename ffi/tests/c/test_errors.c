/*
 * Per-call error details, the event callback and the library as a guest.
 * Run by ffi/tests/c_api.rs as: test_errors WORK_DIR [ITERATIONS], with WORK_DIR as
 * its working directory and no log.dir configured. Checks:
 *  - 8 threads x ITERATIONS failing calls: each jwtauth_error belongs to its call
 *    (its own reason and its own role name in the hint);
 *  - the _ex functions leave jwtauth_last_error alone;
 *  - every failure reaches the event callback once, as failure-log JSON, on the
 *    thread of the call; warnings arrive as well; unregistering stops delivery;
 *  - "" is NULL for optional strings;
 *  - no ./logs is created (the process's stderr is checked by the runner).
 * Prints one line per failed check, then "c_errors: N passed, M failed".
 */
#include "check.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define OK JWTAUTH_STATUS_OK
#define THREADS 8

/* ---- the event callback ---- */

static atomic_long failure_events, warning_events, foreign_events, bad_json;
static atomic_int unencrypted_warning_seen, nested_set_refused;
static _Thread_local char this_thread_subject[32];

static void on_event(void *user_data, jwtauth_event_kind kind, const char *json, size_t len) {
    if (user_data != (void *)&failure_events || strlen(json) != len || json[0] != '{' || json[len - 1] != '}')
        atomic_fetch_add(&bad_json, 1);
    if (kind == JWTAUTH_EVENT_KIND_FAILURE) {
        atomic_fetch_add(&failure_events, 1);
        if (!strstr(json, "\"reason\":\"") || !strstr(json, "\"time\":\"")) atomic_fetch_add(&bad_json, 1);
        /* Called on the thread of the failing call: its subject is this thread's. */
        if (this_thread_subject[0] && strstr(json, "\"subject\":\"") && !strstr(json, this_thread_subject))
            atomic_fetch_add(&foreign_events, 1);
    } else if (kind == JWTAUTH_EVENT_KIND_WARNING) {
        atomic_fetch_add(&warning_events, 1);
        if (strstr(json, "UNENCRYPTED") && strstr(json, "\"level\":\"WARN\"")) atomic_store(&unencrypted_warning_seen, 1);
        if (jwtauth_set_event_callback(NULL, NULL) == JWTAUTH_STATUS_INVALID_ARGUMENT) atomic_store(&nested_set_refused, 1);
    }
}

/* ---- 8 threads x N failing calls ---- */

struct worker {
    jwtauth *h;
    int id, iterations;
    int wrong; /* calls whose error details were not their own */
    int last_error_touched;
};

static int matches(jwtauth_error *err, jwtauth_status want, const char *reason, const char *in_hint) {
    return err != NULL && jwtauth_error_status(err) == want && strcmp(jwtauth_error_reason(err), reason) == 0 &&
           (in_hint == NULL || strstr(jwtauth_error_hint(err), in_hint) != NULL);
}

static void *fail_loop(void *arg) {
    struct worker *w = arg;
    snprintf(this_thread_subject, sizeof this_thread_subject, "\"subject\":\"t%d\"", w->id);
    char subject[16];
    snprintf(subject, sizeof subject, "t%d", w->id);
    jwtauth_tokens *t = NULL;
    jwtauth_claims *claims = NULL;
    const char *token = NULL;
    jwtauth_error *err = NULL;
    if (jwtauth_issue_ex(w->h, subject, NULL, 0, NULL, &t, &err) != OK || err != NULL ||
        jwtauth_tokens_access_token(t, &token) != OK ||
        jwtauth_validate_ex(w->h, token, &claims, &err) != OK || err != NULL) {
        w->wrong = w->iterations;
        return NULL;
    }
    for (int i = 0; i < w->iterations; i++) {
        err = (jwtauth_error *)&err; /* garbage: must be overwritten */
        char role[48];
        jwtauth_status s;
        switch ((i + w->id) % 3) {
            case 0: /* a hint unique to this call */
                snprintf(role, sizeof role, "role-%d-%d", w->id, i);
                s = jwtauth_require_role_ex(w->h, claims, role, NULL, &err);
                if (s != JWTAUTH_STATUS_INSUFFICIENT_ROLE ||
                    !matches(err, JWTAUTH_STATUS_INSUFFICIENT_ROLE, "insufficient_role", role))
                    w->wrong++;
                break;
            case 1: {
                jwtauth_claims *c = NULL;
                s = jwtauth_validate_ex(w->h, "not-a-token", &c, &err);
                if (s != JWTAUTH_STATUS_MALFORMED || c != NULL || !matches(err, s, "malformed", NULL)) w->wrong++;
                break;
            }
            default: {
                jwtauth_claims *c = NULL;
                s = jwtauth_validate_header_ex(w->h, "Basic dXNlcjpwYXNz", NULL, &c, &err);
                if (s != JWTAUTH_STATUS_BAD_SCHEME || c != NULL || !matches(err, s, "bad_scheme", NULL)) w->wrong++;
                break;
            }
        }
        jwtauth_error_free(err);
        if (jwtauth_last_error()[0] != '\0') w->last_error_touched = 1;
    }
    jwtauth_claims_free(claims);
    jwtauth_tokens_free(t);
    return NULL;
}

static void test_error_details_under_threads(jwtauth *h, int iterations) {
    pthread_t ids[THREADS];
    struct worker w[THREADS];
    long before = atomic_load(&failure_events);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.h = h, .id = i, .iterations = iterations};
        CHECK(pthread_create(&ids[i], NULL, fail_loop, &w[i]) == 0);
    }
    int wrong = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(ids[i], NULL);
        wrong += w[i].wrong;
        CHECK(w[i].last_error_touched == 0);
    }
    printf("%d threads x %d failing calls: %d with details not their own\n", THREADS, iterations, wrong);
    CHECK(wrong == 0);
    /* One event per failing call, each on its own thread. */
    CHECK(atomic_load(&failure_events) - before == (long)THREADS * iterations);
    CHECK(atomic_load(&foreign_events) == 0);
}

static void test_ex_contract(jwtauth *h) {
    jwtauth_error *err = NULL;
    jwtauth_claims *c = NULL;
    /* NULL err: the status alone. */
    CHECK(jwtauth_validate_ex(h, "x", &c, NULL) == JWTAUTH_STATUS_MALFORMED);
    CHECK(jwtauth_validate_ex(NULL, "x", &c, &err) == JWTAUTH_STATUS_INVALID_ARGUMENT);
    CHECK(matches(err, JWTAUTH_STATUS_INVALID_ARGUMENT, "invalid_argument", "handle"));
    jwtauth_error_free(err);
    CHECK(jwtauth_open_json_ex("{\"no_such_key\":1}", NULL, &err) == JWTAUTH_STATUS_INVALID_ARGUMENT);
    jwtauth_error_free(err);
    jwtauth *other = NULL;
    CHECK(jwtauth_open_json_ex("{\"no_such_key\":1}", &other, &err) == JWTAUTH_STATUS_CONFIG);
    CHECK(matches(err, JWTAUTH_STATUS_CONFIG, "config", "no_such_key") && other == NULL);
    jwtauth_error_free(err);
    /* Accessors of a NULL error are safe. */
    CHECK(jwtauth_error_status(NULL) == JWTAUTH_STATUS_INVALID_ARGUMENT);
    CHECK(strcmp(jwtauth_error_hint(NULL), "") == 0);
    jwtauth_error_free(NULL);
    /* The functions without _ex still fill the thread's slot. */
    CHECK(jwtauth_validate(h, "x", &c) == JWTAUTH_STATUS_MALFORMED && jwtauth_last_error()[0] != '\0');
}

static const char *work_dir;

static void test_empty_is_null(jwtauth *h) {
    jwtauth_error *err = NULL;
    jwtauth_tokens *t = NULL;
    jwtauth_claims *c = NULL;
    char *kid = NULL;
    CHECK(jwtauth_issue_ex(h, "dora", NULL, 0, "", &t, &err) == OK && err == NULL);
    jwtauth_tokens_free(t);
    CHECK(jwtauth_validate_header_ex(h, "", NULL, &c, &err) == JWTAUTH_STATUS_MISSING_TOKEN);
    jwtauth_error_free(err);
    jwtauth_request req = {.client = "", .method = "", .path = "", .user_agent = "", .request_id = ""};
    CHECK(jwtauth_validate_header_ex(h, "Bearer x", &req, &c, &err) == JWTAUTH_STATUS_MALFORMED);
    jwtauth_error_free(err);
    /* "" is the configured algorithm, as NULL is: same answer from both. */
    jwtauth_error *err_null = NULL;
    jwtauth_status with_null = jwtauth_rotate_key_ex(h, NULL, &kid, &err_null);
    jwtauth_status with_empty = jwtauth_rotate_key_ex(h, "", &kid, &err);
    CHECK(with_null == with_empty && strcmp(jwtauth_error_hint(err_null), jwtauth_error_hint(err)) == 0);
    jwtauth_error_free(err);
    /* The emergency rotation reads its arguments the same way. */
    CHECK(jwtauth_rotate_key_now_ex(h, "", &kid, &err) == with_null);
    CHECK(err && strcmp(jwtauth_error_hint(err_null), jwtauth_error_hint(err)) == 0);
    jwtauth_error_free(err_null);
    jwtauth_error_free(err);
    /* And on a handle whose configured algorithm can rotate, "" rotates. */
    char json[1024];
    snprintf(json, sizeof json, "{\"store\":{\"url\":\"sqlite://%s/errors.db.es.db\"}}", work_dir);
    jwtauth *es = NULL;
    CHECK(jwtauth_open_json_ex(json, &es, &err) == OK);
    CHECK(jwtauth_rotate_key_ex(es, "", &kid, &err) == OK && kid != NULL && err == NULL);
    jwtauth_string_free(kid);
    kid = NULL;
    CHECK(jwtauth_rotate_key_now_ex(es, "", &kid, &err) == OK && kid != NULL && err == NULL);
    jwtauth_close(es);
    jwtauth_string_free(kid);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s WORK_DIR [ITERATIONS]\n", argv[0]);
        return 2;
    }
    int iterations = argc > 2 ? atoi(argv[2]) : 10000;
    work_dir = argv[1];
    CHECK(jwtauth_set_event_callback(on_event, &failure_events) == OK);
    char json[2048];
    snprintf(json, sizeof json,
             /* Keys in the clear, spelled out: the warning about them is an event. */
             "{\"algorithm\":\"HS256\",\"hs_secret\":\"c-errors-test-secret-0123456789abcdef\","
             "\"allow_unsealed_keys\":true,\"store\":{\"url\":\"sqlite://%s/errors.db\"}}",
             argv[1]);
    jwtauth *h = NULL;
    jwtauth_error *err = NULL;
    CHECK(jwtauth_open_json_ex(json, &h, &err) == OK && err == NULL);
    if (h) {
        CHECK(atomic_load(&unencrypted_warning_seen) == 1);
        CHECK(atomic_load(&nested_set_refused) == 1);
        test_ex_contract(h);
        test_empty_is_null(h);
        test_error_details_under_threads(h, iterations);
        /* Unregistered: no further call. */
        CHECK(jwtauth_set_event_callback(NULL, NULL) == OK);
        long seen = atomic_load(&failure_events);
        jwtauth_claims *c = NULL;
        CHECK(jwtauth_validate_ex(h, "x", &c, NULL) == JWTAUTH_STATUS_MALFORMED);
        CHECK(atomic_load(&failure_events) == seen);
        jwtauth_close(h);
    }
    CHECK(atomic_load(&bad_json) == 0);
    CHECK(atomic_load(&warning_events) >= 1);
    /* A guest: no log directory in the working directory. */
    struct stat st;
    CHECK(stat("logs", &st) != 0);
    printf("c_errors: %d passed, %d failed\n", atomic_load(&passed), atomic_load(&failed));
    return atomic_load(&failed) == 0 ? 0 : 1;
}
