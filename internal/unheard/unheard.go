// Package unheard sends a JetStream write again when no stream heard it.
//
// A replicated stream just created, or whose servers just restarted,
// elects a leader, and every server of the cluster learns where to send
// the stream's writes, a moment after the stream exists. A write in
// between reaches no stream and fails with no responders: nothing was
// stored, so sending it again is safe.
package unheard

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
)

// Retry runs write, and again while it fails with nats.ErrNoResponders,
// backing off from 5 to 100 ms, until ctx ends; it returns write's last
// error. Any other outcome is returned at once.
func Retry(ctx context.Context, write func() error) error {
	wait := 5 * time.Millisecond
	for {
		err := write()
		if !errors.Is(err, nats.ErrNoResponders) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}
