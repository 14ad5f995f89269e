package stoahttp_test

import (
	"context"
	"testing"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/stoahttp"
	"github.com/stoaproject/stoa/stoatest"
)

// TestConformance runs the engine's conformance suite through a Stoa
// client and a Stoa listener: every behaviour a local caller sees, a remote
// one sees too.
func TestConformance(t *testing.T) {
	stoatest.Run(t, func(t *testing.T, server *stoa.Engine) *stoa.Engine {
		url := listen(t, server, nil)
		caller := stoa.New()
		t.Cleanup(func() { caller.Close(context.Background()) })
		if _, err := stoahttp.NewClient(caller, url); err != nil {
			t.Fatal(err)
		}
		return caller
	})
}
