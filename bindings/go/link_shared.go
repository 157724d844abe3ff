//go:build !jwtauth_static

package jwtauth

// #cgo pkg-config: jwtauth
import "C"
