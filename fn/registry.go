package fn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stoaproject/stoa/internal/unheard"
)

// The JetStream buckets of the registry. See RATIONALE.md for their layout.
const (
	// ConfigBucket is the key-value bucket of functions and versions.
	ConfigBucket = "stoa_functions"
	// CodeBucket is the object store of the code, one zip per stored bundle.
	CodeBucket = "stoa_code"
)

const (
	// configHistory is how many revisions of each key ConfigBucket keeps.
	configHistory = 16
	// maxAttempts bounds the compare-and-set retries of one change; each
	// failed attempt means another writer's change went in.
	maxAttempts = 1000
	// cleanupTimeout bounds cleanup that runs after the caller's ctx is done.
	cleanupTimeout = 10 * time.Second
)

// Option configures [Open].
type Option func(*options) error

type options struct {
	replicas int
}

// WithReplicas sets the replicas of the buckets when Open creates them: 1
// (the default) on one server, 3 on a 3-server cluster. Buckets that exist
// keep their replicas. n must be 1 to 5.
func WithReplicas(n int) Option {
	return func(o *options) error {
		if n < 1 || n > 5 {
			return fmt.Errorf("fn: %d replicas; want 1 to 5", n)
		}
		o.replicas = n
		return nil
	}
}

// Registry is the function registry in JetStream. Its methods are safe for
// concurrent use, from one process or many: changes are compare-and-set on
// the function's key, so concurrent writers never lose or reuse a version.
// A Registry holds no resources of its own; the caller owns js and its
// connection.
type Registry struct {
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	obs    jetstream.ObjectStore
	stream jetstream.Stream // the stream behind kv
	lim    limits

	apiPrefix string       // of js's API subjects, for leader reads (leader.go)
	reads     atomic.Int64 // leader reads made, for tests
}

