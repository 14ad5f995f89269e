package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/gateway"
)

const token = "s3cret-token"

var auth = "Authorization: Bearer " + token

// TestRoutesSharedByGateways: a route added through one gateway's API
// takes effect on another gateway of the mesh without a restart, and so
// does its removal.
func TestRoutesSharedByGateways(t *testing.T) {
	ns := natsServer(t)
	provider(t, ns, map[string]stoa.Handler{"role:user,cmd:get": echo})
	g1 := startGateway(t, ns, &gateway.Server{Store: openStore(t, ns), Token: token}, "role:user,cmd:get")
	g2 := startGateway(t, ns, &gateway.Server{Store: openStore(t, ns), Token: token}, "role:user,cmd:get")

	if r := do(t, "GET", g2.url+"/users/7", ""); r.status != 404 {
		t.Fatalf("before the route: got %d, want 404", r.status)
	}
	r := do(t, "PUT", g1.url+keyPath("GET /users/{id}"), `{"act":"role:user,cmd:get","timeout":"5s"}`, auth)
	if r.status != 201 {
		t.Fatalf("PUT route: got %d %s, want 201", r.status, r.body)
	}
	if m := r.json(t); m["source"] != "store" || m["timeout"] != "5s" || m["method"] != "GET" {
		t.Errorf("PUT route replied %s", r.body)
	}
	waitRoutes(t, g2.Server, hasRoute("GET /users/{id}"))
	r = do(t, "GET", g2.url+"/users/7", "")
	if r.status != 200 || !strings.Contains(r.body, `"id":"7"`) {
		t.Errorf("GET /users/7 on the other gateway: got %d %s, want 200 with id 7", r.status, r.body)
	}
	r = do(t, "PUT", g1.url+keyPath("GET /users/{id}"), `{"act":"role:user,cmd:get","timeout":"6s"}`, auth)
	if r.status != 200 {
		t.Errorf("PUT of an existing route: got %d %s, want 200", r.status, r.body)
	}
	waitRoutes(t, g2.Server, func(rs []gateway.Route) bool {
		return slices.ContainsFunc(rs, func(r gateway.Route) bool { return r.Key() == "GET /users/{id}" && r.Timeout.String() == "6s" })
	})

	if r := do(t, "DELETE", g2.url+keyPath("GET /users/{id}"), "", auth); r.status != 204 {
		t.Fatalf("DELETE route: got %d %s, want 204", r.status, r.body)
	}
	waitRoutes(t, g1.Server, noRoute("GET /users/{id}"))
	if r := do(t, "GET", g1.url+"/users/7", ""); r.status != 404 {
		t.Errorf("after DELETE: got %d, want 404", r.status)
	}
	checkError(t, g1, "DELETE again", do(t, "DELETE", g1.url+keyPath("GET /users/{id}"), "", auth), 404, gateway.CodeNotFound)
}

// TestRouteConflicts: an ambiguous or duplicate route is refused with 409,
// a clear message, and the store unchanged.
func TestRouteConflicts(t *testing.T) {
	ns := natsServer(t)
	st := openStore(t, ns)
	g := startGateway(t, ns, &gateway.Server{Store: st, Token: token, Routes: []gateway.Route{
		{Method: "GET", Path: "/static", Act: "role:s"},
	}})
	if r := do(t, "PUT", g.url+keyPath("GET /users/{id}"), `{"act":"role:u"}`, auth); r.status != 201 {
		t.Fatalf("PUT: got %d %s", r.status, r.body)
	}
	before, _ := st.Routes(t.Context())

	m := checkError(t, g, "ambiguous", do(t, "PUT", g.url+keyPath("GET /users/{name}"), `{"act":"role:u"}`, auth), 409, gateway.CodeConflict)
	if msg, _ := m["message"].(string); !strings.Contains(msg, "ambiguous") || !strings.Contains(msg, "GET /users/{id}") {
		t.Errorf("ambiguous: message %q should say ambiguous and name GET /users/{id}", msg)
	}
	checkError(t, g, "duplicate of a static route", do(t, "PUT", g.url+keyPath("GET /static"), `{"act":"role:u"}`, auth), 409, gateway.CodeConflict)
	checkError(t, g, "delete a static route", do(t, "DELETE", g.url+keyPath("GET /static"), "", auth), 409, gateway.CodeConflict)
	checkError(t, g, "invalid", do(t, "PUT", g.url+keyPath("GET /x"), `{"act":"role:*"}`, auth), 400, gateway.CodeBadRequest)
	checkError(t, g, "unknown field", do(t, "PUT", g.url+keyPath("GET /x"), `{"act":"role:u","timeuot":"1s"}`, auth), 400, gateway.CodeBadRequest)
	checkError(t, g, "key mismatch", do(t, "PUT", g.url+keyPath("GET /x"), `{"method":"POST","path":"/x","act":"role:u"}`, auth), 400, gateway.CodeBadRequest)
	checkError(t, g, "bad key", do(t, "PUT", g.url+keyPath("GET x"), `{"act":"role:u"}`, auth), 400, gateway.CodeBadRequest)
	checkError(t, g, "replace with an ambiguous pair", do(t, "PUT", g.url+gateway.APIPrefix+"/routes",
		`{"routes":[{"method":"GET","path":"/a/{x}","act":"role:a"},{"method":"GET","path":"/a/{y}","act":"role:a"}]}`, auth), 409, gateway.CodeConflict)

	after, _ := st.Routes(t.Context())
	if !equalRoutes(before, after) {
		t.Errorf("refused changes changed the store: %v → %v", before, after)
	}

	// The Go API says which sentinel.
	if _, err := g.PutRoute(t.Context(), gateway.Route{Method: "GET", Path: "/users/{who}", Act: "role:u"}); !errors.Is(err, gateway.ErrAmbiguous) {
		t.Errorf("PutRoute of an ambiguous route = %v, want ErrAmbiguous", err)
	}
	if _, err := g.PutRoute(t.Context(), gateway.Route{Method: "GET", Path: "/static", Act: "role:u"}); !errors.Is(err, gateway.ErrDuplicate) {
		t.Errorf("PutRoute of a static route's key = %v, want ErrDuplicate", err)
	}
}

