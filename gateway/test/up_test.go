package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// deployedOut is what stoa fn create prints (claudia create's shape).
type deployedOut struct {
	Lambda struct {
		Name    string `json:"name"`
		Version int    `json:"version"`
		Runtime string `json:"runtime"`
		Handler string `json:"handler"`
	} `json:"lambda"`
	API *struct {
		URL    string `json:"url"`
		Module string `json:"module"`
		Routes []struct {
			Route, URL, Error string
		} `json:"routes"`
	} `json:"api"`
}

// routeURL returns the URL create printed for route key, or "".
func (d deployedOut) routeURL(key string) string {
	if d.API == nil {
		return ""
	}
	for _, r := range d.API.Routes {
		if r.Route == key {
			return r.URL
		}
	}
	return ""
}

func decodeDeployed(t *testing.T, out string) deployedOut {
	t.Helper()
	var d deployedOut
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("stoa fn create printed %q: %v", out, err)
	}
	return d
}

// upGateway reads stoa up's banner: the gateway's URL and the token file.
func upGateway(t *testing.T, banner []string) (url, tokenFile string) {
	t.Helper()
	for _, l := range banner {
		rest, ok := strings.CutPrefix(l, "stoa up: gateway on ")
		if !ok {
			continue
		}
		url, rest, _ = strings.Cut(rest, " ")
		if !strings.HasPrefix(rest, "(management API "+url+"/_stoa/api/v1, token in ") {
			t.Errorf("stoa up's gateway line %q does not say where the API and the token are", l)
		}
		_, tokenFile, _ = strings.Cut(rest, "token in ")
		return url, strings.TrimSuffix(tokenFile, ")")
	}
	t.Fatalf("stoa up printed no gateway line: %q", banner)
	return "", ""
}

