package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stoaproject/stoa/bench/internal/compare"
)

// table is everything benchtable prints on stdout.
type table struct {
	modPath            string
	opts               options
	loadStart, loadEnd string
	bench              benchOutput
	runners            []runnerRow
}

// runnerRow is one entry of runners: its comparisons, or why there are none.
type runnerRow struct {
	name, pkg string
	results   []compare.Line
	note      string
}

// row is one benchmark of the table: the runs of one name, in one package,
// at one GOMAXPROCS.
type row struct {
	pkg, name string
	procs     int
	runs      []result
}

// rows groups the results by package, name and GOMAXPROCS, in the order
// they ran. Names keep their -GOMAXPROCS suffix only when the results have
// more than one GOMAXPROCS (go test -cpu, or a benchmark that sets it).
func (t table) rows() []*row {
	type key struct {
		pkg, name string
		procs     int
	}
	var rows []*row
	index := map[key]*row{}
	procs := map[int]bool{}
	for _, r := range t.bench.results {
		k := key{r.pkg, r.name, r.procs}
		if index[k] == nil {
			index[k] = &row{pkg: r.pkg, name: r.name, procs: r.procs}
			rows = append(rows, index[k])
		}
		index[k].runs = append(index[k].runs, r)
		procs[r.procs] = true
	}
	if len(procs) > 1 {
		for _, r := range rows {
			if r.procs != 1 {
				r.name += "-" + strconv.Itoa(r.procs)
			}
		}
	}
	return rows
}

// median returns the median of unit over the runs, and whether any run
// measured it.
func (r *row) median(unit string) (float64, bool) {
	var v []float64
	for _, run := range r.runs {
		if x, ok := run.metric(unit); ok {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return 0, false
	}
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2, true
	}
	return v[len(v)/2], true
}

