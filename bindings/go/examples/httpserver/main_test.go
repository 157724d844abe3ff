package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	jwtauth "example.invalid/jwtauth/bindings/go"
)

func TestMiddlewareAnswers401403And200(t *testing.T) {
	auth, err := jwtauth.OpenJSON(`{"algorithm":"HS256","hs_secret":"middleware-test-secret-0123456789abcdef",` +
		`"store":{"url":"sqlite://` + filepath.Join(t.TempDir(), "m.db") + `"}}`)
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(Subject(r))) })
	tok, _ := auth.Issue("alice", []string{"reader"}, nil)
	cases := []struct {
		header, role string
		want         int
	}{
		{"", "", 401},
		{"Bearer nope", "", 401},
		{"Bearer " + tok.AccessToken, "", 200},
		{"Bearer " + tok.AccessToken, "Admin", 403},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/api/x", nil)
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		Protect(auth, c.role, ok).ServeHTTP(rec, r)
		if rec.Code != c.want {
			t.Errorf("%q role %q: %d, want %d", c.header, c.role, rec.Code, c.want)
		}
		if c.want == 200 && rec.Body.String() != "alice" {
			t.Errorf("subject %q", rec.Body.String())
		}
	}
}
