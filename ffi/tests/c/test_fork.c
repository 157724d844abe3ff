/*
 * A handle across fork(), as pre-fork servers use one (gunicorn --preload, uWSGI,
 * Apache prefork): the parent opens it, forks, and the child keeps using it.
 * Run by ffi/tests/c_api.rs as: test_fork WORK_DIR (a store and logs/ go there).
 * Checks:
 *  - the child validates a token issued before the fork;
 *  - after the parent revokes the subject, the child refuses the token within
 *    revocation_staleness (the child keeps its revocations fresh);
 *  - after the parent rotates the key, the child accepts a token of the new key;
 *  - a session the child starts is in the store: the parent refreshes it;
 *  - a grandchild refuses the revoked token at once; another closes the handle it
 *    inherited without using it, and exits promptly;
 *  - the child's failures reach the failure log (the runner reads it);
 *  - closing in the child returns, and the parent's handle works throughout.
 * Each process prints "c_fork <who>: N passed, M failed"; the parent fails when a
 * descendant does.
 */
#include "check.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OK JWTAUTH_STATUS_OK
/* A hung process fails the test instead of hanging it (valgrind is slow: generous). */
#define DEADLINE_SECONDS 240

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static int finish(void) {
    printf("c_fork %s: %d passed, %d failed\n", check_who, atomic_load(&passed), atomic_load(&failed));
    fflush(stdout);
    return atomic_load(&failed) == 0 ? 0 : 1;
}

/* One line through a pipe: the text, then '\n'. */
static void send_line(int fd, const char *text) {
    size_t len = strlen(text);
    CHECK(write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1);
}

static void recv_line(int fd, char *buf, size_t size) {
    size_t n = 0;
    char c;
    while (n + 1 < size && read(fd, &c, 1) == 1 && c != '\n') buf[n++] = c;
    buf[n] = '\0';
    CHECK(n > 0);
}

static char *issue(jwtauth *h, const char *subject) {
    jwtauth_tokens *t = NULL;
    const char *access = NULL;
    char *copy = NULL;
    CHECK(jwtauth_issue(h, subject, NULL, 0, NULL, &t) == OK);
    if (t && jwtauth_tokens_access_token(t, &access) == OK) copy = strdup(access);
    jwtauth_tokens_free(t);
    return copy;
}

static jwtauth_status validate(jwtauth *h, const char *token, const char *request_id) {
    jwtauth_request req = {.client = "203.0.113.9:4000", .request_id = request_id};
    char header[4096];
    snprintf(header, sizeof header, "Bearer %s", token);
    jwtauth_claims *c = NULL;
    jwtauth_status st = jwtauth_validate_header(h, header, &req, &c);
    jwtauth_claims_free(c);
    return st;
}

/* Waits for a child; true when it exited 0. */
static int reaped_clean(pid_t pid) {
    int status = 0;
    return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A grandchild: `use` it validates the revoked token (refused at once: its fresh
 * runtime loads the revocations when it opens), or closes the handle it inherited
 * without a single call, which must not wait for its parent's threads. */
static pid_t grandchild(jwtauth *h, const char *revoked, int use) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid != 0) return pid;
    alarm(DEADLINE_SECONDS);
    atomic_store(&passed, 0);
    atomic_store(&failed, 0);
    check_who = use ? "grandchild-use" : "grandchild-close";
    if (use) CHECK(validate(h, revoked, "fork-grandchild") == JWTAUTH_STATUS_REVOKED);
    jwtauth_close(h);
    exit(finish());
}

static void child(jwtauth *h, const char *carol, int from_parent, int to_parent) {
    alarm(DEADLINE_SECONDS);
    atomic_store(&passed, 0);
    atomic_store(&failed, 0);
    check_who = "child";
    /* The token issued before the fork is good here too. */
    CHECK(validate(h, carol, "fork-child") == OK);
    CHECK(jwtauth_reopen(h) == OK); /* ready already: nothing to do */
    send_line(to_parent, "ready");

    /* The parent revoked carol: refused here within revocation_staleness (1 s). */
    char line[8192];
    recv_line(from_parent, line, sizeof line);
    CHECK(strcmp(line, "revoked") == 0);
    jwtauth_status st = OK;
    for (int i = 0; i < 400 && st == OK; i++) {
        st = validate(h, carol, "fork-child");
        if (st == OK) sleep_ms(100);
    }
    CHECK(st == JWTAUTH_STATUS_REVOKED);

    /* The parent rotated the key: a token of the new key is good here. */
    recv_line(from_parent, line, sizeof line);
    CHECK(validate(h, line, "fork-child") == OK);

    /* A session started here is in the store the parent reads. */
    jwtauth_tokens *login = NULL;
    const char *refresh = NULL;
    CHECK(jwtauth_session_start(h, "dave", NULL, 0, NULL, &login) == OK);
    CHECK(login && jwtauth_tokens_refresh_token(login, &refresh) == OK);
    send_line(to_parent, refresh ? refresh : "none");
    jwtauth_tokens_free(login);

    pid_t use = grandchild(h, carol, 1);
    pid_t close_only = grandchild(h, carol, 0);
    CHECK(reaped_clean(use));
    CHECK(reaped_clean(close_only));

    jwtauth_close(h);
    CHECK(validate(h, carol, "fork-child") == JWTAUTH_STATUS_CLOSED);
    exit(finish());
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s WORK_DIR\n", argv[0]);
        return 2;
    }
    check_who = "parent";
    char json[4096];
    snprintf(json, sizeof json,
             "{\"issuer\":\"https://auth.test\",\"audience\":\"c-fork\",\"revocation_staleness\":\"1s\","
             "\"log\":{\"dir\":\"%s/logs\"},\"store\":{\"url\":\"sqlite://%s/fork.db\"}}",
             argv[1], argv[1]);
    jwtauth *h = NULL;
    CHECK(jwtauth_open_json(json, &h) == OK);
    if (!h) return finish();
    char *carol = issue(h, "carol");
    CHECK(carol != NULL);
    if (!carol) return finish();

    int down[2], up[2]; /* parent -> child, child -> parent */
    CHECK(pipe(down) == 0 && pipe(up) == 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        child(h, carol, down[0], up[1]);
    }
    close(down[0]);
    close(up[1]);

    char line[8192];
    recv_line(up[0], line, sizeof line);
    CHECK(strcmp(line, "ready") == 0);
    CHECK(validate(h, carol, "fork-parent") == OK);
    uint64_t revoked = 0;
    CHECK(jwtauth_revoke_subject(h, "carol", &revoked) == OK);
    CHECK(validate(h, carol, "fork-parent") == JWTAUTH_STATUS_REVOKED);
    send_line(down[1], "revoked");

    char *kid = NULL;
    CHECK(jwtauth_rotate_key(h, NULL, &kid) == OK);
    jwtauth_string_free(kid);
    char *erin = issue(h, "erin");
    send_line(down[1], erin ? erin : "none");

    recv_line(up[0], line, sizeof line);
    jwtauth_tokens *next = NULL;
    CHECK(jwtauth_refresh(h, line, NULL, &next) == OK);
    jwtauth_tokens_free(next);

    CHECK(reaped_clean(pid));
    CHECK(erin && validate(h, erin, "fork-parent") == OK);
    jwtauth_close(h);
    free(carol);
    free(erin);
    return finish();
}
