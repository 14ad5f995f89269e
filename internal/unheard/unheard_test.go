package unheard_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stoaproject/stoa/internal/unheard"
)

// TestRetry: a write no stream heard is sent again until it is heard or
// ctx ends; any other outcome is returned at once.
func TestRetry(t *testing.T) {
	calls := 0
	err := unheard.Retry(t.Context(), func() error {
		if calls++; calls < 3 {
			return fmt.Errorf("put: %w", nats.ErrNoResponders)
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("Retry = %v after %d writes, want nil after 3", err, calls)
	}
	calls = 0
	if err := unheard.Retry(t.Context(), func() error { calls++; return jetstream.ErrKeyExists }); !errors.Is(err, jetstream.ErrKeyExists) || calls != 1 {
		t.Errorf("Retry = %v after %d writes, want ErrKeyExists after 1", err, calls)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := unheard.Retry(ctx, func() error { return nats.ErrNoResponders }); !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("Retry until ctx ends = %v, want ErrNoResponders", err)
	}
}
