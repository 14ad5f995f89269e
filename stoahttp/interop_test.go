package stoahttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/internal/nodetest"
	"github.com/stoaproject/stoa/stoahttp"
)

// peer is testdata/npm/http-peer.js: a real Seneca listener, and Seneca
// clients that act on any port.
type peer struct {
	*nodetest.Proc
	Port    int    `json:"port"`
	ID      string `json:"id"`
	Version string `json:"version"`
}

func startPeer(t *testing.T) *peer {
	t.Helper()
	p := &peer{Proc: nodetest.Start(t, "http-peer.js")}
	if err := json.Unmarshal(p.Ready, p); err != nil || p.Port == 0 {
		t.Fatalf("http-peer.js said %q: %v", p.Ready, err)
	}
	return p
}

// senecaResult is what a Seneca caller got.
type senecaResult struct {
	MS  int `json:"ms"`
	Err *struct {
		Message    string `json:"message"`
		Code       string `json:"code"`
		StatusCode int    `json:"statusCode"`
		Data       *struct {
			Payload struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"payload"`
		} `json:"data"`
	} `json:"err"`
	Out json.RawMessage `json:"out"`
}

// act has a Seneca client of port act msg (an object or Seneca's string
// form); timeout is the caller's act timeout and transport the client's
// HTTP timeout, both in ms, 0 for Seneca's defaults.
func (p *peer) act(t *testing.T, port int, msg any, timeout, transport int) senecaResult {
	t.Helper()
	var r senecaResult
	req := map[string]any{"port": port, "msg": msg}
	if timeout > 0 {
		req["timeout"] = timeout
	}
	if transport > 0 {
		req["transportTimeout"] = transport
	}
	if err := p.Call(req, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func portOf(t *testing.T, url string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(port, &n)
	return n
}

// TestInteropSenecaClient: a Node Seneca client acts on a Stoa listener
// (issue 4, cases 1, 3, 4 and 5 seen from Seneca).
func TestInteropSenecaClient(t *testing.T) {
	e := testEngine(t)
	port := portOf(t, listen(t, e, nil))
	p := startPeer(t) // stopped first, which ends its requests still in flight

	t.Run("reply", func(t *testing.T) {
		for _, tc := range []struct {
			msg  any
			want string
		}{
			{"role:hello,cmd:sayHello,name:Alice", `{"message":"Hello Alice"}`},
			{map[string]any{"role": "hello", "cmd": "sayHello"}, `{"message":"Hello World"}`},
			{"role:test,cmd:array", `[1,2,3]`},
			{"role:test,cmd:empty", `null`},
		} {
			r := p.act(t, port, tc.msg, 0, 0)
			if r.Err != nil || !sameJSON(r.Out, []byte(tc.want)) {
				t.Errorf("Seneca act %v on Stoa: out %s, err %+v; want %s", tc.msg, r.Out, r.Err, tc.want)
			}
		}
	})
	t.Run("metadata", func(t *testing.T) {
		r := p.act(t, port, "role:test,cmd:meta", 0, 0)
		var m stoa.Meta
		if err := json.Unmarshal(r.Out, &m); err != nil || r.Err != nil {
			t.Fatalf("out %s, err %+v", r.Out, r.Err)
		}
		// A Seneca client's origin is its instance id: id/start/pid/version/tag.
		if m.ID == "" || m.TxID == "" || strings.Contains(m.ID, "/") || !strings.Contains(m.Caller, "/"+p.Version+"/") {
			t.Errorf("the act adopted meta %+v; want Seneca's message id, transaction id and origin", m)
		}
	})
	// What SENECA.md §3 says a Seneca caller sees for a remote error: never
	// the remote code, but act_execute "Response Error: <status>", with the
	// listener's JSON at err.data.payload.
	for _, tc := range []struct {
		name, msg   string
		status      string
		payloadCode string
		payloadText string
	}{
		{"handler error", "role:test,cmd:fail", "500 Internal Server Error", stoa.CodeExecute, "handler failed"},
		{"error with a status", "role:test,cmd:forbidden", "403 Forbidden", "forbidden_thing", "not allowed"},
		{"not found", "role:nope,cmd:missing", "500 Internal Server Error", stoa.CodeNotFound, "nope"},
		{"result not an object", "role:test,cmd:string", "500 Internal Server Error", stoa.CodeResult, "not an object or array"},
		// Not role:seneca,cmd:close: the Seneca client has that pattern
		// itself and would close itself without sending anything.
		{"system message", "role:mesh,cmd:leave", "403 Forbidden", stoahttp.CodeNotAllowed, "not served to remote callers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := p.act(t, port, tc.msg, 0, 0)
			want := "seneca: Action  failed: Response Error: " + tc.status + "."
			if r.Err == nil || r.Err.Code != stoa.CodeExecute || r.Err.Message != want {
				t.Fatalf("Seneca act %s: err %+v; want act_execute %q", tc.msg, r.Err, want)
			}
			if d := r.Err.Data; d == nil || d.Payload.Code != tc.payloadCode || !strings.Contains(strings.ToLower(d.Payload.Message), tc.payloadText) {
				t.Errorf("err.data.payload = %+v; want code %s and a message with %q", d, tc.payloadCode, tc.payloadText)
			}
		})
	}
	t.Run("slow action, act timeout", func(t *testing.T) {
		r := p.act(t, port, "role:test,cmd:slow", 300, 0)
		if r.Err == nil || r.Err.Code != stoa.CodeTimeout || !strings.Contains(r.Err.Message, "[TIMEOUT]") {
			t.Errorf("err %+v; want Seneca's own action_timeout", r.Err)
		}
	})
	t.Run("slow action, transport timeout", func(t *testing.T) {
		// With Seneca's default act timeout (22222 ms) the client's HTTP
		// timeout (5555 ms; 300 here) ends the act first.
		r := p.act(t, port, "role:test,cmd:slow", 0, 300)
		if r.Err == nil || r.Err.Code != stoa.CodeExecute || r.Err.Message != "seneca: Action  failed: Client request timeout." {
			t.Errorf("err %+v; want act_execute \"Client request timeout\"", r.Err)
		}
	})
}

// TestInteropSenecaListener: a Stoa client acts on a Node Seneca listener
// (issue 4, cases 2, 3, 4 and 5 seen from Stoa).
func TestInteropSenecaListener(t *testing.T) {
	p := startPeer(t)
	caller, _ := newCaller(t, fmt.Sprintf("127.0.0.1:%d", p.Port))
	act := func(t *testing.T, msg any) (json.RawMessage, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		return caller.Act(ctx, msg)
	}

	t.Run("reply", func(t *testing.T) {
		for _, tc := range []struct {
			msg  any
			want string
		}{
			{"role:hello,cmd:sayHello,name:Alice", `{"message":"Hello Alice"}`},
			{stoa.Msg{"role": "test", "cmd": "array"}, `[1,2,3]`},
			{"role:test,cmd:empty", `null`},
			{stoa.Msg{"role": "nope", "default$": map[string]any{"x": 1}}, `{"x":1}`},
		} {
			out, err := act(t, tc.msg)
			if err != nil || !sameJSON(out, []byte(tc.want)) {
				t.Errorf("Stoa act %v on Seneca: %s, %v; want %s", tc.msg, out, err, tc.want)
			}
		}
	})
	t.Run("metadata and deadline", func(t *testing.T) {
		var meta stoa.Meta
		caller.Add("role:outer", func(ctx context.Context, _ stoa.Msg) (any, error) {
			meta = stoa.ContextMeta(ctx)
			return caller.Act(ctx, "role:test,cmd:echo")
		})
		ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second)
		defer cancel()
		out, err := caller.Act(ctx, "role:outer")
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Seen struct {
				Timeout   float64 `json:"timeout$"`
				Tx        string  `json:"tx$"`
				Transport struct {
					Origin string   `json:"origin"`
					Track  []string `json:"track"`
				} `json:"transport$"`
			} `json:"seen"`
			MetaID string `json:"meta_id"`
			MetaTx string `json:"meta_tx"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		s := got.Seen
		if got.MetaTx != meta.TxID || s.Tx != meta.TxID || !strings.HasSuffix(got.MetaID, "/"+meta.TxID) {
			t.Errorf("Seneca's act: meta.id %q, meta.tx %q, tx$ %q; want our transaction %q", got.MetaID, got.MetaTx, s.Tx, meta.TxID)
		}
		if s.Transport.Origin != caller.ID() || len(s.Transport.Track) != 1 || s.Transport.Track[0] != caller.ID() {
			t.Errorf("transport$ = %+v, want origin and track %q", s.Transport, caller.ID())
		}
		if s.Timeout <= 0 || s.Timeout > 4000 {
			t.Errorf("timeout$ = %v, want the act's remaining time in (0, 4000] ms", s.Timeout)
		}
	})
	t.Run("handler error", func(t *testing.T) {
		_, err := act(t, "role:test,cmd:fail")
		se := wantCode(t, err, stoa.CodeExecute)
		if se.Message != "action cmd:fail,role:test failed: handler failed" || se.Pattern != "cmd:fail,role:test" {
			t.Errorf("error %q, pattern %q; want Seneca's own message and pattern", se.Message, se.Pattern)
		}
		_, err = act(t, "role:test,cmd:failcode")
		se = wantCode(t, err, stoa.CodeExecute)
		if se.Details["statusCode"] != float64(403) && se.Details["statusCode"] != 403 {
			t.Errorf("details %v, want statusCode 403", se.Details)
		}
	})
	t.Run("not found", func(t *testing.T) {
		_, err := act(t, "role:nope,cmd:missing")
		se := wantCode(t, err, stoa.CodeNotFound)
		if !errors.Is(err, stoa.ErrNotFound) || !strings.Contains(se.Message, "no matching action pattern found for {") || !strings.Contains(se.Message, "role: 'nope'") {
			t.Errorf("error %q; want Seneca's not-found message", se.Message)
		}
	})
	t.Run("slow action", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := caller.Act(ctx, "role:test,cmd:slow,ms:5000")
		wantCode(t, err, stoa.CodeTimeout)
		_, err = act(t, stoa.Msg{"role": "test", "cmd": "slow", "ms": 5000, "timeout$": 300})
		wantCode(t, err, stoa.CodeTimeout)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("two 300 ms timeouts took %v", d)
		}
	})
	t.Run("listener obeys timeout$", func(t *testing.T) {
		// The client sends the act's deadline as timeout$, for a Seneca
		// listener to end the act: it does, with no caller deadline here.
		start := time.Now()
		r := send(t, "POST", fmt.Sprintf("http://127.0.0.1:%d/act", p.Port), `{"role":"test","cmd":"slow","ms":5000,"timeout$":300}`, nil)
		if r.status != 500 || errorCode(r.body) != stoa.CodeTimeout {
			t.Errorf("reply %v, want 500 action_timeout", r)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("answered after %v, want about 300 ms", d)
		}
	})
}