// Open creates the registry's buckets ([ConfigBucket], [CodeBucket]) or
// binds to them if they exist, as they do after a restart.
func Open(ctx context.Context, js jetstream.JetStream, opts ...Option) (*Registry, error) {
	o := options{replicas: 1}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	kv, err := js.KeyValue(ctx, ConfigBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      ConfigBucket,
			Description: "Stoa functions: configuration, versions and aliases",
			History:     configHistory,
			Storage:     jetstream.FileStorage,
			Replicas:    o.replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) { // created meanwhile by another Open
			kv, err = js.KeyValue(ctx, ConfigBucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("fn: opening bucket %s: %w", ConfigBucket, err)
	}
	obs, err := js.ObjectStore(ctx, CodeBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      CodeBucket,
			Description: "Stoa function code: one normalised zip per bundle",
			Storage:     jetstream.FileStorage,
			Replicas:    o.replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			obs, err = js.ObjectStore(ctx, CodeBucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("fn: opening object store %s: %w", CodeBucket, err)
	}
	stream, err := js.Stream(ctx, "KV_"+ConfigBucket)
	if err != nil {
		return nil, fmt.Errorf("fn: opening bucket %s: %w", ConfigBucket, err)
	}
	return &Registry{js: js, kv: kv, obs: obs, stream: stream, lim: defaultLimits, apiPrefix: apiPrefixOf(js)}, nil
}

// head is the record under a function's key, the one key every change of
// the function compare-and-sets: the function, the id of this incarnation
// of its name, and its latest version in full.
type head struct {
	Function
	ID      string  `json:"id"`
	Current Version `json:"current"`
}

func headKey(name string) string { return "fn." + name }

func versionKey(name, id string, n int) string {
	return "ver." + name + "." + id + "." + strconv.Itoa(n)
}

func versionSubject(name, id string) string {
	return "$KV." + ConfigBucket + ".ver." + name + "." + id + ".>"
}

// objectPrefix is the prefix of the names of an incarnation's code objects.
func objectPrefix(name, id string) string { return name + "/" + id + "/" }

// newID returns a random id for a key token or an object name.
func newID() string {
	var b [10]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// isConflict reports whether err is a failed compare-and-set.
func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return true
	}
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// withFunction sets the function of an *Error that names none.
func withFunction(err error, name string) error {
	var fe *Error
	if errors.As(err, &fe) && fe.Function == "" {
		fe.Function = name
	}
	return err
}

// head reads the function's record and its revision.
func (r *Registry) head(ctx context.Context, name string) (*head, uint64, error) {
	val, rev, err := r.get(ctx, headKey(name))
	if errors.Is(err, errNoKey) {
		return nil, 0, &Error{Code: CodeNotFound, Function: name, Message: "no such function"}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("fn: reading %s: %w", name, err)
	}
	h, err := decodeHead(val)
	if err != nil {
		return nil, 0, fmt.Errorf("fn: reading %s: %w", name, err)
	}
	return h, rev, nil
}

func decodeHead(b []byte) (*head, error) {
	var h head
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, err
	}
	if h.Aliases == nil {
		h.Aliases = map[string]int{}
	}
	return &h, nil
}

// cleanupContext is a context for cleanup that must run even when ctx is
// done.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// prepare reads, checks and (for go) builds the bundle, and returns it
// normalised.
func (r *Registry) prepare(ctx context.Context, name string, cfg *Config, b Bundle) (*zipped, error) {
	lim := r.lim
	if _, ok := b.(storedZip); ok {
		lim = lim.stored()
	}
	entries, done, err := b.list(lim)
	if err != nil {
		return nil, withFunction(err, name)
	}
	defer done()
	t, err := newTree(entries, r.lim)
	if err != nil {
		return nil, withFunction(err, name)
	}
	if cfg.Runtime == RuntimeGo {
		tmp, err := os.MkdirTemp("", "stoa-fn-build-*")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		built, done, err := buildGo(ctx, t, name, tmp, r.lim)
		if err != nil {
			return nil, withFunction(err, name)
		}
		defer done()
		t = built
	}
	if err := checkCode(t, name, cfg); err != nil {
		return nil, err
	}
	z, err := t.zip(ctx, r.lim)
	return z, withFunction(err, name)
}

// put stores z under a new object name of the incarnation and returns it.
func (r *Registry) put(ctx context.Context, name, id string, z *zipped) (string, error) {
	obj := objectPrefix(name, id) + newID() + ".zip"
	err := unheard.Retry(ctx, func() error {
		_, err := r.obs.Put(ctx, jetstream.ObjectMeta{
			Name:        obj,
			Description: "code of function " + name,
			Metadata:    map[string]string{"function": name, "sha256": z.sha},
		}, z.reader())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("fn: storing the code of %s: %w", name, err)
	}
	return obj, nil
}

// deleteObject removes an object this call stored and did not commit.
func (r *Registry) deleteObject(ctx context.Context, obj string) {
	if obj == "" {
		return
	}
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	r.obs.Delete(ctx, obj) // best effort: an orphan goes with the function's Delete
}

// saveVersion writes the record of version v of incarnation id, unless it
// is there: version records never change.
func (r *Registry) saveVersion(ctx context.Context, id string, v *Version) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	err = unheard.Retry(ctx, func() error {
		_, err := r.kv.Create(ctx, versionKey(v.Function, id, v.Number), b)
		return err
	})
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("fn: storing %s version %d: %w", v.Function, v.Number, err)
	}
	return nil
}

// recordVersion writes the record of a version just committed. The head
// holds the latest version in full, so this may fail: the next Update
// writes it before it moves the head on.
func (r *Registry) recordVersion(ctx context.Context, id string, v *Version) {
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	r.saveVersion(ctx, id, v)
}

// purge removes the version records and the code of incarnation id of a
// function, which must be deleted already.
func (r *Registry) purge(ctx context.Context, name, id string) error {
	err := r.stream.Purge(ctx, jetstream.WithPurgeSubject(versionSubject(name, id)))
	if err != nil {
		return fmt.Errorf("fn: removing the versions of %s: %w", name, err)
	}
	lister, err := r.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fn: removing the code of %s: %w", name, err)
	}
	prefix := objectPrefix(name, id)
	for _, info := range lister {
		if strings.HasPrefix(info.Name, prefix) {
			if err := r.obs.Delete(ctx, info.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
				return fmt.Errorf("fn: removing the code of %s: %w", name, err)
			}
		}
	}
	return nil
}

