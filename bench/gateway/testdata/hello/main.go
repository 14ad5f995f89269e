// hello: the benchmark's function route, an unmodified aws-lambda-go
// program reading the gateway's event with aws-lambda-go's own
// APIGatewayProxyRequest and answering the same body as the net/http floor.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		b, err := json.Marshal(map[string]string{"message": "Hello, " + req.PathParameters["name"]})
		if err != nil {
			return events.APIGatewayProxyResponse{}, err
		}
		return events.APIGatewayProxyResponse{
			StatusCode: 200,
			Headers:    map[string]string{"Content-Type": "application/json"},
			Body:       string(b),
		}, nil
	})
}