// TestInteropQuery sends the same requests to a Seneca listener and to a
// Stoa one and compares the messages their actions saw: how the body, the
// query and msg$ combine.
func TestInteropQuery(t *testing.T) {
	p := startPeer(t)
	stoaURL := listen(t, testEngine(t), nil)
	senecaURL := fmt.Sprintf("http://127.0.0.1:%d", p.Port)
	seen := func(t *testing.T, base, path, body string) map[string]any {
		t.Helper()
		method := "GET"
		if body != "" {
			method = "POST"
		}
		r := send(t, method, base+path, body, nil)
		var out struct{ Seen map[string]any }
		if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 {
			t.Fatalf("%s %s%s: %v", method, base, path, r)
		}
		delete(out.Seen, "transport$") // Seneca's own additions
		delete(out.Seen, "tx$")
		return out.Seen
	}
	for _, tc := range []struct{ path, body string }{
		{"/act?role=test&cmd=echo&x=1&y=true&z=", ""},
		{"/act?role=test&cmd=echo&a=1&a=2&a=3", ""},
		{"/act?role=test&cmd=echo&o[p]=1&o[q]=2&l[]=x&l[]=y", ""},
		{"/act?role=test&cmd=echo&s=a+b%20c%2Cd&u=%E2%9C%93", ""},
		{"/act?msg$=role:test,cmd:echo,n:1,o:{p:[1,2]}", ""},
		{"/act?msg$=role:test,cmd:echo,n:1&n=2", ""},
		{"/act?msg$=n:1,m:1", `{"role":"test","cmd":"echo","n":0,"b":true}`},
		{"/act?cmd=echo&v=q", `{"role":"test","cmd":"x","v":[1,{"w":null}]}`},
		{"/act?role=test&cmd=echo", `[1,"two",{"three":3}]`},
	} {
		s, g := seen(t, senecaURL, tc.path, tc.body), seen(t, stoaURL, tc.path, tc.body)
		sb, _ := json.Marshal(s)
		gb, _ := json.Marshal(g)
		if string(sb) != string(gb) {
			t.Errorf("%s %s: Stoa's action saw %s, Seneca's %s", tc.path, tc.body, gb, sb)
		}
	}
}

