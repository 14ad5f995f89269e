// Package lib is not a main package: the registry refuses it.
package lib

// Answer is 42.
const Answer = 42