// TestUp runs stoa up as a user does and drives the gateway it runs with
// the stoa command and curl: the management token made on the first start
// (0600, in the data directory) and kept across restarts; stoa fn create
// --route printing the URL that serves the function, which curl then
// gets; stoa fn create --api-module deploying the chapter's claudia app
// with the routes it declares; and stoa fn --gateway working through the
// management API, where a wrong token gets 401 and changes nothing.
func TestUp(t *testing.T) {
	skipIfCannot(t)
	dir := t.TempDir()
	data := filepath.Join(dir, ".stoa")
	upArgs := []string{"up", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--gateway", "127.0.0.1:0"}
	up, banner := start(t, dir, "stoa up: ready", upArgs...)
	gw, tokenFile := upGateway(t, banner)
	if !strings.HasPrefix(gw, "http://127.0.0.1:") {
		t.Fatalf("stoa up's gateway is at %q, want http://127.0.0.1:PORT", gw)
	}
	if tokenFile != filepath.Join(data, "gateway.token") {
		t.Errorf("stoa up keeps the token in %s, want %s", tokenFile, filepath.Join(data, "gateway.token"))
	}
	st, err := os.Stat(tokenFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	tok, _ := os.ReadFile(tokenFile)
	token := strings.TrimSpace(string(tok))
	if len(token) < 40 {
		t.Fatalf("token %q: want 32 random bytes, encoded", token)
	}
	if b, err := os.ReadFile(filepath.Join(data, "gateway.url")); err != nil || strings.TrimSpace(string(b)) != gw {
		t.Errorf("DATA/gateway.url: %q, %v; want %s", b, err, gw)
	}
	if code, body := curl(t, gw+"/readyz"); code != 200 {
		t.Errorf("the gateway's /readyz: %d %s", code, body)
	}
	if code, body := curl(t, gw+"/_stoa/api/v1/functions"); code != 401 || !strings.Contains(body, `"code":"unauthorized"`) {
		t.Errorf("the management API without the token: %d %s, want 401", code, body)
	}

	// stoa fn create --route prints the URL that now serves the function.
	greet := writeFunction(t, greetJS)
	d := decodeDeployed(t, mustStoa(t, dir, "fn", "create", "--name", "greet", "--runtime", "node", "--handler", "app.handler", "--route", "GET:/greet", greet))
	if d.Lambda.Name != "greet" || d.Lambda.Version != 1 || d.API == nil || d.API.URL != gw {
		t.Fatalf("stoa fn create --route printed %+v; want greet, version 1, api.url %s", d, gw)
	}
	url := d.routeURL("GET /greet")
	if url != gw+"/greet" {
		t.Fatalf("stoa fn create --route GET:/greet printed %+v; want the route's URL %s/greet", d.API.Routes, gw)
	}
	if code, body := curl(t, url); code != 200 || body != "hello from node at /greet" {
		t.Errorf("curl %s: %d %q, want 200 \"hello from node at /greet\"", url, code, body)
	}

	// stoa fn create --api-module app: claudia create --api-module app, one
	// for one, in the app's directory (the name is package.json's, the
	// handler app.proxyRouter).
	app, err := filepath.Abs(appDir)
	if err != nil {
		t.Fatal(err)
	}
	d = decodeDeployed(t, mustStoa(t, app, "fn", "create", "--api-module", "app", "--data", data))
	if d.Lambda.Name != "stoa-gateway-claudia" || d.Lambda.Handler != "app.proxyRouter" || d.Lambda.Runtime != "node" || d.API == nil || d.API.Module != "app" {
		t.Errorf("stoa fn create --api-module app printed %+v", d)
	}
	wantRoutes := []string{"GET /echo/{id}", "GET /fail", "GET /hello", "GET /users/{id}", "GET /who", "OPTIONS /echo/{id}", "OPTIONS /fail",
		"OPTIONS /hello", "OPTIONS /items", "OPTIONS /users/{id}", "OPTIONS /who", "POST /echo/{id}", "POST /items"}
	var got []string
	for _, r := range d.API.Routes {
		got = append(got, r.Route)
		if r.URL == "" {
			t.Errorf("route %s is not served: %s", r.Route, r.Error)
		}
	}
	if strings.Join(got, ",") != strings.Join(wantRoutes, ",") {
		t.Errorf("stoa fn create --api-module app created routes %q, want the app's %q", got, wantRoutes)
	}
	if code, body := curl(t, d.routeURL("GET /hello")); code != 200 || body != `"Hello from AWS!"` {
		t.Errorf("curl %s: %d %s, want 200 \"Hello from AWS!\"", d.routeURL("GET /hello"), code, body)
	}
	if code, body := curl(t, gw+"/users/7"); code != 200 || body != `{"id":"7"}` {
		t.Errorf("curl %s/users/7: %d %s, want 200 {\"id\":\"7\"}", gw, code, body)
	}
	if code, body := curl(t, "-X", "POST", "-H", "Content-Type: application/json", "-d", `{"name":"a"}`, gw+"/items"); code != 201 || body != `{"created":{"name":"a"}}` {
		t.Errorf("curl -X POST %s/items: %d %s, want 201", gw, code, body)
	}

	// A route another function has: the function is deployed, the route
	// is not served, and create says so; the first function keeps it.
	r := stoaRun(t, dir, nil, "fn", "create", "--name", "greet2", "--runtime", "node", "--handler", "app.handler", "--route", "GET:/greet", greet)
	d = decodeDeployed(t, r.stdout)
	if r.code != 0 || d.Lambda.Name != "greet2" || d.routeURL("GET /greet") != "" || !strings.Contains(r.stderr, "route GET /greet is not served") {
		t.Errorf("stoa fn create with a route another function has: exit %d, stdout %s, stderr %q; want the function, no URL, and why", r.code, r.stdout, r.stderr)
	}
	if code, body := curl(t, gw+"/greet"); code != 200 || body != "hello from node at /greet" {
		t.Errorf("curl %s/greet after another function claimed it: %d %q", gw, code, body)
	}

	// stoa fn --gateway: the management API instead of NATS, with the token
	// from the data directory, --token or STOA_GATEWAY_TOKEN.
	elsewhere := t.TempDir() // no .stoa here: no NATS URL, no token file
	d = decodeDeployed(t, mustStoa(t, dir, "fn", "create", "--gateway", gw, "--name", "viaapi", "--runtime", "node", "--handler", "app.handler", "--route", "GET:/viaapi", greet))
	if d.Lambda.Name != "viaapi" || d.Lambda.Version != 1 || d.routeURL("GET /viaapi") != gw+"/viaapi" {
		t.Errorf("stoa fn create --gateway printed %+v", d)
	}
	if code, body := curl(t, gw+"/viaapi"); code != 200 || body != "hello from node at /viaapi" {
		t.Errorf("curl %s/viaapi: %d %q", gw, code, body)
	}
	r = stoaRun(t, elsewhere, nil, "fn", "invoke", "--gateway", gw, "--token", token, "viaapi", "--payload", `{"path":"/invoked"}`)
	if r.code != 0 || !strings.Contains(r.stdout, `"body":"hello from node at /invoked"`) {
		t.Errorf("stoa fn invoke --gateway --token: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = stoaRun(t, elsewhere, []string{"STOA_GATEWAY_TOKEN=" + token}, "fn", "list", "--gateway", gw)
	for _, name := range []string{"greet", "greet2", "stoa-gateway-claudia", "viaapi"} {
		if r.code != 0 || !strings.Contains(r.stdout, name) {
			t.Errorf("stoa fn list --gateway with STOA_GATEWAY_TOKEN: exit %d, no %s in %q (stderr %q)", r.code, name, r.stdout, r.stderr)
		}
	}
	r = stoaRun(t, elsewhere, nil, "fn", "list", "--gateway", gw)
	if r.code != 2 || !strings.Contains(r.stderr, "no token") {
		t.Errorf("stoa fn list --gateway with no token anywhere: exit %d, stderr %q; want 2 and \"no token\"", r.code, r.stderr)
	}

	// A wrong token: 401, and nothing changes.
	before := mustStoa(t, dir, "fn", "list", "--json")
	for _, args := range [][]string{
		{"fn", "create", "--name", "intruder", "--runtime", "node", "--handler", "app.handler", "--route", "GET:/intruder", greet},
		{"fn", "update", "--name", "greet", "--memory", "256", "--keep-code"},
		{"fn", "alias", "greet", "prod", "1"},
		{"fn", "rm", "viaapi"},
		{"fn", "invoke", "greet"},
		{"fn", "list"},
	} {
		r := stoaRun(t, elsewhere, nil, append(args, "--gateway", gw, "--token", "not-"+token)...)
		if r.code != 1 || !strings.Contains(r.stderr, "401 Unauthorized") {
			t.Errorf("stoa %s with a wrong token: exit %d, stderr %q; want 1 and 401 Unauthorized", strings.Join(args[:2], " "), r.code, r.stderr)
		}
	}
	if after := mustStoa(t, dir, "fn", "list", "--json"); after != before {
		t.Errorf("calls with a wrong token changed the functions:\nbefore %s\nafter  %s", before, after)
	}
	if code, body := curl(t, gw+"/intruder"); code != 404 {
		t.Errorf("curl %s/intruder after a create with a wrong token: %d %s, want 404", gw, code, body)
	}

	// Stopped and started again: the same token, the routes still served.
	if rest, code := up.stop(); code != 0 || !strings.Contains(strings.Join(rest, "\n"), "stoa up: stopped") {
		t.Fatalf("stoa up on SIGINT: exit %d, %q", code, rest)
	}
	if _, err := os.Stat(filepath.Join(data, "gateway.url")); !os.IsNotExist(err) {
		t.Errorf("DATA/gateway.url after stoa up stopped: %v, want it removed", err)
	}
	_, banner = start(t, dir, "stoa up: ready", upArgs...)
	gw, _ = upGateway(t, banner)
	if tok2, err := os.ReadFile(tokenFile); err != nil || strings.TrimSpace(string(tok2)) != token {
		t.Errorf("the token after a restart: %q, %v; want the first start's", tok2, err)
	}
	if code, body := curl(t, gw+"/greet"); code != 200 || body != "hello from node at /greet" {
		t.Errorf("curl %s/greet after a restart: %d %q", gw, code, body)
	}
	if code, body := curl(t, "-H", "Authorization: Bearer "+token, gw+"/_stoa/api/v1/functions/greet"); code != 200 || !strings.Contains(body, `"name": "greet"`) {
		t.Errorf("the management API with the kept token after a restart: %d %s", code, body)
	}
}

// TestUpGatewayFlag: --gateway "" runs no gateway (and stoa fn create
// --route says it cannot tell the URL), and a gateway address that is
// taken stops stoa up with a message naming the flag.
func TestUpGatewayFlag(t *testing.T) {
	skipIfCannot(t)
	dir := t.TempDir()
	up, banner := start(t, dir, "stoa up: ready", "up", "--listen", "127.0.0.1:0", "--http", "", "--gateway", "")
	for _, l := range banner {
		if strings.Contains(l, "gateway") {
			t.Errorf("stoa up --gateway \"\" printed %q", l)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".stoa", "gateway.url")); !os.IsNotExist(err) {
		t.Errorf("stoa up --gateway \"\" wrote gateway.url (%v)", err)
	}
	r := stoaRun(t, dir, nil, "fn", "create", "--name", "greet", "--runtime", "node", "--handler", "app.handler", "--route", "GET:/greet", writeFunction(t, greetJS))
	if d := decodeDeployed(t, r.stdout); r.code != 0 || d.Lambda.Name != "greet" || d.routeURL("GET /greet") != "" || !strings.Contains(r.stderr, "runs no gateway") {
		t.Errorf("stoa fn create --route with no gateway: exit %d, stdout %s, stderr %q; want the function, no URL, and why", r.code, r.stdout, r.stderr)
	}
	up.stop()

	// The address of a running gateway is taken.
	_, banner = start(t, dir, "stoa up: ready", "up", "--listen", "127.0.0.1:0", "--http", "", "--gateway", "127.0.0.1:0")
	gw, _ := upGateway(t, banner)
	other := t.TempDir()
	r = stoaRun(t, other, nil, "up", "--listen", "127.0.0.1:0", "--http", "", "--gateway", strings.TrimPrefix(gw, "http://"))
	if r.code != 1 || !strings.Contains(r.stderr, "--gateway") || !strings.Contains(r.stderr, "address already in use") {
		t.Errorf("stoa up on a taken gateway address: exit %d, stderr %q; want 1, the flag and the reason", r.code, r.stderr)
	}
}
