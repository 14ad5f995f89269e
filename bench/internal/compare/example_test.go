package compare_test

import (
	"os"

	"github.com/stoaproject/stoa/bench/internal/compare"
)

func Example() {
	compare.Write(os.Stdout, compare.Line{
		Name: "http/inflight=32", What: "acts/s over HTTP, 32 in flight", Unit: "acts/s",
		Peer: "net/http", PeerValue: 43812, StoaValue: 51234, Ratio: 51234.0 / 43812, Goal: 0.7, Rounds: 3,
	})
	// Output:
	// compare: {"name":"http/inflight=32","what":"acts/s over HTTP, 32 in flight","unit":"acts/s","peer":"net/http","peer_value":43800,"stoa_value":51200,"ratio":1.17,"goal":0.7,"rounds":3}
}