func equalRoutes(a, b []gateway.Route) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestAPIAuth: every endpoint but the OpenAPI document answers 401 without
// the right token, and changes nothing; a gateway without a token has no
// API.
func TestAPIAuth(t *testing.T) {
	ns := natsServer(t)
	st := openStore(t, ns)
	provider(t, ns, map[string]stoa.Handler{"fn:*": func(_ context.Context, m stoa.Msg) (any, error) {
		t.Errorf("an unauthorized request invoked a function: %v", m)
		return nil, nil
	}})
	g := startGateway(t, ns, &gateway.Server{Store: st, Token: token})
	if _, err := g.PutRoute(t.Context(), gateway.Route{Method: "GET", Path: "/kept", Act: "role:k"}); err != nil {
		t.Fatal(err)
	}
	before, _ := st.Routes(t.Context())
	for _, cred := range []string{"", "Authorization: Bearer wrong", "Authorization: Basic " + token, "Authorization: Bearer " + token + "x", "Authorization: Bearer"} {
		for _, ep := range endpoints() {
			if ep.public {
				continue
			}
			path := strings.NewReplacer("{key}", "GET%20%2Fkept", "{name}", "hello").Replace(ep.path)
			var hs []string
			if cred != "" {
				hs = append(hs, cred)
			}
			r := do(t, ep.method, g.url+gateway.APIPrefix+path, `{"routes":[],"act":"role:x"}`, hs...)
			checkError(t, g, ep.method+" "+ep.path+" with "+cred, r, 401, gateway.CodeUnauthorized)
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s: 401 without WWW-Authenticate: Bearer", ep.method, ep.path)
			}
		}
	}
	checkError(t, g, "unknown endpoint without token", do(t, "GET", g.url+gateway.APIPrefix+"/nothing", ""), 401, gateway.CodeUnauthorized)
	after, _ := st.Routes(t.Context())
	if !equalRoutes(before, after) {
		t.Errorf("unauthorized requests changed the store: %v → %v", before, after)
	}
	if r := do(t, "GET", g.url+gateway.APIPrefix+"/routes", "", auth); r.status != 200 {
		t.Errorf("with the token: got %d %s", r.status, r.body)
	}

	off := startGateway(t, ns, &gateway.Server{Store: st})
	checkError(t, off, "no token configured", do(t, "GET", off.url+gateway.APIPrefix+"/routes", "", "Authorization: Bearer "), 404, gateway.CodeRouteNotFound)
	if r := do(t, "GET", off.url+gateway.APIPrefix+"/openapi.json", ""); r.status != 200 {
		t.Errorf("OpenAPI document on a gateway without token: %d", r.status)
	}
}

// endpoint is an operation of the OpenAPI document.
type endpoint struct {
	method, path string
	public       bool
}

