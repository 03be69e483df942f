package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// With -metrics the tester reads the server's Prometheus text exposition
// (the socket.io URL's /metrics) when the window opens and when it closes.
// Counters, histograms and summaries are reported as their change over the
// window, gauges as their value at its end, so a run says, for instance, how
// many ops the server stored and how long its commits took while it was
// being measured.

// maxMetricsBytes bounds one scrape; metricsTimeout its time. A saturated
// server may take seconds to answer: the result says how long it took.
const (
	maxMetricsBytes = 4 << 20
	metricsTimeout  = 20 * time.Second
)

// ScrapeMetrics fetches url and returns every sample whose name starts with
// one of prefixes (all when none) with the type its family declared.
func ScrapeMetrics(ctx context.Context, client *http.Client, url string, prefixes []string) (map[string]float64, map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, metricsTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return parseMetrics(io.LimitReader(resp.Body, maxMetricsBytes), prefixes)
}

// parseMetrics reads the Prometheus text format: "# TYPE name kind" lines
// and "name{labels} value [timestamp]" samples. The key of a sample is its
// name with its labels as written.
func parseMetrics(r io.Reader, prefixes []string) (samples map[string]float64, kinds map[string]string, err error) {
	samples, kinds = map[string]float64{}, map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			if f := strings.Fields(rest); len(f) == 2 {
				kinds[f[0]] = f[1]
			}
			continue
		}
		if line[0] == '#' {
			continue
		}
		key, value := line, ""
		if i := strings.LastIndexByte(line, '}'); i >= 0 {
			key, value = line[:i+1], strings.TrimSpace(line[i+1:])
		} else if i := strings.IndexAny(line, " \t"); i >= 0 {
			key, value = line[:i], strings.TrimSpace(line[i+1:])
		}
		if f := strings.Fields(value); len(f) > 0 {
			value = f[0] // a timestamp may follow
		}
		name, _, _ := strings.Cut(key, "{")
		if !hasAnyPrefix(name, prefixes) {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("metrics: bad sample %q", line)
		}
		samples[key] = v
	}
	return samples, kinds, sc.Err()
}

func hasAnyPrefix(s string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// familyOf is the metric family a sample belongs to: histograms and
// summaries expose name_bucket, name_sum and name_count.
func familyOf(sample string, kinds map[string]string) string {
	name, _, _ := strings.Cut(sample, "{")
	if _, ok := kinds[name]; ok {
		return name
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if _, ok := kinds[base]; ok {
				return base
			}
		}
	}
	return name
}

// metricsChange is what the window did to the server's metrics: counters,
// histograms and summaries as end − start (a sample that appeared during the
// window counts from 0), gauges and untyped samples as their end value.
func metricsChange(start, end map[string]float64, kinds map[string]string) map[string]float64 {
	out := make(map[string]float64, len(end))
	for k, v := range end {
		switch kinds[familyOf(k, kinds)] {
		case "counter", "histogram", "summary":
			out[k] = v - start[k]
		default:
			out[k] = v
		}
	}
	return out
}

// HistogramQuantile estimates quantile q (0…1) of a Prometheus histogram
// from its cumulative bucket counts in samples (keys name_bucket{le="…"},
// as -metrics reports them), interpolating linearly inside the bucket as
// Prometheus' histogram_quantile does. It returns NaN when the histogram is
// empty, and the largest finite bound when the quantile lies in +Inf.
func HistogramQuantile(samples map[string]float64, name string, q float64) float64 {
	type bucket struct{ le, n float64 }
	var bs []bucket
	prefix := name + `_bucket{`
	for k, v := range samples {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		i := strings.Index(rest, `le="`)
		if i < 0 {
			continue
		}
		le, _, _ := strings.Cut(rest[i+4:], `"`)
		bound, err := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
		if err != nil {
			continue
		}
		bs = append(bs, bucket{bound, v})
	}
	if len(bs) == 0 {
		return math.NaN()
	}
	for i := 1; i < len(bs); i++ { // insertion sort: a dozen buckets
		for j := i; j > 0 && bs[j].le < bs[j-1].le; j-- {
			bs[j], bs[j-1] = bs[j-1], bs[j]
		}
	}
	total := bs[len(bs)-1].n
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range bs {
		if b.n >= rank {
			if math.IsInf(b.le, 1) {
				return lower
			}
			if b.n == below {
				return b.le
			}
			return lower + (b.le-lower)*(rank-below)/(b.n-below)
		}
		lower, below = b.le, b.n
	}
	return lower
}
