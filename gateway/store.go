package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stoaproject/stoa/internal/unheard"
)

// DefaultBucket is the JetStream key-value bucket OpenStore uses when the
// configuration names none.
const DefaultBucket = "stoa_routes"

// storeKey is the one key of the bucket: the whole table of stored routes
// is one value, so that a change is checked against all of it and written
// with compare-and-set (RATIONALE.md, "One value for all routes").
const storeKey = "routes"

// maxUpdateTries bounds how often Update retries when other writers keep
// changing the routes under it.
const maxUpdateTries = 16

// Store keeps the routes added through the management API and routes files
// in a JetStream key-value bucket, which every gateway of the mesh watches:
// a change made through any gateway takes effect on all of them. Its
// methods are safe for concurrent use.
type Store struct {
	kv jetstream.KeyValue
}

// OpenStore opens the bucket cfg names (DefaultBucket if none), creating
// it with cfg if it does not exist; cfg.History of 0 keeps the last 5
// versions of the routes. Give cfg.Replicas 3 on a three-server cluster.
func OpenStore(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (*Store, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultBucket
	}
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		if cfg.History == 0 {
			cfg.History = 5
		}
		if cfg.Description == "" {
			cfg.Description = "Stoa gateway routes"
		}
		kv, err = js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, cfg.Bucket) // another gateway made it first
		}
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: route store %q: %w", cfg.Bucket, err)
	}
	return &Store{kv: kv}, nil
}

// routeDoc is how routes are written, in the store and in routes files:
// {"routes": [{"method": "GET", "path": "/users/{id}", "act": "role:user,cmd:get"}, …]}.
type routeDoc struct {
	Routes []Route `json:"routes"`
}

// Routes returns the stored routes.
func (st *Store) Routes(ctx context.Context) ([]Route, error) {
	rs, _, err := st.get(ctx)
	return rs, err
}

func (st *Store) get(ctx context.Context) ([]Route, uint64, error) {
	e, err := st.kv.Get(ctx, storeKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("gateway: reading the route store: %w", err)
	}
	rs, err := decodeRoutes(e.Value())
	return rs, e.Revision(), err
}

// Update changes the stored routes: change gets the routes as stored and
// returns them as they should be, or an error, which Update returns with
// nothing written. If another writer changes the routes meanwhile, change
// runs again on theirs, so it must have no other effect. Update returns the
// revision it wrote, which Watch reports when the change reaches it.
func (st *Store) Update(ctx context.Context, change func([]Route) ([]Route, error)) (uint64, error) {
	for range maxUpdateTries {
		cur, rev, err := st.get(ctx)
		if err != nil {
			return 0, err
		}
		next, err := change(cur)
		if err != nil {
			return 0, err
		}
		b, err := json.Marshal(routeDoc{Routes: nonNil(next)})
		if err != nil {
			return 0, err
		}
		var written uint64
		err = unheard.Retry(ctx, func() (err error) {
			if rev == 0 {
				written, err = st.kv.Create(ctx, storeKey, b)
			} else {
				written, err = st.kv.Update(ctx, storeKey, b, rev)
			}
			return err
		})
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("gateway: writing the route store: %w", err)
		}
		return written, nil
	}
	return 0, errors.New("gateway: the route store kept changing; try again")
}

func nonNil(rs []Route) []Route {
	if rs == nil {
		return []Route{}
	}
	return rs
}

// Watch calls set with the stored routes and their revision, once at once
// and again after every change, until ctx ends, then returns ctx's error. A
// stored value that does not decode is passed as an error (and the routes
// as nil). Watch returns another error if it cannot watch.
func (st *Store) Watch(ctx context.Context, set func(routes []Route, revision uint64, err error)) error {
	w, err := st.kv.Watch(ctx, storeKey)
	if err != nil {
		return fmt.Errorf("gateway: watching the route store: %w", err)
	}
	defer w.Stop()
	initial := true
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return errors.New("gateway: the route store's watcher stopped")
			}
			switch {
			case e == nil: // every initial value is in
				if initial {
					initial = false
					set(nil, 0, nil) // the key does not exist yet
				}
			case e.Operation() != jetstream.KeyValuePut:
				initial = false
				set(nil, e.Revision(), nil)
			default:
				initial = false
				rs, err := decodeRoutes(e.Value())
				set(rs, e.Revision(), err)
			}
		}
	}
}

// The watcher sends the key's value, then nil; so a nil after a value must
// not count as "no routes". set(nil, 0, nil) above runs only when nil comes
// first.

// decodeRoutes reads the store's value, leniently (see Route.UnmarshalJSON).
func decodeRoutes(b []byte) ([]Route, error) {
	var doc routeDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	return doc.Routes, nil
}

// decodeRoutesStrict reads a routes document, refusing unknown fields and
// trailing data.
func decodeRoutesStrict(b []byte) ([]Route, error) {
	var doc struct {
		Routes []json.RawMessage `json:"routes"`
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&doc); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("trailing data after the routes")
	}
	if doc.Routes == nil {
		return nil, errors.New(`no "routes" array`)
	}
	rs := make([]Route, len(doc.Routes))
	for i, raw := range doc.Routes {
		r, err := decodeRouteStrict(raw)
		if err != nil {
			return nil, fmt.Errorf("route %d: %w", i+1, err)
		}
		rs[i] = r
	}
	return rs, nil
}

// ReadRoutes reads a routes document, {"routes": [route, …]}, each route as
// Route's JSON form. Unknown fields are refused, so that a misspelled
// setting is not silently ignored; every route is validated.
func ReadRoutes(r io.Reader) ([]Route, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	rs, err := decodeRoutesStrict(b)
	if err != nil {
		return nil, fmt.Errorf("gateway: routes document: %w", err)
	}
	for _, rt := range rs {
		if err := rt.Validate(); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// ReadRoutesFile reads a routes file (see ReadRoutes).
func ReadRoutesFile(path string) ([]Route, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rs, err := ReadRoutes(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rs, nil
}
