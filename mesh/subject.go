package mesh

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/stoaproject/stoa"
)

// The subjects of the mesh. Acts travel on one subject per pin; nodes
// announce themselves and say goodbye on the two membership subjects, and
// learn who is there through the NATS service API ($SRV.INFO).
const (
	actPrefix      = "stoa.act."
	announceSubj   = "stoa.mesh.announce"
	leaveSubj      = "stoa.mesh.leave"
	metaStoa       = "stoa_mesh" // service metadata key marking a Stoa node; value: protocol version
	metaEngine     = "stoa_engine"
	metaPattern    = "pattern" // endpoint metadata: the pin's canonical pattern
	metaIdempotent = "idempotent"
	protocol       = "1"
	queueGroup     = "stoa"
)

// Headers an act carries across the hop.
const (
	hdrTrace     = "traceparent" // W3C trace context, as OpenTelemetry's NATS carriers name it
	hdrTraceSt   = "tracestate"
	hdrErr       = "Nats-Service-Error" // the NATS service API's error headers
	hdrErrCode   = "Nats-Service-Error-Code"
	maxHops      = 16
	maxSubjToken = 200
)

// canonical returns Seneca's canonical form of pattern, as Engine.Patterns
// would list it.
func canonical(pattern string) (string, error) {
	e := stoa.New()
	defer e.Close(context.Background())
	if err := e.Add(pattern, func(context.Context, stoa.Msg) (any, error) { return nil, nil }); err != nil {
		return "", fmt.Errorf("mesh: pin %q: %w", pattern, err)
	}
	ps := e.Patterns()
	if len(ps) != 1 {
		return "", fmt.Errorf("mesh: pin %q is not one pattern", pattern)
	}
	return ps[0], nil
}

// subjectFor is the subject of the pin whose canonical form is canon. It
// is the canonical form itself when that is a plain NATS token
// ("stoa.act.cmd:add,role:calculator"), so traffic reads well in nats sub;
// a form with dots, wildcards, spaces or other characters is hashed.
func subjectFor(canon string) string {
	if canon != "" && len(canon) <= maxSubjToken && plainToken(canon) {
		return actPrefix + canon
	}
	sum := sha256.Sum256([]byte(canon))
	return actPrefix + "h" + hex.EncodeToString(sum[:12]) // no ':' here, so no plain form collides
}

func plainToken(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(":,_-=+@", r)) {
			return false
		}
	}
	return true
}

// endpointName is the name the NATS service API shows for a pin:
// "cmd-add_role-calculator". Names need not be unique; the metadata holds
// the pattern.
func endpointName(canon string) string {
	var b strings.Builder
	for _, r := range canon {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ':':
			b.WriteByte('-')
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "all"
	}
	return b.String()[:min(b.Len(), 64)]
}
