package draw_test

import (
	"testing"

	"github.com/drawing/draw/draw"
	"github.com/drawing/draw/draw/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) draw.Store { return draw.NewMemoryStore() })
}

// TestMemoryStoreShared: two writers on one MemoryStore, as if on two nodes.
func TestMemoryStoreShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (draw.Store, draw.Store) {
		s := draw.NewMemoryStore()
		return s, s
	})
}