// spread is (max-min)/median of ns/op, in percent.
func (r *row) spread() (float64, bool) {
	med, ok := r.median("ns/op")
	if !ok || med == 0 || len(r.runs) < 2 {
		return 0, false
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, run := range r.runs {
		if x, ok := run.metric("ns/op"); ok {
			lo, hi = min(lo, x), max(hi, x)
		}
	}
	return (hi - lo) / med * 100, true
}

// pkgLabel shortens an import path of the module: the root package is the
// module's last element ("stoa"), the others their path inside it.
func (t table) pkgLabel(pkg string) string {
	if pkg == t.modPath {
		return pkg[strings.LastIndex(pkg, "/")+1:]
	}
	return strings.TrimPrefix(pkg, t.modPath+"/")
}

// write prints the header, the benchmark table and the comparisons.
func (t table) write(w io.Writer) error {
	var b strings.Builder
	t.header(&b)

	rows := t.rows()
	b.WriteString("\n")
	if len(rows) == 0 {
		fmt.Fprintf(&b, "no benchmarks matched -bench %s\n", t.opts.bench)
	} else {
		head := []string{"package", "benchmark", "ns/op", "B/op", "allocs/op"}
		multi := t.opts.count > 1
		if multi {
			head = append(head, "±ns/op")
		}
		head = append(head, "other")
		cells := [][]string{head}
		for _, r := range rows {
			c := []string{t.pkgLabel(r.pkg), r.name, metricCell(r, "ns/op", fmtFloat), metricCell(r, "B/op", fmtInt), metricCell(r, "allocs/op", fmtInt)}
			if multi {
				s := "-"
				if x, ok := r.spread(); ok {
					s = fmt.Sprintf("%.0f%%", x)
				}
				c = append(c, s)
			}
			c = append(c, r.other())
			cells = append(cells, c)
		}
		right := []bool{false, false, true, true, true}
		if multi {
			right = append(right, true)
		}
		writeCells(&b, cells, append(right, false))
	}

	if len(t.runners) > 0 {
		b.WriteString("\n")
		cells := [][]string{{"comparison", "peer", "peer result", "stoa result", "stoa/peer", "goal", "what"}}
		for _, rr := range t.runners {
			if len(rr.results) == 0 {
				cells = append(cells, []string{rr.name, rr.note})
				continue
			}
			for _, c := range rr.results {
				cells = append(cells, []string{
					c.Name, c.Peer,
					fmtInt(c.PeerValue) + " " + c.Unit, fmtInt(c.StoaValue) + " " + c.Unit,
					fmtRatio(c.Ratio), goalCell(c), c.What + rounds(c.Rounds),
				})
			}
		}
		writeCells(&b, cells, []bool{false, false, true, true, true, false, false})
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (t table) header(b *strings.Builder) {
	cfg := t.bench.config
	var parts []string
	if cfg["goos"] != "" {
		parts = append(parts, cfg["goos"]+"/"+cfg["goarch"])
	}
	if cfg["cpu"] != "" {
		parts = append(parts, cfg["cpu"])
	}
	if len(t.bench.results) > 0 {
		parts = append(parts, fmt.Sprintf("GOMAXPROCS %d", slices.MaxFunc(t.bench.results, func(a, b result) int { return a.procs - b.procs }).procs))
	}
	bt := t.opts.benchtime
	if bt == "" {
		bt = "1s"
	}
	parts = append(parts, fmt.Sprintf("-count %d -benchtime %s", t.opts.count, bt))
	if t.opts.short {
		parts = append(parts, "-short")
	}
	if t.loadStart != "" {
		parts = append(parts, "load "+t.loadStart+" → "+t.loadEnd)
	}
	fmt.Fprintf(b, "%s benchmarks: %s\n", t.pkgLabel(t.modPath), strings.Join(parts, ", "))
	if t.opts.count > 1 {
		fmt.Fprintf(b, "values are medians of %d runs; ±ns/op is (max-min)/median\n", t.opts.count)
	}
}

// other lists the metrics a benchmark reported beyond the standard ones.
func (r *row) other() string {
	var units []string
	for _, run := range r.runs {
		for _, m := range run.metrics {
			switch m.unit {
			case "ns/op", "B/op", "allocs/op":
				continue
			}
			if !slices.Contains(units, m.unit) {
				units = append(units, m.unit)
			}
		}
	}
	var out []string
	for _, u := range units {
		v, _ := r.median(u)
		out = append(out, strconv.FormatFloat(v, 'g', 4, 64)+" "+u)
	}
	return strings.Join(out, "  ")
}

func metricCell(r *row, unit string, f func(float64) string) string {
	v, ok := r.median(unit)
	if !ok {
		return "-"
	}
	return f(v)
}

func goalCell(c compare.Line) string {
	if c.Goal <= 0 {
		return ""
	}
	verdict := "met"
	if c.Ratio < c.Goal {
		verdict = "not met"
	}
	return "≥ " + fmtRatio(c.Goal) + " " + verdict
}

func rounds(n int) string {
	if n <= 1 {
		return ""
	}
	return fmt.Sprintf(" (median of %d rounds)", n)
}

// fmtFloat prints v with three significant digits or more, and thousands
// separators from 1,000 up.
func fmtFloat(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmtInt(v)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// fmtInt rounds v and prints it with thousands separators.
func fmtInt(v float64) string {
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtRatio prints a ratio with one decimal (two below 10), dropping
// trailing zeros: 100×, 34.6×, 1.25×.
func fmtRatio(v float64) string {
	prec := 1
	if math.Abs(v) < 10 {
		prec = 2
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "×"
}

// writeCells prints rows as columns two spaces apart, right-aligning the
// columns marked in right. A row shorter than the others (a note) runs on
// past the columns it lacks; the last column is never padded.
func writeCells(b *strings.Builder, rows [][]string, right []bool) {
	width := map[int]int{}
	for _, r := range rows {
		if len(r) < 3 { // a name and a note: the note sizes no column
			width[0] = max(width[0], utf8.RuneCountInString(r[0]))
			continue
		}
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			if i > 0 {
				line.WriteString("  ")
			}
			pad := strings.Repeat(" ", max(0, width[i]-utf8.RuneCountInString(c)))
			switch {
			case i < len(right) && right[i]:
				line.WriteString(pad + c)
			case i == len(r)-1:
				line.WriteString(c)
			default:
				line.WriteString(c + pad)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteString("\n")
	}
}
