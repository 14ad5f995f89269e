package mesh

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// run applies membership messages, in the order NATS delivered them, and
// checks on providers when asked. It owns members and pins, and is the
// only goroutine that adds forwarders to the engine or removes them.
func (n *Node) run() {
	defer close(n.ran)
	for {
		select {
		case <-n.quit:
			return
		case m := <-n.events:
			n.apply(m)
		case canon := <-n.suspects:
			if rp := n.pins[canon]; rp != nil {
				for id := range rp.providers {
					n.check(id)
				}
			}
		case <-n.resync:
			// Back after a disconnection: say we are here (a node that
			// dropped us learns us again), learn what changed, and check
			// on every node we knew, some of which may have gone.
			n.announce()
			n.nc.PublishRequest(infoSubject, n.syncSubj, nil)
			for id := range n.members {
				n.check(id)
			}
		}
	}
}

func (n *Node) apply(m *nats.Msg) {
	switch {
	case m.Subject == announceSubj:
		n.learn(m.Data)
	case m.Subject == n.syncSubj:
		n.learn(m.Data)
		select {
		case n.heard <- struct{}{}:
		default:
		}
	case m.Subject == leaveSubj:
		var id micro.ServiceIdentity
		if json.Unmarshal(m.Data, &id) == nil {
			n.forget(id.ID)
		}
	case strings.HasPrefix(m.Subject, n.pingSubj+"."):
		id := strings.TrimPrefix(m.Subject, n.pingSubj+".")
		mb := n.members[id]
		if mb == nil {
			return
		}
		mb.checking = time.Time{}
		if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
			// No responders: the node's connection is gone, and with it
			// its subscriptions; NATS has told us it left.
			n.forget(id)
		}
	}
}

// check asks NATS whether node id is still there, by pinging it through
// the service API; the answer arrives on the ping subject (or a
// no-responders status does, if the node is gone).
func (n *Node) check(id string) {
	mb := n.members[id]
	if mb == nil || time.Since(mb.checking) < checkTimeout {
		return // a check is under way (an unanswered one is given up after checkTimeout)
	}
	subj, err := micro.ControlSubject(micro.PingVerb, mb.name, id)
	if err != nil {
		return
	}
	if n.nc.PublishRequest(subj, n.pingSubj+"."+id, nil) == nil {
		mb.checking = time.Now()
	}
}

// checkTimeout is how long a liveness check may go unanswered before
// another may be sent. No answer at all means the node's server still
// thinks it connected (a partition it has not noticed yet): the node is
// kept, and NATS routes around it once the server drops it.
const checkTimeout = 2 * time.Second

// learn records a node's info: its pins replace those it had.
func (n *Node) learn(data []byte) {
	var info micro.Info
	if err := json.Unmarshal(data, &info); err != nil || info.Metadata[metaStoa] == "" || info.ID == "" || info.ID == n.id {
		return // not a Stoa node, or this one
	}
	pins := map[string]pinInfo{}
	for _, ep := range info.Endpoints {
		if canon := ep.Metadata[metaPattern]; canon != "" {
			pins[canon] = pinInfo{subject: ep.Subject, idempotent: ep.Metadata[metaIdempotent] == "true"}
		}
	}
	mb := n.members[info.ID]
	if mb == nil {
		mb = &member{id: info.ID}
		n.members[info.ID] = mb
	}
	mb.name, mb.engine = info.Name, info.Metadata[metaEngine]
	old := mb.pins
	mb.pins = pins
	for canon := range old {
		if _, ok := pins[canon]; !ok {
			n.dropProvider(canon, info.ID)
		}
	}
	for canon, p := range pins {
		n.addProvider(canon, info.ID, p)
	}
	n.publishView()
}

// forget removes a node that left.
func (n *Node) forget(id string) {
	mb := n.members[id]
	if mb == nil {
		return
	}
	delete(n.members, id)
	for canon := range mb.pins {
		n.dropProvider(canon, id)
	}
	n.publishView()
}

func (n *Node) addProvider(canon, id string, p pinInfo) {
	rp := n.pins[canon]
	if rp == nil {
		rp = &remotePin{canon: canon, subject: p.subject, providers: map[string]bool{}, met: n.met.forSent(canon)}
		n.pins[canon] = rp
	}
	rp.providers[id] = p.idempotent
	rp.setIdempotent()
	n.met.providers.WithLabelValues(canon).Set(float64(len(rp.providers)))
	if rp.remove != nil || n.own[canon] || slices.Contains(n.e.Patterns(), canon) {
		return // a pattern this engine answers itself stays local
	}
	remove, err := n.e.AddRemovable(canon, n.forward(rp))
	if err != nil {
		n.cfg.log.Warn("mesh: cannot add remote pin", "pin", canon, "err", err)
		return
	}
	rp.remove = remove
}

func (n *Node) dropProvider(canon, id string) {
	rp := n.pins[canon]
	if rp == nil {
		return
	}
	delete(rp.providers, id)
	n.met.providers.WithLabelValues(canon).Set(float64(len(rp.providers)))
	if len(rp.providers) > 0 {
		rp.setIdempotent()
		return
	}
	// The last provider left: the pattern no longer matches here, so acts
	// fail with act_not_found without crossing the network. Only the
	// forwarder goes: a handler the user added since for the same pattern
	// stays.
	if rp.remove != nil {
		rp.remove()
	}
	delete(n.pins, canon)
}

func (rp *remotePin) setIdempotent() {
	idem := len(rp.providers) > 0
	for _, v := range rp.providers {
		idem = idem && v
	}
	rp.idem.Store(idem)
}

// publishView makes the membership readable by other goroutines, and
// wakes those waiting for a change.
func (n *Node) publishView() {
	providers := make(map[string]int, len(n.pins)+len(n.own))
	for canon, rp := range n.pins {
		providers[canon] = len(rp.providers)
	}
	for canon := range n.own {
		providers[canon]++
	}
	peers := make([]Peer, 0, len(n.members))
	for _, mb := range n.members {
		p := Peer{ID: mb.id, Name: mb.name, Engine: mb.engine}
		for canon, pi := range mb.pins {
			p.Pins = append(p.Pins, Pin{Pattern: canon, Subject: pi.subject, Idempotent: pi.idempotent})
		}
		slices.SortFunc(p.Pins, func(a, b Pin) int { return strings.Compare(a.Pattern, b.Pattern) })
		peers = append(peers, p)
	}
	sortPeers(peers)
	n.met.nodes.Set(float64(len(peers)))
	n.view.Lock()
	n.providers, n.peers = providers, peers
	close(n.changed)
	n.changed = make(chan struct{})
	n.view.Unlock()
}

func sortPeers(peers []Peer) {
	slices.SortFunc(peers, func(a, b Peer) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
