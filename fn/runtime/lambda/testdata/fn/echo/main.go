// echo: an aws-lambda-go function that answers with its event unchanged.
// The tests build it into a `bootstrap` (runtime "provided"); the benchmarks
// time it against a direct in-process call of the same handler.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, ev json.RawMessage) (json.RawMessage, error) { return ev, nil })
}
