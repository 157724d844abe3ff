package jwtauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const secret = "go-binding-test-secret-0123456789-abcdef"

func open(t *testing.T) *Auth {
	t.Helper()
	dir := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{
		"algorithm": "HS256", "hs_secret": secret, "issuer": "https://auth.go.test", "audience": "go-api",
		"store": map[string]any{"url": "sqlite://" + filepath.Join(dir, "store.db")},
	})
	a, err := OpenJSON(string(cfg))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(a.Close)
	return a
}

func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "JWTAUTH_") {
			os.Unsetenv(strings.SplitN(kv, "=", 2)[0])
		}
	}
	os.Exit(m.Run())
}

func TestIssueValidateAndReadClaims(t *testing.T) {
	a := open(t)
	tok, err := a.Issue("alice", []string{"Admin", "reader"}, map[string]any{"tenant": "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tok.String(), tok.AccessToken) {
		t.Fatal("Tokens.String prints the token")
	}
	c, err := a.Validate(tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Subject() != "alice" || !c.HasRole("Admin") || c.HasRole("admin") || len(c.Roles()) != 2 {
		t.Fatalf("claims: %q %v", c.Subject(), c.Roles())
	}
	m, err := c.Map()
	if err != nil || m["tenant"] != "acme" || int64(m["exp"].(float64)) != tok.ExpiresAt {
		t.Fatalf("map: %v %v", m, err)
	}
	if err := a.RequireRole(c, "Admin", nil); err != nil {
		t.Fatal(err)
	}
}

func TestFailuresAreErrorsWithReasonAndHint(t *testing.T) {
	a := open(t)
	_, err := a.Validate("a.b.c")
	var e *Error
	if !errors.As(err, &e) || e.Reason != "malformed" || e.Hint == "" || !errors.Is(err, ErrMalformed) || !e.TokenRefused() {
		t.Fatalf("got %#v", err)
	}
	if _, err := a.ValidateHeader("", nil); !errors.Is(err, ErrMissingToken) {
		t.Fatalf("got %v", err)
	}
	tok, _ := a.Issue("bob", nil, nil)
	_, err = a.ValidateHeader(tok.AccessToken, &Request{Client: "127.0.0.1:1", Path: "/x"})
	if !errors.Is(err, ErrBadScheme) || !strings.Contains(err.Error(), "Bearer") {
		t.Fatalf("got %v", err)
	}
	c, err := a.ValidateHeader("Bearer "+tok.AccessToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := a.RequireRole(c, "Admin", nil); !errors.Is(err, ErrInsufficientRole) || !strings.Contains(err.Error(), "'Admin'") {
		t.Fatalf("got %v", err)
	}
	if _, err := OpenJSON(`{"no_such_key":1}`); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "no_such_key") {
		t.Fatalf("got %v", err)
	}
	if _, err := a.Issue("x", nil, map[string]any{"sub": "mallory"}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("got %v", err)
	}
}

// A NUL byte never cuts a token short: the token with one inside or after it is
// malformed, through Validate and ValidateHeader alike.
func TestANulByteMakesATokenMalformed(t *testing.T) {
	a := open(t)
	tok, _ := a.Issue("nul", nil, nil)
	at := tok.AccessToken
	for _, bad := range []string{at + "\x00", at + "\x00junk", at[:len(at)-2] + "\x00" + at[len(at)-1:]} {
		if _, err := a.Validate(bad); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Validate with a NUL at %d: got %v", strings.IndexByte(bad, 0), err)
		}
		if _, err := a.ValidateHeader("Bearer "+bad, nil); !errors.Is(err, ErrMalformed) {
			t.Fatalf("ValidateHeader with a NUL at %d: got %v", strings.IndexByte(bad, 0), err)
		}
	}
	if _, err := a.Validate(""); !errors.Is(err, ErrMissingToken) {
		t.Fatalf("empty token: got %v", err)
	}
	c, err := a.Validate(at)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestSessionsRefreshAndReuse(t *testing.T) {
	a := open(t)
	login, err := a.SessionStart("carol", []string{"reader"}, nil)
	if err != nil || login.RefreshToken == "" {
		t.Fatal(err)
	}
	next, err := a.Refresh(login.RefreshToken, nil)
	if err != nil || next.RefreshToken == login.RefreshToken {
		t.Fatal(err)
	}
	if _, err := a.Refresh(login.RefreshToken, nil); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("reuse: %v", err)
	}
	if _, err := a.Refresh(next.RefreshToken, nil); err == nil {
		t.Fatal("the session survived reuse")
	}
}

func TestRotateKeyPublishesFirstAndRotateKeyNowSignsAtOnce(t *testing.T) {
	a := open(t)
	old, err := a.Issue("carol", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := a.RotateKey("ES256")
	if err != nil || kid == "" || kid == old.Kid {
		t.Fatal(kid, err)
	}
	jwks, err := a.JWKS()
	if err != nil || !strings.Contains(jwks, kid) {
		t.Fatal(jwks, err)
	}
	// Published, not yet signing (key_publish_ahead is 10 minutes by default).
	if next, err := a.Issue("carol", nil, nil); err != nil || next.Kid != old.Kid {
		t.Fatalf("signed by %v right after RotateKey (%v)", next, err)
	}
	nowKid, err := a.RotateKeyNow("ES256")
	if err != nil || nowKid == kid {
		t.Fatal(nowKid, err)
	}
	if next, err := a.Issue("carol", nil, nil); err != nil || next.Kid != nowKid {
		t.Fatalf("not signed by the key of RotateKeyNow: %v (%v)", next, err)
	}
	if _, err := a.RotateKeyNow("none"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("RotateKeyNow(none): %v", err)
	}
}

// 64 goroutines, each failing calls whose hint names its own role: every error
// must be its own (run with -race). Goroutines migrate between OS threads, which
// is what per-thread error state cannot survive.
func TestErrorDetailsOf64GoroutinesBelongToTheirCall(t *testing.T) {
	a := open(t)
	tok, _ := a.Issue("dave", []string{"reader"}, nil)
	const goroutines, calls = 64, 300
	var wg sync.WaitGroup
	wrong := make(chan string, goroutines*calls)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				c, err := a.Validate(tok.AccessToken)
				if err != nil || c.Subject() != "dave" {
					wrong <- fmt.Sprintf("validate: %v", err)
					continue
				}
				role := "role-" + strconv.Itoa(g) + "-" + strconv.Itoa(i)
				err = a.RequireRole(c, role, nil)
				c.Close()
				if !errors.Is(err, ErrInsufficientRole) || !strings.Contains(err.Error(), "'"+role+"'") {
					wrong <- fmt.Sprintf("goroutine %d call %d got %v", g, i, err)
				}
				if _, err := a.Validate("x.y"); !errors.Is(err, ErrMalformed) {
					wrong <- fmt.Sprintf("goroutine %d call %d got %v for a malformed token", g, i, err)
				}
			}
		}(g)
	}
	wg.Wait()
	close(wrong)
	n := 0
	for w := range wrong {
		if n < 5 {
			t.Error(w)
		}
		n++
	}
	if n > 0 {
		t.Fatalf("%d calls saw details not their own", n)
	}
}

