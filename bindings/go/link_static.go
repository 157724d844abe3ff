//go:build jwtauth_static

package jwtauth

// Built with -tags jwtauth_static: the libraries of a static link, for example
//   go build -tags jwtauth_static -ldflags '-extldflags "-static"'

// #cgo pkg-config: --static jwtauth
import "C"
