package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// List asks the mesh which nodes are there, through the NATS service API
// ($SRV.INFO and $SRV.STATS), without joining it: every live Stoa node
// answers, with its pins and the acts it has served on each. It connects
// with opts (WithURLs, WithAuth, …; pins are ignored) and waits for answers
// until none has come for the discovery wait.
func List(ctx context.Context, opts ...Option) ([]Peer, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.name == "stoa" {
		cfg.name = "stoa-list"
	}
	nc := cfg.conn
	if nc == nil {
		if nc, err = dial(ctx, cfg, nil); err != nil {
			return nil, err
		}
		defer nc.Close()
	}
	infos, err := gatherAll(ctx, nc, infoSubject, cfg.quiet)
	if err != nil {
		return nil, err
	}
	statsSubj, _ := micro.ControlSubject(micro.StatsVerb, "", "")
	stats, err := gatherAll(ctx, nc, statsSubj, cfg.quiet)
	if err != nil {
		return nil, err
	}
	counts := map[string]map[string]*micro.EndpointStats{} // node → subject → stats
	for _, b := range stats {
		var st micro.Stats
		if json.Unmarshal(b, &st) != nil || st.Metadata[metaStoa] == "" {
			continue
		}
		counts[st.ID] = map[string]*micro.EndpointStats{}
		for _, ep := range st.Endpoints {
			counts[st.ID][ep.Subject] = ep
		}
	}
	var peers []Peer
	for _, b := range infos {
		var info micro.Info
		if json.Unmarshal(b, &info) != nil || info.Metadata[metaStoa] == "" {
			continue
		}
		p := Peer{ID: info.ID, Name: info.Name, Engine: info.Metadata[metaEngine]}
		for _, ep := range info.Endpoints {
			canon := ep.Metadata[metaPattern]
			if canon == "" {
				continue
			}
			pin := Pin{Pattern: canon, Subject: ep.Subject, Idempotent: ep.Metadata[metaIdempotent] == "true"}
			if st := counts[info.ID][ep.Subject]; st != nil {
				pin.Acts, pin.Errors = st.NumRequests, st.NumErrors
			}
			p.Pins = append(p.Pins, pin)
		}
		slices.SortFunc(p.Pins, func(a, b Pin) int { return strings.Compare(a.Pattern, b.Pattern) })
		peers = append(peers, p)
	}
	sortPeers(peers)
	return peers, nil
}

// gatherAll sends a request on subj and collects replies until none has
// come for quiet (at least 4× quiet for the first, which may cross a
// cluster).
func gatherAll(ctx context.Context, nc *nats.Conn, subj string, quiet time.Duration) ([][]byte, error) {
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("mesh: %s: %w", subj, err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(subj, inbox, nil); err != nil {
		return nil, fmt.Errorf("mesh: %s: %w", subj, err)
	}
	var out [][]byte
	wait := 4 * quiet
	for {
		wctx, cancel := context.WithTimeout(ctx, wait)
		m, err := sub.NextMsgWithContext(wctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return out, fmt.Errorf("mesh: %s: %w", subj, ctx.Err())
			}
			return out, nil
		}
		if len(m.Data) > 0 {
			out = append(out, m.Data)
		}
		wait = quiet
	}
}

// Pins sums peers' pins: each pattern with its number of providers, in
// pattern order, as `stoa mesh ls` prints them.
func Pins(peers []Peer) []PinCount {
	byPattern := map[string]*PinCount{}
	for _, p := range peers {
		for _, pin := range p.Pins {
			pc := byPattern[pin.Pattern]
			if pc == nil {
				pc = &PinCount{Pattern: pin.Pattern}
				byPattern[pin.Pattern] = pc
			}
			pc.Providers++
			pc.Acts += pin.Acts
		}
	}
	out := make([]PinCount, 0, len(byPattern))
	for _, pc := range byPattern {
		out = append(out, *pc)
	}
	slices.SortFunc(out, func(a, b PinCount) int { return strings.Compare(a.Pattern, b.Pattern) })
	return out
}

// PinCount is a pin with the number of nodes serving it and the acts they
// have served on it.
type PinCount struct {
	Pattern   string `json:"pattern"`
	Providers int    `json:"providers"`
	Acts      int    `json:"acts"`
}
