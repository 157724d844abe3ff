/*
 * CHECK for the C tests that run threads or processes (test_errors.c,
 * test_close.c, test_fork.c): counts the checks that pass and fail (atomics: any
 * thread may check) and prints each failure with its place, `check_who` (which
 * process, when there are several) and the thread's last error.
 */
#ifndef JWTAUTH_TEST_CHECK_H
#define JWTAUTH_TEST_CHECK_H

#include "jwtauth.h"

#include <stdatomic.h>
#include <stdio.h>

static atomic_int passed, failed;
static const char *check_who = "";

#define CHECK(cond)                                                                             \
    do {                                                                                        \
        if (cond) {                                                                             \
            atomic_fetch_add(&passed, 1);                                                       \
        } else {                                                                                \
            atomic_fetch_add(&failed, 1);                                                       \
            fprintf(stderr, "FAIL %s %s:%d: %s (last error: %s)\n", check_who, __FILE__, __LINE__, \
                    #cond, jwtauth_last_error());                                               \
        }                                                                                       \
    } while (0)

#endif
