package gateway

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"
)

// NewToken returns a new random bearer token for the management API: 32
// bytes from crypto/rand, base64url-encoded.
func NewToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand: "Read … never returns an error")
	return base64.RawURLEncoding.EncodeToString(b)
}

// TokenFile returns the token kept in the file at path, or, when there is
// no such file, makes one with NewToken and writes it there, readable by
// its owner only (0600). A token file that others may read or write is
// refused, as ssh refuses such a key.
func TokenFile(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		tok := NewToken()
		_, werr := f.WriteString(tok + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(path)
			return "", fmt.Errorf("gateway: writing token file: %w", werr)
		}
		return tok, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("gateway: token file: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("gateway: token file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("gateway: token file %s has mode %v: others may read it; chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("gateway: token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("gateway: token file %s is empty", path)
	}
	return tok, nil
}

// hashToken hashes a token so that comparing two takes the same time
// whatever their lengths.
func hashToken(t string) [32]byte { return sha256.Sum256([]byte(t)) }

// authorized reports whether the request carries the bearer token,
// comparing in constant time.
func (s *Server) authorized(r *http.Request) bool {
	if s.Token == "" {
		return false
	}
	h := r.Header.Get("Authorization")
	const scheme = "bearer "
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return false
	}
	got := hashToken(strings.TrimSpace(h[len(scheme):]))
	return subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) == 1
}
