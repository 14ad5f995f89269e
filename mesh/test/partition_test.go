package test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stoaproject/stoa/mesh"
)

// netns is a network namespace joined to this one by a veth pair: the
// host side has hostIP, the namespace side nsIP.
type netns struct {
	name, hostIf, hostIP, nsIP string
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// newNetns makes the namespace, or skips the test saying why it cannot.
func newNetns(t *testing.T) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the partition test needs root to make a network namespace; run it as root: go test ./mesh/test -run Partition")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("the partition test needs the ip command (Debian: apt-get install iproute2)")
	}
	id := os.Getpid() % 200
	n := &netns{name: fmt.Sprintf("stoa-part-%d", os.Getpid()), hostIf: fmt.Sprintf("stoah%d", os.Getpid()),
		hostIP: fmt.Sprintf("10.231.%d.1", id), nsIP: fmt.Sprintf("10.231.%d.2", id)}
	peer := fmt.Sprintf("stoap%d", os.Getpid())
	if err := ip("netns", "add", n.name); err != nil {
		t.Skipf("cannot make a network namespace here (%v); the partition test needs CAP_NET_ADMIN", err)
	}
	t.Cleanup(func() { ip("netns", "del", n.name) })
	for _, args := range [][]string{
		{"link", "add", n.hostIf, "type", "veth", "peer", "name", peer},
		{"link", "set", peer, "netns", n.name},
		{"addr", "add", n.hostIP + "/30", "dev", n.hostIf},
		{"link", "set", n.hostIf, "up"},
		{"netns", "exec", n.name, "ip", "addr", "add", n.nsIP + "/30", "dev", peer},
		{"netns", "exec", n.name, "ip", "link", "set", peer, "up"},
		{"netns", "exec", n.name, "ip", "link", "set", "lo", "up"},
	} {
		if err := ip(args...); err != nil {
			t.Fatal(err)
		}
		if args[0] == "link" && args[1] == "add" {
			t.Cleanup(func() { ip("link", "del", n.hostIf) })
		}
	}
	return n
}

// TestPartition: a provider in its own network namespace is cut off (its
// link goes down, no packet passes, nothing is closed). With Stoa's
// defaults (the base pings clients every 2 s) it stops being sent acts
// within 10 s, the other provider answering them; when the link comes
// back it reconnects and serves again.
func TestPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 17 s")
	}
	ns := newNetns(t)
	b := &mesh.Base{Listen: ns.hostIP + ":0"} // default PingInterval: Stoa's
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	url := b.ClientURL()
	startProvider(t, "cutoff", url, 0, ns.name)
	startProvider(t, "survivor", url, 0, "")
	e, n := caller(t, url)
	waitProviders(t, n, 2)
	const (
		cutAt   = time.Second
		healAt  = cutAt + 11*time.Second
		dur     = healAt + 5*time.Second
		timeout = 500 * time.Millisecond
	)
	out := load(t, e, []string{plainPin}, 200, dur, timeout, map[time.Duration]func(){
		cutAt:  func() { ip("link", "set", ns.hostIf, "down") },
		healAt: func() { ip("link", "set", ns.hostIf, "up") },
	})
	var lastFail, back time.Duration = -1, -1
	failed, afterHeal := 0, 0
	for _, o := range out {
		if o.err != nil && o.sent >= healAt {
			afterHeal++ // the reconnection's own hiccup, not the partition's
		} else if o.err != nil {
			failed++
			lastFail = max(lastFail, o.sent)
		}
		if o.err == nil && o.by == "cutoff" && o.sent > healAt && back < 0 {
			back = o.done
		}
	}
	buckets := map[int]int{}
	for _, o := range out {
		if o.err != nil {
			buckets[int(o.sent/time.Second)]++
		}
	}
	t.Logf("failed acts by the second they were sent: %v", buckets)
	stopped := lastFail - cutAt
	t.Logf("cut at %v: %d acts failed (timeouts on the cut-off provider), the last sent %v after the cut; healed at %v, served again %v later (%d acts sent after the heal failed)",
		cutAt, failed, stopped.Round(time.Millisecond), healAt, (back - healAt).Round(time.Millisecond), afterHeal)
	if lastFail >= 0 && stopped >= 10*time.Second {
		t.Errorf("acts still went to the cut-off provider %v after the cut, want < 10 s", stopped)
	}
	if back < 0 {
		t.Errorf("the provider did not serve again within %v of the link healing", dur-healAt)
	}
}
