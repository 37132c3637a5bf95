// Package storetest starts throwaway PostgreSQL servers for tests, so the store's
// suite, the campaign's several-node tests and the interop proof run against a real
// PostgreSQL without any setup: it finds initdb and pg_ctl (PATH, then
// /usr/lib/postgresql/*/bin), initdbs a temporary directory (as the postgres user
// when running as root), starts on a free 127.0.0.1 port and stops with
// pg_ctl stop -m immediate. It is imported only by tests.
package storetest
