package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/drawing/draw/draw"
	"github.com/drawing/draw/draw/sqlite"
)

// A busy hour on one board, drawn the way the page draws: a few people at
// once, each stroke cut into pieces every 50 ms, a piece holding the last
// point of the one before and the two new ones (3 points, 2 segments),
// about 40 pieces a stroke, coordinates rounded to a tenth of a board unit
// as the page rounds them, a few colours and widths, and now and then an
// undo (sometimes redone).

var palette = []string{"#1c1917", "#e11d48", "#f59e0b", "#16a34a", "#0891b2", "#2563eb", "#7c3aed"}

// Widths the page's slider gives most often, thin lines commonest.
var widths = []float64{2, 2, 3, 4, 4, 6, 8, 12, 16, 24}

const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func randomID(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = idChars[r.IntN(64)]
	}
	return string(b)
}

// authorID is draw's public id of a secret.
func authorID(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(h[:])[:16]
}

// pen is one stroke being drawn.
type pen struct {
	stroke, author, color string
	width                 float64
	x, y, angle, speed    float64
	i, pieces             int
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// step moves the pen by one pointer event (~16 ms at 60 Hz).
func (p *pen) step(r *rand.Rand) {
	p.angle += r.NormFloat64() * 0.25
	p.speed = math.Max(2, math.Min(25, p.speed+r.NormFloat64()))
	nx, ny := p.x+p.speed*math.Cos(p.angle), p.y+p.speed*math.Sin(p.angle)
	if nx < 5 || nx > draw.BoardWidth-5 {
		p.angle = math.Pi - p.angle
		nx = math.Max(5, math.Min(draw.BoardWidth-5, nx))
	}
	if ny < 5 || ny > draw.BoardHeight-5 {
		p.angle = -p.angle
		ny = math.Max(5, math.Min(draw.BoardHeight-5, ny))
	}
	p.x, p.y = round1(nx), round1(ny)
}

type seedResult struct {
	DB           string  `json:"db"`
	Board        string  `json:"board"`
	Ops          int     `json:"ops"`
	Pieces       int     `json:"pieces"`
	Segments     int     `json:"segments"`
	Strokes      int     `json:"strokes"`
	Undos        int     `json:"undos"`
	Redos        int     `json:"redos"`
	Authors      int     `json:"authors"`
	DataBytes    int64   `json:"data_bytes"`   // the ops' JSON as stored
	NDJSONBytes  int64   `json:"ndjson_bytes"` // history.ndjson without compression: data + seq and time
	FileBytes    int64   `json:"file_bytes"`   // the SQLite file after closing
	Head         int64   `json:"head"`
	Seconds      float64 `json:"seconds"`
	VisibleEst   int     `json:"visible_pieces"`
	SpanSeconds  float64 `json:"span_seconds"` // the drawing's time span (op times)
	RandomSeed   uint64  `json:"random_seed"`
	PiecesPerBat int     `json:"pieces_per_append"`
}

func seedMain(args []string) error {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	db := fs.String("db", "", "SQLite file to write (must not exist unless -add)")
	addToFile := fs.Bool("add", false, "add the board to an existing file (the board itself must be new)")
	board := fs.String("board", "busy", "board name")
	segments := fs.Int("segments", 100000, "segments to draw (2 per piece)")
	authors := fs.Int("authors", 8, "people drawing")
	concurrent := fs.Int("concurrent", 3, "strokes under way at once")
	seed := fs.Uint64("seed", 1, "random seed")
	span := fs.Duration("span", time.Hour, "time the drawing took")
	undoPerMille := fs.Int("undos", 10, "strokes undone right after they end, per thousand (a third of those redone later)")
	fs.Parse(args)
	if *db == "" {
		return errors.New("seed: -db is required")
	}
	if _, err := os.Stat(*db); err == nil && !*addToFile {
		return fmt.Errorf("seed: %s exists; pass a new file, or -add", *db)
	}
	if *segments < 2 || *segments > draw.DefaultMaxBoardSegments {
		return fmt.Errorf("seed: -segments must be 2 to %d (the board's cap)", draw.DefaultMaxBoardSegments)
	}
	start := time.Now()
	st, err := sqlite.Open(*db)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, ok, err := st.Info(context.Background(), *board); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("seed: board %q is already in %s", *board, *db)
	}

	r := rand.New(rand.NewPCG(*seed, 0x64726177))
	var ids []string
	for a := 0; a < *authors; a++ {
		ids = append(ids, authorID(fmt.Sprintf("seed-author-secret-%d-%d", *seed, a)))
	}
	res := seedResult{DB: *db, Board: *board, Authors: *authors, RandomSeed: *seed, PiecesPerBat: 64}
	newPen := func() *pen {
		res.Strokes++
		return &pen{
			stroke: randomID(r, 12), author: ids[r.IntN(len(ids))],
			color: palette[r.IntN(len(palette))], width: widths[r.IntN(len(widths))],
			x: round1(50 + r.Float64()*(draw.BoardWidth-100)), y: round1(50 + r.Float64()*(draw.BoardHeight-100)),
			angle: r.Float64() * 2 * math.Pi, speed: 6 + r.Float64()*8, pieces: 30 + r.IntN(21),
		}
	}
	totalPieces := *segments / 2
	opTime := time.Now().Add(-*span).UnixMilli()
	perOp := float64(span.Milliseconds()) / float64(totalPieces)
	var batch []draw.Op
	var undone []*pen // strokes undone, some to be redone
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := st.Append(context.Background(), batch); err != nil {
			return err
		}
		res.Head = batch[len(batch)-1].Seq
		batch = batch[:0]
		return nil
	}
	add := func(v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		opTime += int64(perOp * (0.5 + r.Float64()))
		res.Ops++ // the board is new: its seqs are 1, 2, 3, …
		batch = append(batch, draw.Op{Board: *board, Seq: int64(res.Ops), Time: opTime, Data: data})
		res.DataBytes += int64(len(data))
		// {"seq":N,"time":T, + data without its "{" + "\n"
		res.NDJSONBytes += int64(len(`{"seq":,"time":,`)+len(fmt.Sprint(res.Ops))+len(fmt.Sprint(opTime))) + int64(len(data)-1) + 1
		if len(batch) == res.PiecesPerBat {
			return flush()
		}
		return nil
	}
	pens := make([]*pen, *concurrent)
	for k := range pens {
		pens[k] = newPen()
	}
	undoneSegments := 0
	for res.Pieces < totalPieces {
		k := r.IntN(len(pens))
		p := pens[k]
		pts := []float64{p.x, p.y}
		for range 2 {
			p.step(r)
			pts = append(pts, p.x, p.y)
		}
		if err := add(draw.OpFields{Type: draw.OpStroke, Stroke: p.stroke, I: p.i, Author: p.author, Color: p.color, Width: p.width, Points: pts}); err != nil {
			return err
		}
		p.i++
		res.Pieces++
		res.Segments += 2
		if p.i < p.pieces && res.Pieces < totalPieces {
			continue
		}
		// The stroke is done. About one in a hundred is undone right away
		// by its author, and one undo in three is redone a little later.
		if r.IntN(1000) < *undoPerMille {
			if err := add(draw.OpFields{Type: draw.OpUndo, Stroke: p.stroke, Author: p.author}); err != nil {
				return err
			}
			res.Undos++
			undone = append(undone, p)
			undoneSegments += 2 * p.i
		} else if len(undone) > 0 && r.IntN(30) == 0 {
			u := undone[0]
			undone = undone[1:]
			if r.IntN(3) == 0 {
				if err := add(draw.OpFields{Type: draw.OpRedo, Stroke: u.stroke, Author: u.author}); err != nil {
					return err
				}
				res.Redos++
				undoneSegments -= 2 * u.i
			}
		}
		pens[k] = newPen()
	}
	res.Strokes -= len(pens) // started but never drawn
	for _, p := range pens {
		if p.i > 0 {
			res.Strokes++
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	res.VisibleEst = res.Pieces - undoneSegments/2
	res.SpanSeconds = span.Seconds()
	if fi, err := os.Stat(*db); err == nil {
		res.FileBytes = fi.Size()
	}
	res.Seconds = time.Since(start).Seconds()
	return printJSON(res)
}
