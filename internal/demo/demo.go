// Package demo is the small service that `stoa act` and `stoa demo` run in
// process: the chapter's hello and goodbye patterns, and a calculator.
package demo

import (
	"context"
	"errors"

	"github.com/stoaproject/stoa"
)

// Operands is the calculator's message.
type Operands struct {
	Operands []float64 `json:"operands"`
}

// Result is the calculator's reply.
type Result struct {
	Result float64 `json:"result"`
}

// Plugin adds role:hello, role:goodbye and role:calculator.
func Plugin() stoa.Plugin {
	return stoa.Plugin{
		Name: "demo",
		Setup: func(a *stoa.Adder) error {
			message := func(text string) stoa.Handler {
				return func(context.Context, stoa.Msg) (any, error) {
					return map[string]any{"message": text}, nil
				}
			}
			calc := func(op func(a, b float64) float64) stoa.Handler {
				return stoa.Handle(func(_ context.Context, in Operands) (Result, error) {
					if len(in.Operands) != 2 {
						return Result{}, errors.New("operands must be two numbers")
					}
					return Result{Result: op(in.Operands[0], in.Operands[1])}, nil
				})
			}
			return errors.Join(
				a.Add("role:hello,cmd:sayHello", message("Hello!")),
				a.Add("role:goodbye,cmd:sayGoodbye", message("Goodbye")),
				a.Add("role:goodbye,cmd:reallySayGoodbye", message("Goodbye!!")),
				a.Add("role:calculator,cmd:add", calc(func(a, b float64) float64 { return a + b })),
				a.Add("role:calculator,cmd:subtract", calc(func(a, b float64) float64 { return a - b })),
			)
		},
	}
}
