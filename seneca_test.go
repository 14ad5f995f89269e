package stoa

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/stoaproject/stoa/internal/nodetest"
)

var update = flag.Bool("update", false, "rewrite testdata/seneca/outcomes.json from real Seneca")

// senecaCase is one row of testdata/seneca/cases.json: patterns added in
// order, one act, and whether every action first calls its prior.
type senecaCase struct {
	Name    string            `json:"name"`
	Adds    []json.RawMessage `json:"adds"`
	Act     json.RawMessage   `json:"act"`
	Prior   bool              `json:"prior,omitempty"`
	Options struct {
		Strict struct {
			Add bool `json:"add"`
		} `json:"strict"`
	} `json:"options"`
}

// outcome is what a case answered: the index of the add whose action
// replied (a JSON number), "not_found", "error:<code>" or "add_error:<code>",
// and the indices visited through prior.
type outcome struct {
	Answer any   `json:"answer"`
	Chain  []int `json:"chain"`
}

// runSenecaCase runs c through a fresh Engine, as seneca-cases.js runs it
// through a fresh Seneca instance.
func runSenecaCase(ctx context.Context, c senecaCase) outcome {
	e := New(WithStrictAdd(c.Options.Strict.Add))
	defer e.Close(context.Background())
	for i, raw := range c.Adds {
		var p any
		if err := json.Unmarshal(raw, &p); err != nil {
			return outcome{Answer: "bad_case:" + err.Error()}
		}
		err := e.Add(p, func(ctx context.Context, msg Msg) (any, error) {
			chain := []int{i}
			if c.Prior {
				out, err := Prior(ctx, msg)
				if err != nil {
					return nil, err
				}
				var prev struct{ Chain []int }
				if err := json.Unmarshal(out, &prev); err != nil {
					return nil, err
				}
				chain = append(chain, prev.Chain...)
			}
			return map[string]any{"i": i, "chain": chain}, nil
		})
		if err != nil {
			var se *Error
			errors.As(err, &se)
			return outcome{Answer: "add_error:" + se.Code}
		}
	}
	var msg any
	if err := json.Unmarshal(c.Act, &msg); err != nil {
		return outcome{Answer: "bad_case:" + err.Error()}
	}
	out, err := e.Act(ctx, msg)
	if err != nil {
		var se *Error
		if !errors.As(err, &se) {
			return outcome{Answer: "error:" + err.Error()}
		}
		if se.Code == CodeNotFound {
			return outcome{Answer: "not_found"}
		}
		return outcome{Answer: "error:" + se.Code}
	}
	var reply *struct {
		I     int   `json:"i"`
		Chain []int `json:"chain"`
	}
	if err := json.Unmarshal(out, &reply); err != nil {
		return outcome{Answer: "bad_reply:" + string(out)}
	}
	if reply == nil {
		return outcome{Answer: nil}
	}
	return outcome{Answer: float64(reply.I), Chain: reply.Chain}
}

// sameOutcome compares outcomes; an add that fails fails in both, whatever
// the code (Seneca throws jsonic's "unexpected" for some, Stoa one code).
func sameOutcome(a, b outcome) bool {
	as, aok := a.Answer.(string)
	bs, bok := b.Answer.(string)
	if aok && bok && strings.HasPrefix(as, "add_error:") && strings.HasPrefix(bs, "add_error:") {
		return true
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func loadCases(t *testing.T, path string) ([]senecaCase, []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []senecaCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cases, b
}

// TestSenecaCases runs one table of cases through real Seneca 3.38 and
// through the engine, and fails on any difference. The outcomes Seneca gave
// are also kept in testdata/seneca/outcomes.json, which -short runs use.
// More case files can be given in STOA_SENECA_CASES (comma-separated).
func TestSenecaCases(t *testing.T) {
	files := []string{"testdata/seneca/cases.json"}
	if extra := os.Getenv("STOA_SENECA_CASES"); extra != "" {
		files = append(files, strings.Split(extra, ",")...)
	}
	for _, file := range files {
		cases, raw := loadCases(t, file)
		if len(cases) < 60 && file == files[0] {
			t.Errorf("%s has %d cases, want at least 60", file, len(cases))
		}
		var want []outcome
		recorded := file == files[0]
		if testing.Short() && recorded {
			b, err := os.ReadFile("testdata/seneca/outcomes.json")
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
		} else {
			out := nodetest.Run(t, "seneca-cases.js", raw)
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatalf("seneca-cases.js: %v", err)
			}
			if *update && recorded {
				b, _ := json.MarshalIndent(want, "", " ")
				if err := os.WriteFile("testdata/seneca/outcomes.json", append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		if len(want) != len(cases) {
			t.Fatalf("%s: %d outcomes for %d cases", file, len(want), len(cases))
		}
		for i, c := range cases {
			got := runSenecaCase(t.Context(), c)
			if !sameOutcome(got, want[i]) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(want[i])
				t.Errorf("%s case %d %q: adds %s act %s prior=%v: got %s, Seneca %s", file, i, c.Name, c.Adds, c.Act, c.Prior, g, w)
			}
		}
	}
}
