// Validation cost per call from Go, in the format of ffi/benches (best of 7 rounds
// of this OS thread's CPU time; the goroutine is locked to its thread). Run by
// scripts/bench-bindings.sh:  go run ./bench WORK_DIR [ITERATIONS]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	jwtauth "example.invalid/jwtauth/bindings/go"
)

func cpuNs() float64 {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return float64(ts.Sec)*1e9 + float64(ts.Nsec)
}

func bench(name, config string, n int) {
	a, err := jwtauth.OpenJSON(config)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer a.Close()
	tok, err := a.Issue("alice", []string{"Admin"}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	best := 1e18
	for r := 0; r < 7; r++ {
		start := cpuNs()
		for i := 0; i < n; i++ {
			c, err := a.Validate(tok.AccessToken)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			c.Close()
		}
		if d := (cpuNs() - start) / float64(n); d < best {
			best = d
		}
	}
	fmt.Printf("go %s validate: %.0f ns/op\n", name, best)
}

func main() {
	runtime.LockOSThread()
	dir := os.TempDir()
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	n := 20000
	if len(os.Args) > 2 {
		n, _ = strconv.Atoi(os.Args[2])
	}
	bench("HS256", `{"validation_cache":0,"algorithm":"HS256","hs_secret":"bench-secret-0123456789abcdef-0123456789",`+
		`"store":{"url":"sqlite://`+dir+`/go-hs.db"}}`, n*10)
	bench("ES256", `{"validation_cache":0,"algorithm":"ES256","store":{"url":"sqlite://`+dir+`/go-es.db"}}`, n)
}
