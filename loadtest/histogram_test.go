package loadtest

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func TestBucketsCoverEveryValueOnce(t *testing.T) {
	// Every bucket's range starts right after the previous one ends.
	var next uint64
	for i := 0; i < histBuckets-1; i++ {
		lo, hi := bucketRange(i)
		if lo != next || hi < lo {
			t.Fatalf("bucket %d is [%d, %d], want it to start at %d", i, lo, hi, next)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d = [%d, %d] but bucketOf gives %d and %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		// The HDR promise: a bucket is narrower than 1% of its values.
		if lo >= 2*subBuckets && float64(hi-lo+1)/float64(lo) > 1.0/subBuckets {
			t.Fatalf("bucket %d = [%d, %d] is too wide", i, lo, hi)
		}
		next = hi + 1
	}
	if next != 1<<maxHistBits {
		t.Fatalf("buckets end at %d, want %d", next, uint64(1)<<maxHistBits)
	}
	if bucketOf(1<<62) != histBuckets-1 {
		t.Fatal("huge values must land in the last bucket")
	}
}

func TestQuantilesMatchSortedSamples(t *testing.T) {
	var h histogram
	rng := rand.New(rand.NewPCG(1, 2))
	var samples []int64
	for range 100000 {
		// Latency-like: mostly around a millisecond, with a long tail.
		v := int64(200 + rng.ExpFloat64()*800)
		if rng.IntN(100) == 0 {
			v *= 50
		}
		samples = append(samples, v)
		h.record(v)
	}
	slices.Sort(samples)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := samples[int(q*float64(len(samples))+0.5)-1] // the same rank rule as quantile
		got := int64(h.quantile(q))
		if got < exact || float64(got-exact) > float64(exact)/subBuckets+1 {
			t.Errorf("p%v = %d, exact %d: off by more than one bucket", q*100, got, exact)
		}
	}
	if h.maxValue() != uint64(samples[len(samples)-1]) || h.quantile(1) != h.maxValue() {
		t.Errorf("max = %d, quantile(1) = %d, want %d", h.maxValue(), h.quantile(1), samples[len(samples)-1])
	}
	if h.count() != uint64(len(samples)) {
		t.Errorf("count = %d", h.count())
	}
}

func TestHistogramEdgeCases(t *testing.T) {
	var h histogram
	if h.quantile(0.99) != 0 || h.mean() != 0 {
		t.Fatal("an empty histogram reports 0")
	}
	h.record(-5) // a clock step backwards
	h.record(7)
	if h.quantile(0) != 0 || h.quantile(1) != 7 || h.mean() != 3.5 {
		t.Errorf("got q0=%d q1=%d mean=%v", h.quantile(0), h.quantile(1), h.mean())
	}
}

func TestHistogramConcurrentRecord(t *testing.T) {
	var h histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				h.record(int64(g*1000 + i))
			}
		}()
	}
	wg.Wait()
	if h.count() != 8000 || h.maxValue() != 7999 {
		t.Errorf("count %d, max %d", h.count(), h.maxValue())
	}
}
