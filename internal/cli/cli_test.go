package cli

import (
	"bytes"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(t.Context(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommands(t *testing.T) {
	for _, c := range []struct {
		args       []string
		code       int
		out, err   string // substrings
		oneLineErr bool
	}{
		{args: []string{"version"}, out: "stoa "},
		{args: []string{"act", `{"role":"hello","cmd":"sayHello"}`}, out: `"message": "Hello!"`},
		{args: []string{"act", "role:calculator,cmd:add,operands:[7,3]"}, out: `"result": 10`},
		{args: []string{"act", "role:calculator,cmd:subtract,operands:[7,3]"}, out: `"result": 4`},
		{args: []string{"act", "role:nobody"}, code: 1, err: "act_not_found", oneLineErr: true},
		{args: []string{"act", "role:calculator,cmd:add,operands:[1]"}, code: 1, err: "operands must be two numbers", oneLineErr: true},
		{args: []string{"act", "a:x y"}, code: 2, err: "msg_jsonic_syntax", oneLineErr: true},
		{args: []string{"act"}, code: 2, err: "act takes one MESSAGE", oneLineErr: true},
		{args: []string{"act", "--bogus", "role:x"}, code: 2, err: "unknown flag: --bogus", oneLineErr: true},
		{args: []string{"version", "--nope"}, code: 2, err: "unknown flag", oneLineErr: true},
		{args: []string{"frobnicate"}, code: 2, err: `unknown command "frobnicate"`, oneLineErr: true},
		{args: []string{"act", "--timeout", "soon", "role:x"}, code: 2, err: "invalid argument", oneLineErr: true},
		{args: []string{"demo"}, out: "Goodbye!!"},
		{args: []string{}, out: "Usage:"},
	} {
		code, out, errs := run(t, c.args...)
		if code != c.code {
			t.Errorf("stoa %q: exit %d, want %d (stderr %q)", c.args, code, c.code, errs)
		}
		if !strings.Contains(out, c.out) {
			t.Errorf("stoa %q: stdout %q, want it to contain %q", c.args, out, c.out)
		}
		if !strings.Contains(errs, c.err) {
			t.Errorf("stoa %q: stderr %q, want it to contain %q", c.args, errs, c.err)
		}
		if c.oneLineErr && strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("stoa %q: stderr has more than one line: %q", c.args, errs)
		}
	}
}

// TestHelp checks that every command has help text.
func TestHelp(t *testing.T) {
	root := newRoot(nil, nil, nil)
	for _, cmd := range root.Commands() {
		if cmd.Hidden || cmd.Name() == "help" {
			continue
		}
		code, out, _ := run(t, cmd.Name(), "--help")
		text := cmd.Long
		if text == "" {
			text = cmd.Short
		}
		if code != 0 || !strings.Contains(out, text) || !strings.Contains(out, "Usage:") {
			t.Errorf("stoa %s --help: exit %d, output %q", cmd.Name(), code, out)
		}
		if cmd.Short == "" {
			t.Errorf("stoa %s has no short help", cmd.Name())
		}
	}
}
