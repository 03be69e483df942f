module github.com/drawing/draw

go 1.26

require (
	github.com/gorilla/websocket v1.5.3
	github.com/zishang520/engine.io/v2 v2.5.0 // indirect
	github.com/zishang520/socket.io/v2 v2.5.0 // indirect
)
