// Package vault encrypts call recordings at rest with AES-256-GCM.
//
// A recording is a small header followed by GCM-sealed chunks, so files of
// any length stream through a fixed buffer in both directions:
//
//	magic "WAIHUVLT" | version 1 | chunk size (uint32) | key id length | key id |
//	salt (16) | nonce prefix (7) | key check (16) | chunk 0 | chunk 1 | … | final chunk
//
// Each file gets its own key, HKDF-SHA256 of the named master key and the
// file's random salt, so no two files share a (key, nonce) pair however many
// are written. A chunk's nonce is the prefix, its index (uint32) and a byte
// that is 1 only on the last chunk (the STREAM construction): a dropped,
// repeated or reordered chunk and a file cut at a chunk boundary all fail to
// open. The whole header is each chunk's associated data, so the key id and
// chunk size cannot be changed either. The key check (an HMAC of the file
// key) tells a wrong key from a damaged file.
//
// Keys come from a key file or an environment variable (see ParseKeys); each
// file names its key, so older keys decrypt older files until Rotate moves
// them to the current key.
package vault
