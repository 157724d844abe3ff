package jwtauth

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

// BenchmarkValidateHS256 measures Validate + Close of one HS256 token with the
// verified-token cache off, like the other languages' figures (scripts/bench-bindings.sh).
func BenchmarkValidateHS256(b *testing.B) {
	dir := b.TempDir()
	cfg, _ := json.Marshal(map[string]any{
		"algorithm": "HS256", "hs_secret": "bench-secret-0123456789abcdef-0123456789", "validation_cache": 0,
		"store": map[string]any{"url": "sqlite://" + filepath.Join(dir, "hs.db")},
	})
	a, err := OpenJSON(string(cfg))
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	tok, _ := a.Issue("alice", []string{"Admin"}, nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := a.Validate(tok.AccessToken)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
