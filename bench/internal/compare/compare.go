// Package compare is the one line a comparison runner under bench/ prints
// for each of its comparisons, and the reader bench/cmd/benchtable uses to
// collect them. bench/doc.go describes the fields.
package compare

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// Prefix starts every compare line.
const Prefix = "compare: "

// A Line is one comparison: Stoa's value beside a peer's, their ratio
// (above 1, Stoa is better) and the goal an issue set for it (0: none).
type Line struct {
	Name      string  `json:"name"`
	What      string  `json:"what"`
	Unit      string  `json:"unit"`
	Peer      string  `json:"peer"`
	PeerValue float64 `json:"peer_value"`
	StoaValue float64 `json:"stoa_value"`
	Ratio     float64 `json:"ratio"`
	Goal      float64 `json:"goal"`
	Rounds    int     `json:"rounds"`
}

// Rounded returns l with its values kept to three significant digits and
// its ratio to two decimals, enough for a table.
func (l Line) Rounded() Line {
	l.PeerValue, l.StoaValue = Round3(l.PeerValue), Round3(l.StoaValue)
	l.Ratio = math.Round(l.Ratio*100) / 100
	return l
}

// String is the line as printed: Prefix and the JSON of l, rounded.
func (l Line) String() string {
	b, err := json.Marshal(l.Rounded())
	if err != nil { // only NaN or an infinity gets here
		return fmt.Sprintf("%s{\"name\":%q,\"error\":%q}", Prefix, l.Name, err)
	}
	return Prefix + string(b)
}

// Write prints each line on its own line of w.
func Write(w io.Writer, lines ...Line) error {
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l.String()); err != nil {
			return err
		}
	}
	return nil
}

// Read returns the lines found in r, ignoring every other line.
func Read(r io.Reader) ([]Line, error) {
	var out []Line
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		text, ok := strings.CutPrefix(sc.Text(), Prefix)
		if !ok {
			continue
		}
		var l Line
		if err := json.Unmarshal([]byte(text), &l); err != nil {
			return out, fmt.Errorf("bad %sline %q: %w", Prefix, text, err)
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

// Round3 keeps three significant digits of v.
func Round3(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	p := math.Pow(10, 2-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}

// Ratio is Stoa's lead over the peer, above 1 when Stoa is better: peer ÷
// stoa for a measure where lower is better (latency, CPU), stoa ÷ peer for
// one where higher is (throughput). It is 0 when the divisor is.
func Ratio(peer, stoa float64, lowerIsBetter bool) float64 {
	switch {
	case lowerIsBetter && stoa != 0:
		return peer / stoa
	case !lowerIsBetter && peer != 0:
		return stoa / peer
	}
	return 0
}
