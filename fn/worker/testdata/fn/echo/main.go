// echo: the worker tests' function, an aws-lambda-go program. It answers
// {"tag": <tag.txt of its bundle, read at init>, "event": <the event>}, so
// that a test can tell two bundles of the same code apart. An event may
// also ask it to misbehave:
//
//	{"print": "text"}   write text to stdout (a log line)
//	{"sleep": 50}       sleep that many milliseconds first
//	{"fail": "text"}    return an error with that message
//	{"crash": true}     exit 2 in the middle of the invocation
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Print string `json:"print"`
	Sleep int    `json:"sleep"`
	Fail  string `json:"fail"`
	Crash bool   `json:"crash"`
}

func main() {
	tag, _ := os.ReadFile(filepath.Join(os.Getenv("LAMBDA_TASK_ROOT"), "tag.txt"))
	lambda.Start(func(_ context.Context, raw json.RawMessage) (map[string]any, error) {
		var ev event
		json.Unmarshal(raw, &ev)
		if ev.Print != "" {
			fmt.Println(ev.Print)
		}
		if ev.Sleep > 0 {
			time.Sleep(time.Duration(ev.Sleep) * time.Millisecond)
		}
		if ev.Crash {
			os.Exit(2)
		}
		if ev.Fail != "" {
			return nil, errors.New(ev.Fail)
		}
		return map[string]any{"tag": strings.TrimSpace(string(tag)), "event": raw}, nil
	})
}
