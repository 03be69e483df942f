// Command draw-server runs the collaborative drawing server.
package main

import (
	"embed"
	"io/fs"
)

//go:embed public
var publicFiles embed.FS

func publicFS() fs.FS {
	sub, err := fs.Sub(publicFiles, "public")
	if err != nil {
		panic(err)
	}
	return sub
}

func main() {}