// endpoints reads the operations of openapi.json, the file in the repo.
func endpoints() []endpoint {
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		panic(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		panic(err)
	}
	var out []endpoint
	for p, ops := range doc.Paths {
		for m, op := range ops {
			if m == "parameters" {
				continue
			}
			var o struct{ Security *[]any }
			json.Unmarshal(op, &o)
			out = append(out, endpoint{strings.ToUpper(m), p, o.Security != nil && len(*o.Security) == 0})
		}
	}
	slices.SortFunc(out, func(a, b endpoint) int { return strings.Compare(a.path+a.method, b.path+b.method) })
	return out
}

// TestOpenAPIMatchesAPI: the document in the repo, the document served,
// and the endpoints the gateway serves are the same: every operation of the
// document answers (not the API's own 404), and every endpoint the gateway
// has is in the document.
func TestOpenAPIMatchesAPI(t *testing.T) {
	ns := natsServer(t)
	g := startGateway(t, ns, &gateway.Server{Store: openStore(t, ns), Token: token})
	file, _ := os.ReadFile("openapi.json")
	if r := do(t, "GET", g.url+gateway.APIPrefix, ""); r.status != 200 || r.body != string(file) {
		t.Errorf("GET %s: got %d and a document other than openapi.json", gateway.APIPrefix, r.status)
	}
	var doc map[string]any
	if err := json.Unmarshal(file, &doc); err != nil || !strings.HasPrefix(doc["openapi"].(string), "3.") {
		t.Fatalf("openapi.json is not an OpenAPI 3 document: %v", err)
	}

	documented := map[string]bool{}
	for _, ep := range endpoints() {
		documented[ep.method+" "+ep.path] = true
		path := strings.NewReplacer("{key}", "GET%20%2Fnot-there", "{name}", "nofn").Replace(ep.path)
		r := do(t, ep.method, g.url+gateway.APIPrefix+path, "", auth)
		if r.status == 404 && strings.Contains(r.body, `"code":"not_found"`) && strings.Contains(r.body, "no such endpoint") {
			t.Errorf("documented %s %s is not served", ep.method, ep.path)
		}
	}
	for _, ep := range gateway.APIEndpoints() {
		if !documented[ep] {
			t.Errorf("served endpoint %s is not in openapi.json", ep)
		}
	}
	if n := len(gateway.APIEndpoints()); n != len(documented) {
		t.Errorf("the gateway serves %d endpoints, openapi.json documents %d", n, len(documented))
	}
}

