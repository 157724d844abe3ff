/*
 * Validation through the C API: ns per jwtauth_validate + jwtauth_claims_free, for an
 * HS256 and an ES256 token; best of 7 rounds. The Rust twin is ffi/benches/validate_core.rs
 * (same configuration, same loop, same clock: this thread's CPU time, so other load on
 * the machine disturbs the figures less). Run both with scripts/bench-ffi.sh.
 *   bench_validate WORK_DIR [ITERATIONS]
 */
#include <jwtauth.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int bench(const char *name, const char *config, long iterations) {
    jwtauth *h = NULL;
    jwtauth_tokens *t = NULL;
    const char *token = NULL;
    if (jwtauth_open_json(config, &h) != JWTAUTH_STATUS_OK ||
        jwtauth_issue(h, "alice", (const char *[]){"Admin"}, 1, NULL, &t) != JWTAUTH_STATUS_OK ||
        jwtauth_tokens_access_token(t, &token) != JWTAUTH_STATUS_OK) {
        fprintf(stderr, "%s: setup failed: %s\n", name, jwtauth_last_error());
        return 1;
    }
    double best = 1e300;
    for (int round = 0; round < 7; round++) {
        double start = now_ns();
        for (long i = 0; i < iterations; i++) {
            jwtauth_claims *c = NULL;
            if (jwtauth_validate(h, token, &c) != JWTAUTH_STATUS_OK) {
                fprintf(stderr, "%s: validation failed: %s\n", name, jwtauth_last_error());
                return 1;
            }
            jwtauth_claims_free(c);
        }
        double per = (now_ns() - start) / (double)iterations;
        if (per < best) best = per;
    }
    printf("c_api %s validate: %.0f ns/op\n", name, best);
    jwtauth_tokens_free(t);
    jwtauth_close(h);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s WORK_DIR [ITERATIONS]\n", argv[0]);
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 20000;
    char hs[2048], es[2048];
    snprintf(hs, sizeof hs,
             "{\"validation_cache\":0,\"algorithm\":\"HS256\",\"hs_secret\":\"bench-secret-0123456789abcdef-0123456789\","
             "\"log\":{\"dir\":\"%s/logs\"},\"store\":{\"url\":\"sqlite://%s/hs.db\"}}",
             argv[1], argv[1]);
    snprintf(es, sizeof es,
             "{\"validation_cache\":0,\"algorithm\":\"ES256\",\"log\":{\"dir\":\"%s/logs\"},\"store\":{\"url\":\"sqlite://%s/es.db\"}}",
             argv[1], argv[1]);
    return bench("HS256", hs, n * 10) || bench("ES256", es, n);
}
