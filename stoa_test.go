package stoa_test

import (
	"testing"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/stoatest"
)

// TestConformance runs the conformance suite on a local engine: the
// baseline every transport must match.
func TestConformance(t *testing.T) {
	stoatest.Run(t, func(t *testing.T, server *stoa.Engine) *stoa.Engine { return server })
}
