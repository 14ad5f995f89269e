package fn

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestDurationJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{`"3s"`, 3 * time.Second, false},
		{`"1m30s"`, 90 * time.Second, false},
		{`"1500ms"`, 1500 * time.Millisecond, false},
		{`30`, 30 * time.Second, false},
		{`2.5`, 2500 * time.Millisecond, false},
		{`0`, 0, false},
		{`null`, 0, false},
		{`"3"`, 0, true},
		{`"soon"`, 0, true},
		{`true`, 0, true},
		{`1e300`, 0, true},
	} {
		var d Duration
		err := json.Unmarshal([]byte(tc.in), &d)
		switch {
		case tc.bad && err == nil:
			t.Errorf("Unmarshal(%s) = %v, want an error", tc.in, d)
		case !tc.bad && err != nil:
			t.Errorf("Unmarshal(%s): %v", tc.in, err)
		case !tc.bad && time.Duration(d) != tc.want:
			t.Errorf("Unmarshal(%s) = %v, want %v", tc.in, time.Duration(d), tc.want)
		}
	}
	for _, tc := range []struct {
		in   Duration
		want string
	}{
		{Duration(3 * time.Second), `"3s"`},
		{Duration(90 * time.Second), `"1m30s"`},
		{0, `"0s"`},
	} {
		got, err := json.Marshal(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", time.Duration(tc.in), got, err, tc.want)
		}
	}
}

func TestConfigJSON(t *testing.T) {
	cfg := Config{Runtime: RuntimeNode, Handler: "app.handler", Timeout: Duration(30 * time.Second), Env: map[string]string{"A": "1"}}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"runtime":"node","handler":"app.handler","timeout":"30s","env":{"A":"1"}}`; got != want {
		t.Errorf("Marshal(config) = %s, want %s", got, want)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(back) != fmt.Sprint(cfg) {
		t.Errorf("round trip = %+v, want %+v", back, cfg)
	}
}

func TestError(t *testing.T) {
	err := error(&Error{Code: CodeInvalidConfig, Function: "hello", Field: "memoryMB", Message: "memoryMB: 64 MB is outside 128–10240 MB", Err: errors.New("cause")})
	if got, want := err.Error(), "fn_invalid_config: hello: memoryMB: 64 MB is outside 128–10240 MB: cause"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, ErrInvalidConfig) || errors.Is(err, ErrInvalidBundle) {
		t.Errorf("errors.Is does not match by code")
	}
	wrapped := fmt.Errorf("deploying: %w", err)
	if !errors.Is(wrapped, ErrInvalidConfig) {
		t.Errorf("errors.Is through a wrap failed")
	}
	// Off the wire: the code still matches, the cause is gone.
	b, err2 := json.Marshal(err)
	if err2 != nil {
		t.Fatal(err2)
	}
	if got, want := string(b), `{"code":"fn_invalid_config","message":"memoryMB: 64 MB is outside 128–10240 MB","function":"hello","field":"memoryMB"}`; got != want {
		t.Errorf("Marshal(error) = %s, want %s", got, want)
	}
	var decoded *Error
	if err := json.Unmarshal(b, &decoded); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(decoded, ErrInvalidConfig) || decoded.Err != nil {
		t.Errorf("decoded error %#v does not match by code", decoded)
	}
}
