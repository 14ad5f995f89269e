package natstest

import (
	"net"
	"strings"
	"testing"
)

// TestStartSaysWhy: a server whose port is taken fails with the reason.
func TestStartSaysWhy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	o := Options()
	o.Port = ln.Addr().(*net.TCPAddr).Port
	_, err = Start(o)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Start on a taken port = %v, want an error naming it", err)
	}
}