// TestRoutesFile: a routes file loads into the store (adding, and
// replacing routes of the same keys, leaving others); a file with an error
// is refused whole.
func TestRoutesFile(t *testing.T) {
	ns := natsServer(t)
	st := openStore(t, ns)
	g := startGateway(t, ns, &gateway.Server{Store: st})
	if _, err := g.PutRoute(t.Context(), gateway.Route{Method: "GET", Path: "/other", Act: "role:o"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "routes.json")
	os.WriteFile(good, []byte(`{"routes":[
		{"method":"GET","path":"/users/{id}","act":"role:user,cmd:get","timeout":"2s"},
		{"method":"ANY","path":"/app/{proxy+}","function":"web","qualifier":"prod","format":"2.0",
		 "cors":{"allowOrigins":["*"]},"rateLimit":{"rate":100,"burst":20}}
	]}`), 0o644)
	rs, err := gateway.ReadRoutesFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.AddRoutes(t.Context(), rs); err != nil {
		t.Fatal(err)
	}
	if err := g.AddRoutes(t.Context(), rs); err != nil { // again: the same routes replace themselves
		t.Fatalf("loading the file twice: %v", err)
	}
	waitRoutes(t, g.Server, hasRoute("ANY /app/{proxy+}"))
	stored, _ := st.Routes(t.Context())
	if got := keysOf(stored); got != "GET /other|GET /users/{id}|ANY /app/{proxy+}" {
		t.Errorf("stored routes %q", got)
	}

	for name, content := range map[string]string{
		"unknown field": `{"routes":[{"method":"GET","path":"/a","act":"role:a","cors":{"allowOrigin":["*"]}}]}`,
		"invalid route": `{"routes":[{"method":"GET","path":"/a/{x}/{x}","act":"role:a"}]}`,
		"not JSON":      `routes: []`,
	} {
		p := filepath.Join(dir, "bad.json")
		os.WriteFile(p, []byte(content), 0o644)
		if _, err := gateway.ReadRoutesFile(p); err == nil {
			t.Errorf("%s: ReadRoutesFile = nil, want an error", name)
		}
	}
	amb := []gateway.Route{{Method: "GET", Path: "/users/{uid}", Act: "role:x"}, {Method: "GET", Path: "/new", Act: "role:x"}}
	if err := g.AddRoutes(t.Context(), amb); !errors.Is(err, gateway.ErrAmbiguous) {
		t.Errorf("AddRoutes with an ambiguous route = %v, want ErrAmbiguous", err)
	}
	if after, _ := st.Routes(t.Context()); !equalRoutes(stored, after) {
		t.Errorf("a refused file changed the store")
	}
}

func keysOf(rs []gateway.Route) string {
	var ks []string
	for _, r := range rs {
		ks = append(ks, r.Key())
	}
	return strings.Join(ks, "|")
}

// TestTokenFile: a token is made once, kept with owner-only permissions,
// read back; a file others can read is refused.
func TestTokenFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	tok, err := gateway.TokenFile(p)
	if err != nil || len(tok) < 40 {
		t.Fatalf("TokenFile (new) = %q, %v", tok, err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	again, err := gateway.TokenFile(p)
	if err != nil || again != tok {
		t.Errorf("TokenFile (existing) = %q, %v; want %q", again, err, tok)
	}
	os.Chmod(p, 0o644)
	if _, err := gateway.TokenFile(p); err == nil {
		t.Error("TokenFile of a world-readable file = nil, want an error")
	}
	if a, b := gateway.NewToken(), gateway.NewToken(); a == b {
		t.Error("NewToken made the same token twice")
	}
}

// TestConcurrentAmbiguousAdds: gateways adding ambiguous routes at the same
// moment cannot both succeed, since the store is written with
// compare-and-set on one value.
func TestConcurrentAmbiguousAdds(t *testing.T) {
	ns := natsServer(t)
	var gws []*gw
	for range 4 {
		gws = append(gws, startGateway(t, ns, &gateway.Server{Store: openStore(t, ns)}))
	}
	for round := range 5 {
		prefix := "/r" + string(rune('a'+round))
		start := make(chan struct{})
		errs := make(chan error, len(gws))
		for i, g := range gws {
			go func() {
				<-start
				_, err := g.PutRoute(context.Background(), gateway.Route{Method: "GET", Path: prefix + "/{p" + string(rune('0'+i)) + "}", Act: "role:x"})
				errs <- err
			}()
		}
		close(start)
		ok := 0
		for range gws {
			err := <-errs
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, gateway.ErrAmbiguous):
				t.Errorf("round %d: PutRoute = %v, want nil or ErrAmbiguous", round, err)
			}
		}
		if ok != 1 {
			t.Errorf("round %d: %d of %d ambiguous adds succeeded, want 1", round, ok, len(gws))
		}
	}
	stored, _ := gws[0].Store.Routes(t.Context())
	if len(stored) != 5 {
		t.Errorf("the store has %d routes, want 5: %v", len(stored), keysOf(stored))
	}
}

// TestRequestsDuringRouteChanges: requests keep being answered, each by a
// route in effect when it arrived, while the table changes under them.
func TestRequestsDuringRouteChanges(t *testing.T) {
	ns := natsServer(t)
	provider(t, ns, map[string]stoa.Handler{"role:churn": echo})
	g := startGateway(t, ns, &gateway.Server{Store: openStore(t, ns), Routes: []gateway.Route{
		{Method: "GET", Path: "/stable/{id}", Act: "role:churn"},
	}}, "role:churn")
	done := make(chan struct{})
	errs := make(chan string, 64)
	var workers [8]chan struct{}
	for i := range workers {
		workers[i] = make(chan struct{})
		go func() {
			defer close(workers[i])
			for {
				select {
				case <-done:
					return
				default:
				}
				for _, p := range []string{"/stable/1", "/churn/1"} {
					req, _ := http.NewRequest("GET", g.url+p, nil)
					resp, err := client.Do(req)
					if err != nil {
						errs <- err.Error()
						return
					}
					resp.Body.Close()
					if p == "/stable/1" && resp.StatusCode != 200 || resp.StatusCode != 200 && resp.StatusCode != 404 {
						select {
						case errs <- p + ": " + resp.Status:
						default:
						}
					}
				}
			}
		}()
	}
	for i := range 30 {
		r := gateway.Route{Method: "GET", Path: "/churn/{id}", Act: "role:churn", Timeout: time.Duration(i+1) * time.Second}
		if i%3 == 2 {
			if err := g.DeleteRoute(t.Context(), r.Key()); err != nil {
				t.Fatal(err)
			}
			waitRoutes(t, g.Server, noRoute(r.Key()))
			continue
		}
		if _, err := g.PutRoute(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		waitRoutes(t, g.Server, hasRoute(r.Key()))
	}
	close(done)
	for _, w := range workers {
		<-w
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