// Create stores version 1 of a new function and points "latest" at it.
// It fails with [ErrExists] if the name is taken, and with an *Error
// naming what is wrong if the name, cfg or b is invalid; the registry is
// then left as it was. For [RuntimeGo], the code is built first (see
// [Bundle]).
func (r *Registry) Create(ctx context.Context, name string, cfg Config, b Bundle) (*Version, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := cfg.check(name); err != nil {
		return nil, err
	}
	if b == nil {
		return nil, &Error{Code: CodeInvalidBundle, Function: name, Message: "a new function needs code"}
	}
	if _, _, err := r.head(ctx, name); err == nil {
		return nil, &Error{Code: CodeExists, Function: name, Message: "a function of that name exists"}
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	z, err := r.prepare(ctx, name, &cfg, b)
	if err != nil {
		return nil, err
	}
	defer z.close()
	id := newID()
	obj, err := r.put(ctx, name, id, z)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	v := Version{Function: name, Number: 1, Config: cfg, CodeSHA: z.sha, CodeSize: z.size, Created: now, CodeObject: obj}
	h := head{Function: Function{Name: name, Latest: 1, Aliases: map[string]int{}, Created: now, Updated: now}, ID: id, Current: v}
	val, err := json.Marshal(h)
	if err != nil {
		r.deleteObject(ctx, obj)
		return nil, err
	}
	if err := unheard.Retry(ctx, func() error {
		_, err := r.kv.Create(ctx, headKey(name), val)
		return err
	}); err != nil {
		if isConflict(err) { // refused: the code is no one's
			r.deleteObject(ctx, obj)
			return nil, &Error{Code: CodeExists, Function: name, Message: "a function of that name exists"}
		}
		// Perhaps stored after all (a timeout): the code stays; Delete sweeps it if not.
		return nil, fmt.Errorf("fn: creating %s: %w", name, err)
	}
	r.recordVersion(ctx, id, &v)
	return &v, nil
}

// Update stores the next version of a function and moves "latest" to it.
// A nil cfg keeps the latest version's configuration; a nil b keeps its
// code (and reuses the stored zip). The new version is checked as in
// Create; if cfg changes the runtime (or node's handler) and b is nil, the
// stored code is checked again, and built again for [RuntimeGo].
//
// Concurrent updates each get their own number; none is lost.
func (r *Registry) Update(ctx context.Context, name string, cfg *Config, b Bundle) (*Version, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	h, rev, err := r.head(ctx, name)
	if err != nil {
		return nil, err
	}
	cur := h.Current
	newCfg := cur.Config
	if cfg != nil {
		newCfg = cfg.withDefaults()
		if err := newCfg.check(name); err != nil {
			return nil, err
		}
	}
	sameCode := newCfg.Runtime == cur.Config.Runtime && (newCfg.Runtime != RuntimeNode || newCfg.Handler == cur.Config.Handler)
	if b == nil && !sameCode {
		f, err := r.fetch(ctx, &cur)
		if err != nil {
			return nil, err
		}
		defer os.Remove(f.Name())
		defer f.Close()
		b = storedZip(f.Name())
	}
	id := h.ID
	obj, sha, size := cur.CodeObject, cur.CodeSHA, cur.CodeSize
	var uploaded string
	if b != nil {
		z, err := r.prepare(ctx, name, &newCfg, b)
		if err != nil {
			return nil, err
		}
		defer z.close()
		if z.sha != cur.CodeSHA {
			if obj, err = r.put(ctx, name, id, z); err != nil {
				return nil, err
			}
			uploaded, sha, size = obj, z.sha, z.size
		}
	}
	// gone ends an update whose commit was refused and that cannot retry.
	gone := func(err error) (*Version, error) {
		r.deleteObject(ctx, uploaded)
		if errors.Is(err, ErrNotFound) {
			return nil, &Error{Code: CodeNotFound, Function: name, Message: "the function was deleted during the update"}
		}
		return nil, err
	}
	for range maxAttempts {
		now := time.Now().UTC()
		v := Version{Function: name, Number: h.Latest + 1, Config: newCfg, CodeSHA: sha, CodeSize: size, Created: now, CodeObject: obj}
		if err := r.saveVersion(ctx, id, &h.Current); err != nil {
			r.deleteObject(ctx, uploaded)
			return nil, err
		}
		next := *h
		next.Latest, next.Current, next.Updated = v.Number, v, now
		val, err := json.Marshal(next)
		if err != nil {
			r.deleteObject(ctx, uploaded)
			return nil, err
		}
		err = unheard.Retry(ctx, func() error {
			_, err := r.kv.Update(ctx, headKey(name), val, rev)
			return err
		})
		if err == nil {
			r.recordVersion(ctx, id, &v)
			return &v, nil
		}
		if !isConflict(err) { // perhaps stored after all (a timeout): the code stays
			return nil, fmt.Errorf("fn: updating %s: %w", name, err)
		}
		if h, rev, err = r.head(ctx, name); err != nil {
			return gone(err)
		}
		if h.ID != id {
			return gone(ErrNotFound)
		}
	}
	r.deleteObject(ctx, uploaded)
	return nil, &Error{Code: CodeConflict, Function: name, Message: fmt.Sprintf("gave up after %d concurrent changes", maxAttempts)}
}

// change applies f to the function's head and stores it, compare-and-set,
// retrying on conflict. f returns false to store nothing.
func (r *Registry) change(ctx context.Context, name string, f func(h *head) (bool, error)) error {
	for range maxAttempts {
		h, rev, err := r.head(ctx, name)
		if err != nil {
			return err
		}
		ok, err := f(h)
		if err != nil || !ok {
			return err
		}
		h.Updated = time.Now().UTC()
		val, err := json.Marshal(h)
		if err != nil {
			return err
		}
		err = unheard.Retry(ctx, func() error {
			_, err := r.kv.Update(ctx, headKey(name), val, rev)
			return err
		})
		if err == nil {
			return nil
		}
		if !isConflict(err) {
			return fmt.Errorf("fn: updating %s: %w", name, err)
		}
	}
	return &Error{Code: CodeConflict, Function: name, Message: fmt.Sprintf("gave up after %d concurrent changes", maxAttempts)}
}

// SetAlias points alias at version n of the function, creating or moving
// it. "latest" cannot be set: it always follows the newest version.
func (r *Registry) SetAlias(ctx context.Context, name, alias string, n int) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := checkAlias(name, alias); err != nil {
		return err
	}
	return r.change(ctx, name, func(h *head) (bool, error) {
		if n < 1 || n > h.Latest {
			return false, &Error{Code: CodeVersionNotFound, Function: name,
				Message: fmt.Sprintf("no version %d (versions are 1 to %d)", n, h.Latest)}
		}
		if h.Aliases[alias] == n {
			return false, nil
		}
		h.Aliases[alias] = n
		return true, nil
	})
}

// DeleteAlias removes an alias of the function.
func (r *Registry) DeleteAlias(ctx context.Context, name, alias string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return r.change(ctx, name, func(h *head) (bool, error) {
		if _, ok := h.Aliases[alias]; !ok {
			return false, &Error{Code: CodeAliasNotFound, Function: name, Message: fmt.Sprintf("no alias %q", alias)}
		}
		delete(h.Aliases, alias)
		return true, nil
	})
}

// Delete removes a function: its configuration, every version, every
// alias and the code. Watchers see it go at once; its records and code are
// removed right after. The name can then be created again, as a new
// function.
func (r *Registry) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	for range maxAttempts {
		h, rev, err := r.head(ctx, name)
		if err != nil {
			return err
		}
		err = unheard.Retry(ctx, func() error { return r.kv.Purge(ctx, headKey(name), jetstream.LastRevision(rev)) })
		if isConflict(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("fn: deleting %s: %w", name, err)
		}
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		return r.purge(cctx, name, h.ID)
	}
	return &Error{Code: CodeConflict, Function: name, Message: fmt.Sprintf("gave up after %d concurrent changes", maxAttempts)}
}
