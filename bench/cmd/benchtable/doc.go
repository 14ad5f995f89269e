// Benchtable runs every benchmark of the module and the comparisons with
// Stoa's peers, and prints one table. `make bench` runs it.
//
// Usage:
//
//	go run ./bench/cmd/benchtable [-bench regexp] [-count n] [-benchtime d] [-short]
//
// It lists the packages that have benchmarks (go test -list), runs
//
//	go test -run '^$' -bench regexp -benchmem [-count n] [-benchtime d] [-short] PACKAGES
//
// over them, echoing go test's output to stderr as it comes (keep it for
// benchstat with 2>file), and then runs each comparison runner: a package
// under bench/ whose TestCompare prints compare: lines (bench/doc.go
// describes them). Runners are listed one per line in main.go; one whose
// package does not exist yet is skipped. -bench selects runners too, by the
// last element of their path (inproc, http).
//
// On stdout it prints the table: per benchmark the median ns/op, B/op and
// allocs/op over -count runs (with their spread when -count > 1) and any
// other metric the benchmark reported; then, per comparison, the peer's
// value, Stoa's, the ratio (above 1, Stoa is better) and the goal the
// project set for it. -short is a quick pass: -benchtime 100ms unless
// given, go test -short, and runners in their quick mode.
//
// It exits with status 1 when a benchmark or a comparison failed, after
// printing what it measured.
package main
