package gateway

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRouteCtx holds routeCtx to what context.WithTimeout gives: the
// deadline, the parent's cancellation, release, and contexts derived from
// it.
func TestRouteCtx(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		var c routeCtx
		c.init(t.Context(), 50*time.Millisecond)
		defer c.release()
		if err := c.Err(); err != nil {
			t.Fatalf("Err before the deadline = %v, want nil", err)
		}
		child, cancel := context.WithCancel(&c)
		defer cancel()
		select {
		case <-child.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("a context derived from it did not end at the deadline")
		}
		if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Err = %v, want %v", err, context.DeadlineExceeded)
		}
		if err := child.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("derived Err = %v, want %v", err, context.DeadlineExceeded)
		}
	})
	t.Run("deadline without Done", func(t *testing.T) {
		var c routeCtx
		c.init(t.Context(), time.Millisecond)
		defer c.release()
		time.Sleep(5 * time.Millisecond)
		if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Err = %v, want %v", err, context.DeadlineExceeded)
		}
	})
	t.Run("parent's deadline", func(t *testing.T) {
		parent, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		var c routeCtx
		c.init(parent, time.Hour)
		defer c.release()
		got, _ := c.Deadline()
		want, _ := parent.Deadline()
		if !got.Equal(want) {
			t.Errorf("Deadline = %v, want the parent's %v", got, want)
		}
	})
	t.Run("parent canceled", func(t *testing.T) {
		parent, cancel := context.WithCancel(t.Context())
		var c routeCtx
		c.init(parent, time.Hour)
		defer c.release()
		cancel()
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("Err = %v, want %v", err, context.Canceled)
		}
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("Done did not end with the parent")
		}
	})
	t.Run("released", func(t *testing.T) {
		var c routeCtx
		c.init(t.Context(), time.Hour)
		c.release()
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("Err = %v, want %v", err, context.Canceled)
		}
		select {
		case <-c.Done():
		default:
			t.Error("Done after release is not closed")
		}
	})
}
