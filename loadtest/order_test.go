package loadtest

import "testing"

func TestOrderChecker(t *testing.T) {
	o := newOrderChecker(2)
	steps := []struct {
		k    int
		s    int64
		want orderVerdict
	}{
		{0, 0, inOrder},
		{0, 1, inOrder},
		{1, 5, inOrder},    // a sender may start anywhere (its first moves were before we joined)
		{0, 3, inOrder},    // a gap is loss, not disorder
		{0, 3, duplicate},  // the same move twice
		{0, 2, outOfOrder}, // older than one already seen
		{1, 4, outOfOrder}, // senders are followed separately
		{1, 6, inOrder},
		{0, 4, inOrder}, // disorder does not move the mark back
	}
	for i, st := range steps {
		if got := o.observe(st.k, st.s); got != st.want {
			t.Errorf("step %d: observe(%d, %d) = %v, want %v", i, st.k, st.s, got, st.want)
		}
	}
}
