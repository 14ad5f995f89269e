// Package stoa is the act engine: services register handlers for message
// patterns, and callers send messages without knowing who answers.
package stoa
