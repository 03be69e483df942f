package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/drawing/draw/draw"
	"github.com/drawing/draw/draw/jwt"
)

// verifyResult is the cost of one token check alone, in this process: what
// checkToken adds to a CONNECT, without the network and the engine.
type verifyResult struct {
	Kind      string  `json:"kind"` // "verify"
	N         int     `json:"n"`
	CPUPerUs  float64 `json:"cpu_us_per_verify"`
	WallPerUs float64 `json:"wall_us_per_verify"`
}

func cmdVerify(args []string) (any, error) {
	fs := flag.NewFlagSet("verify", flag.ExitOnError)
	n := fs.Int("n", 200000, "verifications")
	fs.Parse(args)
	secret := "0123456789abcdef0123456789abcdef0123456789abcdef"
	v, err := jwt.New([]byte(secret))
	if err != nil {
		return nil, err
	}
	tok, err := mint(secret, "churn", draw.RoleDraw, "churn-user")
	if err != nil {
		return nil, err
	}
	for i := 0; i < 1000; i++ { // warm up
		v.Verify(tok)
	}
	c0, t0 := selfCPU(), time.Now()
	for i := 0; i < *n; i++ {
		if _, err := v.Verify(tok); err != nil {
			return nil, fmt.Errorf("verify: %v", err)
		}
	}
	return verifyResult{Kind: "verify", N: *n, CPUPerUs: round((selfCPU()-c0)/float64(*n)*1e6, 2),
		WallPerUs: round(time.Since(t0).Seconds()/float64(*n)*1e6, 2)}, nil
}
