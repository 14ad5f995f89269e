package fn

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// readTimeout bounds a leader read when ctx has no deadline.
const readTimeout = 5 * time.Second

// errNoKey is a key with no value: never written, deleted or purged.
var errNoKey = jetstream.ErrKeyNotFound

// get reads the newest value of a key of ConfigBucket from the stream's
// leader. nats.go's KeyValue.Get uses a direct get when the bucket allows
// it (every bucket nats.go makes does), which any replica may answer, a
// lagging follower included: on a cluster, a Resolve just after an update
// could see the old version. STREAM.MSG.GET is answered by the leader
// only. See RATIONALE.md ("Reads").
func (r *Registry) get(ctx context.Context, key string) (val []byte, rev uint64, err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, readTimeout)
		defer cancel()
	}
	r.reads.Add(1)
	req, err := json.Marshal(struct {
		LastFor string `json:"last_by_subj"`
	}{"$KV." + ConfigBucket + "." + key})
	if err != nil {
		return nil, 0, err
	}
	m, err := r.js.Conn().RequestWithContext(ctx, r.apiPrefix+"STREAM.MSG.GET.KV_"+ConfigBucket, req)
	if err != nil {
		return nil, 0, err
	}
	var resp struct {
		Error *struct {
			Code        int    `json:"code"`
			ErrorCode   int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
		Message *struct {
			Seq    uint64 `json:"seq"`
			Header []byte `json:"hdrs"`
			Data   []byte `json:"data"`
		} `json:"message"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return nil, 0, fmt.Errorf("stream message get: %w", err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == int(jetstream.JSErrCodeMessageNotFound):
		return nil, 0, errNoKey
	case resp.Error != nil:
		return nil, 0, fmt.Errorf("stream message get: %s (%d)", resp.Error.Description, resp.Error.ErrorCode)
	case resp.Message == nil:
		return nil, 0, jetstream.ErrInvalidJetStreamResponse
	}
	if len(resp.Message.Header) > 0 {
		h, err := nats.DecodeHeadersMsg(resp.Message.Header)
		if err == nil && h.Get("KV-Operation") != "" { // a delete or purge marker
			return nil, resp.Message.Seq, errNoKey
		}
	}
	return resp.Message.Data, resp.Message.Seq, nil
}

// apiPrefixOf is the subject prefix of js's API requests.
func apiPrefixOf(js jetstream.JetStream) string {
	o := js.Options()
	switch {
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	case o.APIPrefix != "":
		if !strings.HasSuffix(o.APIPrefix, ".") {
			return o.APIPrefix + "."
		}
		return o.APIPrefix
	}
	return jetstream.DefaultAPIPrefix
}
