// Command broken does not compile: the registry reports the compiler's
// error.
package main

func main() { undefinedFunction() }
