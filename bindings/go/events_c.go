package jwtauth

// The C side of SetEventHandler (apart from events.go: a file with //export may
// hold only declarations in its preamble).

/*
#include <stdbool.h>
#include "jwtauth.h"

extern void jwtauthGoEvent(void *user_data, jwtauth_event_kind kind, char *json, size_t len);

static void jwtauth_go_event_trampoline(void *user_data, jwtauth_event_kind kind, const char *json, size_t len) {
	jwtauthGoEvent(user_data, kind, (char *)json, len);
}

static jwtauth_status jwtauth_set_go_event_callback(bool on) {
	return jwtauth_set_event_callback(on ? jwtauth_go_event_trampoline : NULL, NULL);
}
*/
import "C"

// setGoEventCallback registers (on) or removes the trampoline into jwtauthGoEvent.
func setGoEventCallback(on bool) C.jwtauth_status {
	return C.jwtauth_set_go_event_callback(C.bool(on))
}
