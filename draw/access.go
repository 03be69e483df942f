package draw

import "time"

// Who may do what on a board (README "Use it from your app"). Boards nobody
// owns are open to everyone; an owner may lock a board so that only they
// draw. Apps hand their users signed tokens that grant one role on one board.

// Role is what a token grants on its board.
type Role string

const (
	RoleView  Role = "view"  // watch only
	RoleDraw  Role = "draw"  // draw, undo own, clear (unless locked)
	RoleOwner Role = "owner" // also lock and unlock; draws while locked
)

// Valid says whether r is one of the roles.
func (r Role) Valid() bool { return r == RoleView || r == RoleDraw || r == RoleOwner }

// Grant is what a verified token says.
type Grant struct {
	Board   string
	Role    Role
	Name    string // shown in presence; the holder cannot change it
	Subject string // the app's id for the holder, if any
	Expires time.Time
}

// TokenVerifier checks a token's signature and expiry (draw/jwt). Its
// errors say what is wrong in words a developer can act on.
type TokenVerifier interface {
	Verify(token string) (Grant, error)
}

// Event is something that happened on a board, for webhooks.
type Event struct {
	Type  string `json:"type"` // joined, left, cleared, locked, unlocked
	Board string `json:"board"`
	Time  int64  `json:"time"` // Unix milliseconds
	// Who: the socket id and, when known, the display name and token subject.
	ID      string `json:"id,omitempty"`
	Name    string `json:"name,omitempty"`
	Subject string `json:"subject,omitempty"`
}

// Notifier passes events on (draw/webhook). Notify never blocks.
type Notifier interface {
	Notify(Event)
}
