package gateway_test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/gateway"
)

// openRegistry opens the function registry on s's JetStream.
func openRegistry(t *testing.T, s *server.Server) *fn.Registry {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	r, err := fn.Open(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// bundle is a provided-runtime zip: an executable bootstrap.
func bundle(t *testing.T, out string) string {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := z.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("#!/bin/sh\necho " + out + "\n"))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

func functionBody(t *testing.T, name string, routes ...string) string {
	t.Helper()
	b, _ := json.Marshal(routes)
	return `{"name":"` + name + `","config":{"runtime":"provided","routes":` + string(b) + `},"code":"` + bundle(t, name) + `"}`
}

// TestFunctionAPIAndRoutes: functions created, updated and deleted through
// the management API bring their declared routes to every gateway, which
// invoke them through the mesh.
func TestFunctionAPIAndRoutes(t *testing.T) {
	ns := natsServer(t)
	fakeWorker(t, ns)
	g1 := startGateway(t, ns, &gateway.Server{Registry: openRegistry(t, ns), Store: openStore(t, ns), Token: token}, "fn:*")
	g2 := startGateway(t, ns, &gateway.Server{Registry: openRegistry(t, ns), Token: token}, "fn:*")
	api := g1.url + gateway.APIPrefix

	r := do(t, "POST", api+"/functions", functionBody(t, "hello", "GET:/hello"), auth)
	if r.status != 201 {
		t.Fatalf("create: got %d %s", r.status, r.body)
	}
	if v := r.json(t); v["function"] != "hello" || v["version"] != float64(1) {
		t.Errorf("create replied %s, want hello version 1", r.body)
	}
	// The creating gateway routes by it when create returns; the other
	// follows.
	if r := do(t, "GET", g1.url+"/hello", ""); r.status != 200 || r.body != `"Hello from AWS!"` {
		t.Errorf("GET /hello right after create: %d %s", r.status, r.body)
	}
	waitRoutes(t, g2.Server, hasRoute("GET /hello"))
	if r := do(t, "GET", g2.url+"/hello", ""); r.status != 200 || r.body != `"Hello from AWS!"` {
		t.Errorf("GET /hello on the other gateway: %d %s", r.status, r.body)
	}
	if rs := g2.RoutesInEffect(); len(rs) != 1 || rs[0].Source != "function:hello" || rs[0].Function != "hello" {
		t.Errorf("routes %+v, want GET /hello from function:hello", rs)
	}

	checkError(t, g1, "create again", do(t, "POST", api+"/functions", functionBody(t, "hello"), auth), 409, fn.CodeExists)
	checkError(t, g1, "bad name", do(t, "POST", api+"/functions", functionBody(t, "bad name"), auth), 400, fn.CodeInvalidName)
	checkError(t, g1, "no code", do(t, "POST", api+"/functions", `{"name":"x","config":{"runtime":"provided"}}`, auth), 400, gateway.CodeBadRequest)
	checkError(t, g1, "unknown field", do(t, "POST", api+"/functions", `{"name":"x","confg":{}}`, auth), 400, gateway.CodeBadRequest)

	// A route ambiguous with a stored one is refused, and nothing is created.
	if _, err := g1.PutRoute(t.Context(), gateway.Route{Method: "GET", Path: "/users/{id}", Act: "role:u"}); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, g1.Server, hasRoute("GET /users/{id}"))
	checkError(t, g1, "ambiguous route", do(t, "POST", api+"/functions", functionBody(t, "users", "GET:/users/{name}"), auth), 409, gateway.CodeConflict)
	checkError(t, g1, "not created", do(t, "GET", api+"/functions/users", "", auth), 404, fn.CodeNotFound)
	checkError(t, g1, "duplicate of another function's", do(t, "POST", api+"/functions", functionBody(t, "other", "GET:/hello"), auth), 409, gateway.CodeConflict)

	// Update: new routes replace the old.
	r = do(t, "PUT", api+"/functions/hello", `{"config":{"runtime":"provided","routes":["GET:/hi","POST:/hi"]}}`, auth)
	if r.status != 200 || r.json(t)["version"] != float64(2) {
		t.Fatalf("update: got %d %s, want version 2", r.status, r.body)
	}
	waitRoutes(t, g2.Server, func(rs []gateway.Route) bool { return keysOf(rs) == "GET /hi|POST /hi" })

	r = do(t, "GET", api+"/functions/hello/versions", "", auth)
	var vs []fn.Version
	if err := json.Unmarshal([]byte(r.body), &vs); err != nil || len(vs) != 2 || vs[0].Number != 1 || vs[1].Number != 2 {
		t.Errorf("versions: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", api+"/functions/hello/versions/1", "", auth); r.status != 200 || !strings.Contains(r.body, `"GET:/hello"`) {
		t.Errorf("version 1: %d %s", r.status, r.body)
	}
	checkError(t, g1, "version 9", do(t, "GET", api+"/functions/hello/versions/9", "", auth), 404, fn.CodeVersionNotFound)
	checkError(t, g1, "version x", do(t, "GET", api+"/functions/hello/versions/x", "", auth), 400, gateway.CodeBadRequest)

	r = do(t, "PUT", api+"/functions/hello/aliases/prod", `{"version":1}`, auth)
	if r.status != 200 || !strings.Contains(r.body, `"prod": 1`) {
		t.Errorf("set alias: %d %s", r.status, r.body)
	}
	checkError(t, g1, "alias to a missing version", do(t, "PUT", api+"/functions/hello/aliases/prod", `{"version":7}`, auth), 404, fn.CodeVersionNotFound)
	checkError(t, g1, "bad alias body", do(t, "PUT", api+"/functions/hello/aliases/prod", `{"v":1}`, auth), 400, gateway.CodeBadRequest)
	if r := do(t, "DELETE", api+"/functions/hello/aliases/prod", "", auth); r.status != 204 {
		t.Errorf("delete alias: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", api+"/functions", "", auth); r.status != 200 || !strings.Contains(r.body, `"name": "hello"`) {
		t.Errorf("list: %d %s", r.status, r.body)
	}

	if r := do(t, "DELETE", api+"/functions/hello", "", auth); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	waitRoutes(t, g2.Server, func(rs []gateway.Route) bool { return len(rs) == 0 })
	checkError(t, g1, "delete again", do(t, "DELETE", api+"/functions/hello", "", auth), 404, fn.CodeNotFound)
}

// TestFunctionAPIWithoutRegistry: the function endpoints say there is no
// registry; invoke still works through the mesh.
func TestFunctionAPIWithoutRegistry(t *testing.T) {
	ns := natsServer(t)
	fakeWorker(t, ns)
	g := startGateway(t, ns, &gateway.Server{Token: token}, "fn:*")
	checkError(t, g, "list", do(t, "GET", g.url+gateway.APIPrefix+"/functions", "", auth), 503, gateway.CodeUnavailable)
	if r := do(t, "POST", g.url+gateway.APIPrefix+"/functions/hello/invoke", "", auth); r.status != 200 {
		t.Errorf("invoke without a registry: %d %s", r.status, r.body)
	}
}
