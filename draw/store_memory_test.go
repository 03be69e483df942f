package draw_test

import (
	"testing"

	"github.com/drawing/draw/draw"
	"github.com/drawing/draw/draw/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) draw.Store { return draw.NewMemoryStore() })
}
