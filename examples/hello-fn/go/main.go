// Command hello is the Go half of the hello-fn example: an unmodified
// aws-lambda-go function. Stoa builds it when it is deployed with
// --runtime go, and runs it as AWS Lambda would:
//
//	stoa fn create --name hello-go --runtime go ./examples/hello-fn/go
//	stoa fn invoke hello-go --payload '{"name":"Ada"}'
//
// It is a module of its own, as a function's code is: it carries its go.mod
// and go.sum into the bundle.
package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Request is the event the function takes.
type Request struct {
	Name string `json:"name"`
}

// Response is what it answers.
type Response struct {
	Message   string `json:"message"`
	Runtime   string `json:"runtime"`
	RequestID string `json:"requestId"`
}

func hello(ctx context.Context, req Request) (Response, error) {
	name := req.Name
	if name == "" {
		name = "world"
	}
	lc, _ := lambdacontext.FromContext(ctx)
	fmt.Printf("saying hello to %s\n", name) // goes to the function's log
	return Response{Message: "Hello, " + name + "!", Runtime: "go", RequestID: lc.AwsRequestID}, nil
}

func main() { lambda.Start(hello) }
