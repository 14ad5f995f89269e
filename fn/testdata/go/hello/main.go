// Command hello is the Go main package the fn tests build into a bootstrap:
// it prints a line and exits (it does not speak the Runtime API).
package main

import "fmt"

func main() { fmt.Println("hello from go") }
