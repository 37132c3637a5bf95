package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// TokenPrefix starts every API token, so that secret scanners and people
// recognise one in a log or a repository.
const TokenPrefix = "wh_"

// tokenBytes is the token's randomness: 256 bits.
const tokenBytes = 32

// tokenLen is the length of a well-formed token string.
var tokenLen = len(TokenPrefix) + base64.RawURLEncoding.EncodedLen(tokenBytes)

// NewToken returns a fresh API token, shown to its owner once, and the
// SHA-256 hash that is all the store keeps.
//
// A fast hash suffices here, unlike for passwords: password hashing is slow
// to make guessing a low-entropy secret expensive, but a token is 256 random
// bits, so a stolen table of hashes leaves 2^256 guesses per token whatever
// the hash costs, and a fast hash keeps each request's check cheap.
func NewToken() (token string, hash [32]byte, err error) {
	var b [tokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", hash, fmt.Errorf("new API token: %w", err)
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token), nil
}

// HashToken is the stored form of a token.
func HashToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// wellFormed rejects strings that cannot be tokens before any lookup, so
// garbage costs neither a hash nor a query.
func wellFormed(token string) bool {
	if len(token) != tokenLen || !strings.HasPrefix(token, TokenPrefix) {
		return false
	}
	for _, c := range token[len(TokenPrefix):] {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
