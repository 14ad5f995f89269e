package stoahttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/stoahttp"
)

// A service listens; a caller attaches a client and acts as if the
// pattern were its own.
func ExampleNewClient() {
	ctx := context.Background()
	service := stoa.New()
	service.Add("role:hello,cmd:sayHello", func(_ context.Context, m stoa.Msg) (any, error) {
		return map[string]any{"message": "Hello " + m["name"].(string)}, nil
	})
	ln, _ := net.Listen("tcp", "127.0.0.1:0") // :10101 is Seneca's default
	srv := &stoahttp.Server{Engine: service}
	go srv.Serve(ln)
	defer srv.Close(ctx)

	caller := stoa.New()
	defer caller.Close(ctx) // closes the client too
	stoahttp.NewClient(caller, ln.Addr().String(), stoahttp.WithPins("role:hello"))

	out, err := caller.Act(ctx, "role:hello,cmd:sayHello,name:Alice")
	fmt.Println(string(out), err)

	_, err = caller.Act(ctx, "role:hello,cmd:sayBye")
	var se *stoa.Error
	if errors.As(err, &se) {
		fmt.Println(se.Code) // the far side's own error
	}
	// Output:
	// {"message":"Hello Alice"} <nil>
	// act_not_found
}

// Any HTTP client can act: this is what curl -d sends.
func ExampleServer() {
	e := stoa.New()
	e.Add("role:hello,cmd:sayHello", func(context.Context, stoa.Msg) (any, error) {
		return map[string]any{"message": "Hello!"}, nil
	})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &stoahttp.Server{Engine: e}
	go srv.Serve(ln)
	defer srv.Close(context.Background())

	resp, err := http.Post("http://"+ln.Addr().String()+"/act", "application/json",
		strings.NewReader(`{"role":"hello","cmd":"sayHello"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"), string(body))
	// Output: 200 OK application/json {"message":"Hello!"}
}
