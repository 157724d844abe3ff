package jwtauth

// #include "jwtauth.h"
import "C"

import (
	"sync"
	"unsafe"
)

// EventKind says what an event handed to the handler is.
type EventKind int

const (
	// EventFailure is an authentication failure: the JSON is a line of the failure log.
	EventFailure EventKind = 1
	// EventWarning is a warning of the library: {"time","level","target","message"}.
	EventWarning EventKind = 2
)

var (
	handlerMu sync.RWMutex
	handler   func(EventKind, string)
)

// SetEventHandler routes the library's failure events and warnings (process-wide)
// to fn, e.g. into log/slog; nil drops them. Without a handler and without log.dir
// the library writes no file and nothing to stderr. fn is called on the goroutine
// of the failing call, possibly from many at once, and must not call SetEventHandler.
func SetEventHandler(fn func(kind EventKind, json string)) error {
	handlerMu.Lock()
	handler = fn
	handlerMu.Unlock()
	return checkStatus(setGoEventCallback(fn != nil))
}

//export jwtauthGoEvent
func jwtauthGoEvent(_ unsafe.Pointer, kind C.jwtauth_event_kind, json *C.char, n C.size_t) {
	handlerMu.RLock()
	fn := handler
	handlerMu.RUnlock()
	if fn != nil {
		fn(EventKind(kind), C.GoStringN(json, C.int(n)))
	}
}