// TestInteropCurl: curl on /act works as in the chapter (issue 4, case 6).
func TestInteropCurl(t *testing.T) {
	curl := requireCurl(t)
	base := listen(t, testEngine(t), nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-d", `{"role":"hello","cmd":"sayHello"}`, base + "/act"}, `{"message":"Hello World"}`},
		{[]string{base + "/act?role=hello&cmd=sayHello&name=Q"}, `{"message":"Hello Q"}`},
		{[]string{"-X", "PUT", "-d", `{"role":"hello","cmd":"sayHello","name":"P"}`, base + "/act"}, `{"message":"Hello P"}`},
	} {
		out, err := exec.CommandContext(t.Context(), curl, append([]string{"-s", "-S"}, tc.args...)...).Output()
		if err != nil || string(out) != tc.want {
			t.Errorf("curl %s: %q, %v; want %s", strings.Join(tc.args, " "), out, err, tc.want)
		}
	}
	out, err := exec.CommandContext(t.Context(), curl, "-s", "-S", "-i", "-d", `{"role":"hello","cmd":"nope"}`, base+"/act").Output()
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ := strings.Cut(string(out), "\r\n\r\n")
	if !strings.HasPrefix(head, "HTTP/1.1 500 ") || !strings.Contains(head, "\r\nseneca-origin: curl/") || errorCode([]byte(body)) != stoa.CodeNotFound {
		t.Errorf("curl -i for a missing pattern:\n%s", out)
	}
}

// requireCurl finds curl, failing the test (as a missing node does) when
// it is not installed.
func requireCurl(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping curl in -short mode")
	}
	p, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is not on PATH; install it (apt-get install -y curl)")
	}
	return p
}
