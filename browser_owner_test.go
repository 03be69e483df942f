package main

// Browser tests of board owners and locks: "New board" makes a board its
// maker owns; the owner locks it so that everyone else only watches, and an
// owner link makes another browser an owner too. The script drives three
// browser contexts (three people) and reports what each page shows.

import (
	"regexp"
	"strings"
	"testing"
)

// ownerUI is what the script's ui() sees on a page: the Lock toggle's text
// ("" when not shown), the Owner link button, the lock badge's text, and
// whether the pen (colours, width), Undo and Clear board are shown.
type ownerUI struct {
	Lock      string `json:"lock"`
	OwnerLink bool   `json:"ownerLink"`
	Badge     string `json:"badge"`
	Pen       bool   `json:"pen"`
	Undo      bool   `json:"undo"`
	Clear     bool   `json:"clear"`
}

// TestBrowserOwnerLock: A makes a board with "New board" and owns it; B can
// draw until A locks it; then B's pen is gone, B's drag leaves no ink on
// either page and nothing of B's is stored, while A's drawing still reaches
// B; A's owner link makes C an owner, and C's Unlock lets B draw again.
func TestBrowserOwnerLock(t *testing.T) {
	var r struct {
		pageErrors
		OnDefault  ownerUI `json:"onDefault"`
		DefaultOps int     `json:"defaultOps"`
		NewBoard   string  `json:"newBoard"`
		FirstOp    *struct {
			Type string `json:"type"`
			Seq  int    `json:"seq"`
			ByA  bool   `json:"byA"`
		} `json:"firstOp"`
		AOwner   bool    `json:"aOwner"`
		BBefore  ownerUI `json:"bBefore"`
		BOpenOnA int     `json:"bOpenOnA"`
		ALocked  ownerUI `json:"aLocked"`
		BLocked  ownerUI `json:"bLocked"`
		LockOp   struct {
			Type string `json:"type"`
			ByA  bool   `json:"byA"`
		} `json:"lockOp"`
		BDragOnB    int `json:"bDragOnB"`
		BPointerOnA int `json:"bPointerOnA"`
		ALockedOnB  int `json:"aLockedOnB"`
		BDragLater  struct {
			OnA int `json:"onA"`
			OnB int `json:"onB"`
		} `json:"bDragLater"`
		BNotice     string `json:"bNotice"`
		BRefused    int    `json:"bRefused"`
		WhileLocked struct {
			Ops      int      `json:"ops"`
			FromB    int      `json:"fromB"`
			NotFromA []string `json:"notFromA"`
		} `json:"whileLocked"`
		OwnerLink struct {
			HasSecret bool   `json:"hasSecret"`
			Board     bool   `json:"board"`
			Clipboard string `json:"clipboard"`
			Notice    string `json:"notice"`
		} `json:"ownerLink"`
		CAddress string  `json:"cAddress"`
		CLocked  ownerUI `json:"cLocked"`
		UnlockOp *struct {
			ByC bool `json:"byC"`
		} `json:"unlockOp"`
		BUnlocked     ownerUI `json:"bUnlocked"`
		AUnlocked     ownerUI `json:"aUnlocked"`
		BUnlockNotice string  `json:"bUnlockNotice"`
		BAgainOnA     int     `json:"bAgainOnA"`
		BAgainOnC     int     `json:"bAgainOnC"`
		CReloaded     ownerUI `json:"cReloaded"`
	}
	runBrowserScript(t, "owner-lock.mjs", &r)
	r.check(t)

	// Boards nobody made with "New board" stay as they were: no owner, no claim.
	if r.OnDefault.Lock != "" || r.OnDefault.OwnerLink || r.DefaultOps != 0 {
		t.Errorf("default board: Lock %q, Owner link %v, %d ops stored; want no owner tools and nothing stored",
			r.OnDefault.Lock, r.OnDefault.OwnerLink, r.DefaultOps)
	}
	// "New board": a fresh random board, claimed by A as its first op.
	if !regexp.MustCompile(`^/b/[a-z0-9]{10}$`).MatchString(r.NewBoard) {
		t.Errorf("New board went to %q, want /b/<10 random characters> (without ?new once claimed)", r.NewBoard)
	}
	if r.FirstOp == nil || r.FirstOp.Type != "own" || r.FirstOp.Seq != 1 || !r.FirstOp.ByA {
		t.Errorf("the new board's first op is %+v, want A's own op at seq 1", r.FirstOp)
	}
	if !r.AOwner {
		t.Errorf("A does not show Lock and Owner link on its new board")
	}
	if r.BBefore.Lock != "" || r.BBefore.OwnerLink || r.BBefore.Badge != "" || !r.BBefore.Pen {
		t.Errorf("B before the lock shows %+v; want the pen and no owner tools", r.BBefore)
	}
	if r.BOpenOnA < 200 {
		t.Errorf("B's stroke shows %d pixels on A, want at least 200", r.BOpenOnA)
	}

	// Locked: A keeps drawing, B only watches.
	if r.LockOp.Type != "lock" || !r.LockOp.ByA {
		t.Errorf("newest op after A's Lock: %+v, want A's lock", r.LockOp)
	}
	if r.ALocked.Lock != "Unlock" || !r.ALocked.Pen || r.ALocked.Badge != "Locked: only you can draw" {
		t.Errorf("A after locking shows %+v; want Unlock, the pen, \"Locked: only you can draw\"", r.ALocked)
	}
	if r.BLocked.Badge != "Locked by the owner: you can watch" || r.BLocked.Pen || r.BLocked.Undo || r.BLocked.Clear || r.BLocked.Lock != "" {
		t.Errorf("B while locked shows %+v; want \"Locked by the owner: you can watch\" and no pen, Undo, Clear or Lock", r.BLocked)
	}
	if r.BDragOnB != 0 || r.BDragLater.OnA != 0 || r.BDragLater.OnB != 0 {
		t.Errorf("B's drag while locked left ink: %d pixels on B at once, later %d on A and %d on B; want none",
			r.BDragOnB, r.BDragLater.OnA, r.BDragLater.OnB)
	}
	if r.BPointerOnA < 1 {
		t.Errorf("A shows %d pointers while B moves over the locked board; B's cursor should still show", r.BPointerOnA)
	}
	if r.ALockedOnB < 200 {
		t.Errorf("A's stroke while locked shows %d pixels on B, want at least 200", r.ALockedOnB)
	}
	// B's page did not even try (the server refuses it anyway): no error notice.
	if r.BRefused != 0 || strings.HasPrefix(r.BNotice, "Server refused") {
		t.Errorf("B's page sent drawing while locked: %d refusals, notice %q", r.BRefused, r.BNotice)
	}
	if r.WhileLocked.Ops == 0 || r.WhileLocked.FromB != 0 || len(r.WhileLocked.NotFromA) != 0 {
		t.Errorf("stored while locked: %d ops, %d of them B's, not A's: %q; want only A's stroke",
			r.WhileLocked.Ops, r.WhileLocked.FromB, r.WhileLocked.NotFromA)
	}

	// The owner link: copied and shown; it makes C an owner and leaves C's address bar.
	if !r.OwnerLink.HasSecret || !r.OwnerLink.Board || r.OwnerLink.Clipboard != "same" ||
		!strings.HasPrefix(r.OwnerLink.Notice, "Owner link copied") {
		t.Errorf("owner link: %+v; want the board's URL with #owner=<secret>, on the clipboard, and a notice", r.OwnerLink)
	}
	if strings.Contains(r.CAddress, "#") || !strings.HasSuffix(r.CAddress, r.NewBoard) {
		t.Errorf("C's address bar shows %q, want the board's URL without the owner secret", r.CAddress)
	}
	if r.CLocked.Lock != "Unlock" || !r.CLocked.OwnerLink || !r.CLocked.Pen {
		t.Errorf("C (owner link) shows %+v; want Unlock, Owner link and the pen", r.CLocked)
	}
	if r.UnlockOp == nil || !r.UnlockOp.ByC {
		t.Errorf("C's Unlock stored %+v, want an unlock op by C", r.UnlockOp)
	}

	// Unlocked by C: B draws again, everyone sees it.
	if !r.BUnlocked.Pen || !r.BUnlocked.Undo || !r.BUnlocked.Clear || r.BUnlocked.Badge != "" {
		t.Errorf("B after C's unlock shows %+v; want the pen, Undo, Clear and no locked notice", r.BUnlocked)
	}
	if r.BUnlockNotice != "The owner unlocked the board: you can draw again" {
		t.Errorf("B's notice after the unlock: %q", r.BUnlockNotice)
	}
	if r.AUnlocked.Lock != "Lock" {
		t.Errorf("A's toggle after C's unlock says %q, want Lock", r.AUnlocked.Lock)
	}
	if r.BAgainOnA < 200 || r.BAgainOnC < 200 {
		t.Errorf("B's stroke after the unlock shows %d pixels on A and %d on C, want at least 200 each", r.BAgainOnA, r.BAgainOnC)
	}
	if r.CReloaded.Lock != "Lock" || !r.CReloaded.OwnerLink {
		t.Errorf("C after a reload shows %+v; want it still the owner (Lock, Owner link)", r.CReloaded)
	}
}
