// A net/http server whose /api routes need a valid bearer token, and /api/admin
// the role "Admin". Run (with libjwtauth installed where pkg-config finds it):
//
//	JWTAUTH_HS_SECRET=... go run ./examples/httpserver
//
// then GET /login?user=alice for a token to send as "Authorization: Bearer ...".
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"os"

	jwtauth "example.invalid/jwtauth/bindings/go"
)

type ctxKey struct{}

// Protect answers 401 (RFC 6750) unless the request carries a valid bearer token,
// and 403 unless its claims carry role (when not ""). Handlers read the subject
// with Subject(r).
func Protect(auth *jwtauth.Auth, role string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := &jwtauth.Request{Client: r.RemoteAddr, Method: r.Method, Path: r.URL.Path,
			UserAgent: r.UserAgent(), RequestID: r.Header.Get("X-Request-Id")}
		claims, err := auth.ValidateHeader(r.Header.Get("Authorization"), req)
		if err != nil {
			var e *jwtauth.Error
			errors.As(err, &e)
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+e.Reason+`"`)
			http.Error(w, e.Reason, http.StatusUnauthorized)
			return
		}
		defer claims.Close()
		if role != "" {
			if err := auth.RequireRole(claims, role, req); err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope"`)
				http.Error(w, "insufficient_role", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, claims.Subject())))
	})
}

// Subject is the verified subject Protect put into the request's context.
func Subject(r *http.Request) string {
	s, _ := r.Context().Value(ctxKey{}).(string)
	return s
}

func main() {
	auth, err := jwtauth.OpenJSON(`{"algorithm":"HS256","store":{"url":"sqlite://example.db"}}`)
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()

	mux := http.NewServeMux()
	// A stand-in for a real login that checks a password first.
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		t, err := auth.SessionStart(r.URL.Query().Get("user"), []string{"reader"}, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": t.AccessToken, "token_type": "Bearer",
			"refresh_token": t.RefreshToken})
	})
	mux.Handle("/api/hello", Protect(auth, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello " + Subject(r) + "\n"))
	})))
	mux.Handle("/api/admin", Protect(auth, "Admin", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("admin area\n"))
	})))
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:8081"
	}
	log.Printf("listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, mux))
}