func rssKiB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc")
	}
	pages, _ := strconv.Atoi(strings.Fields(string(b))[1])
	return pages * os.Getpagesize() / 1024
}

// A long bounded loop of successes and failures must not grow native memory.
func TestNoLeakOverALongLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("long loop")
	}
	a := open(t)
	tok, _ := a.Issue("erin", []string{"reader"}, nil)
	loop := func(n int) {
		for i := 0; i < n; i++ {
			c, err := a.Validate(tok.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			_ = a.RequireRole(c, "Admin", &Request{Client: "10.0.0.1:1", Path: "/p"})
			c.Close()
			_, _ = a.Validate("bad")
		}
	}
	loop(20000) // warm up: caches, allocator arenas
	before := rssKiB(t)
	loop(100000)
	after := rssKiB(t)
	t.Logf("RSS %d KiB -> %d KiB over 100,000 iterations", before, after)
	if after-before > 16*1024 {
		t.Fatalf("RSS grew by %d KiB over 100,000 iterations", after-before)
	}
}

// Claims never closed are freed by their slab's finalizer once unreachable.
func TestForgottenClaimsDoNotLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("long loop")
	}
	a := open(t)
	tok, _ := a.Issue("frank", []string{"reader"}, nil)
	loop := func(n int) {
		for i := 1; i <= n; i++ {
			if _, err := a.Validate(tok.AccessToken); err != nil {
				t.Fatal(err)
			}
			if i%5000 == 0 {
				runtime.GC()
				time.Sleep(2 * time.Millisecond) // the finalizer goroutine runs
			}
		}
	}
	loop(20000)
	before := rssKiB(t)
	loop(200000)
	after := rssKiB(t)
	// Leaked, they would take over 100 MiB; freed late (a finalizer runs after a
	// collection), they take a few batches' worth.
	t.Logf("RSS %d KiB -> %d KiB over 200,000 claims never closed", before, after)
	if after-before > 48*1024 {
		t.Fatalf("RSS grew by %d KiB over 200,000 claims never closed", after-before)
	}
}

func TestFailuresReachTheEventHandlerAsJSON(t *testing.T) {
	a := open(t)
	var mu sync.Mutex
	var failures []string
	if err := SetEventHandler(func(kind EventKind, json string) {
		if kind == EventFailure {
			mu.Lock()
			failures = append(failures, json)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	_, _ = a.ValidateHeader("Basic abc", &Request{Client: "192.0.2.1:5", Path: "/p"})
	if err := SetEventHandler(nil); err != nil {
		t.Fatal(err)
	}
	_, _ = a.Validate("after")
	mu.Lock()
	defer mu.Unlock()
	if len(failures) != 1 || !strings.Contains(failures[0], `"reason":"bad_scheme"`) ||
		!strings.Contains(failures[0], `"client":"192.0.2.1:5"`) {
		t.Fatalf("events: %q", failures)
	}
}
