package loadtest

// orderChecker follows, for one receiver, the last sequence number it got
// from each sender. Senders number their emits 0, 1, 2, …; a relay may lose
// some (a gap, counted as loss elsewhere) but must never deliver an older
// one after a newer one, nor the same one twice.
type orderChecker struct {
	last []int64 // by sender index; -1 until the first delivery
}

type orderVerdict int

const (
	inOrder orderVerdict = iota
	duplicate
	outOfOrder
)

func newOrderChecker(senders int) orderChecker {
	last := make([]int64, senders)
	for i := range last {
		last[i] = -1
	}
	return orderChecker{last: last}
}

// observe records sequence number s from sender k (0 ≤ k < senders).
func (o *orderChecker) observe(k int, s int64) orderVerdict {
	switch last := o.last[k]; {
	case s > last:
		o.last[k] = s
		return inOrder
	case s == last:
		return duplicate
	default:
		return outOfOrder
	}
}
