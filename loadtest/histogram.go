package loadtest

import (
	"math/bits"
	"sync/atomic"
)

// histogram is a log-linear (HDR-style) histogram of non-negative values:
// exact below 2·subBuckets, then subBuckets buckets per power of two, so any
// reported quantile is within 1/subBuckets (<1%) of a recorded value. Its
// memory is fixed whatever the number of samples, and every receiver records
// into one shared instance with atomic adds, so there is nothing to merge.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Uint64
}

const (
	subBucketBits = 7
	subBuckets    = 1 << subBucketBits
	// Values from 2^maxHistBits up (2^40 µs is 12 days) share the last
	// bucket.
	maxHistBits = 40
	histBuckets = (maxHistBits-subBucketBits+1)*subBuckets + 1
)

// bucketOf maps v to its bucket index.
func bucketOf(v uint64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	if v >= 1<<maxHistBits {
		return histBuckets - 1
	}
	shift := bits.Len64(v) - (subBucketBits + 1)
	return shift*subBuckets + int(v>>uint(shift))
}

// bucketRange returns the smallest and largest value that map to bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < 2*subBuckets {
		return uint64(i), uint64(i)
	}
	shift := i/subBuckets - 1
	mantissa := uint64(i - shift*subBuckets)
	lo = mantissa << uint(shift)
	return lo, lo + (1 << uint(shift)) - 1
}

// record adds one value; negative values (a clock step) count as 0.
func (h *histogram) record(v int64) {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	h.counts[bucketOf(u)].Add(1)
	h.n.Add(1)
	h.sum.Add(u)
	for {
		m := h.max.Load()
		if u <= m || h.max.CompareAndSwap(m, u) {
			return
		}
	}
}

func (h *histogram) count() uint64 { return h.n.Load() }

func (h *histogram) maxValue() uint64 { return h.max.Load() }

func (h *histogram) mean() float64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return float64(h.sum.Load()) / float64(n)
}

// quantile returns the value below or at which a fraction q of the samples
// lie: the upper edge of the bucket holding that rank, capped by the
// largest recorded value, so it never understates.
func (h *histogram) quantile(q float64) uint64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			_, hi := bucketRange(i)
			return min(hi, h.max.Load())
		}
	}
	return h.max.Load()
}
