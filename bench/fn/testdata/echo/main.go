// echo: the benchmark's function, an unmodified aws-lambda-go program that
// answers with its event. The same binary runs under Stoa's worker and
// under AWS's Runtime Interface Emulator.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, ev json.RawMessage) (json.RawMessage, error) { return ev, nil })
}
