package jwt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/drawing/draw/draw"
	jwtlib "github.com/golang-jwt/jwt/v5"
)

var secret = []byte("0123456789abcdef0123456789abcdef") // 32 bytes

func verifier(t testing.TB) *Verifier {
	t.Helper()
	v, err := New(secret)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// signed signs claims with method and key, through the library.
func signed(t testing.TB, m jwtlib.SigningMethod, key any, claims jwtlib.MapClaims) string {
	t.Helper()
	s, err := jwtlib.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// good returns claims that verify; tests change them.
func good() jwtlib.MapClaims {
	return jwtlib.MapClaims{
		"board": "maths",
		"role":  "draw",
		"name":  "Ann",
		"sub":   "user-42",
		"exp":   time.Now().Add(time.Hour).Unix(),
	}
}

func TestNewShortSecret(t *testing.T) {
	for _, s := range [][]byte{nil, []byte("short"), secret[:31]} {
		if _, err := New(s); !errors.Is(err, ErrShortSecret) {
			t.Errorf("New(%d bytes) = %v, want ErrShortSecret", len(s), err)
		}
		if _, err := Mint(s, draw.Grant{Board: "a", Role: draw.RoleView, Expires: time.Now().Add(time.Hour)}); !errors.Is(err, ErrShortSecret) {
			t.Errorf("Mint(%d bytes) = %v, want ErrShortSecret", len(s), err)
		}
	}
	if got, want := ErrShortSecret.Error(), "token secret must be at least 32 bytes: use e.g. `openssl rand -hex 32`"; got != want {
		t.Errorf("ErrShortSecret = %q, want %q", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	v := verifier(t)
	exp := time.Now().Add(time.Hour)
	for _, g := range []draw.Grant{
		{Board: "maths", Role: draw.RoleDraw, Name: "Ann", Subject: "user-42", Expires: exp},
		{Board: "x", Role: draw.RoleView, Expires: exp},
		{Board: draw.DefaultBoard, Role: draw.RoleOwner, Name: strings.Repeat("é", MaxName), Expires: exp},
	} {
		tok, err := Mint(secret, g)
		if err != nil {
			t.Fatalf("Mint(%+v): %v", g, err)
		}
		got, err := v.Verify(tok)
		if err != nil {
			t.Fatalf("Verify(Mint(%+v)): %v", g, err)
		}
		if !got.Expires.Equal(exp.Truncate(time.Second)) {
			t.Errorf("Expires = %v, want %v", got.Expires, exp.Truncate(time.Second))
		}
		got.Expires, g.Expires = time.Time{}, time.Time{}
		if got != g {
			t.Errorf("Verify(Mint(%+v)) = %+v", g, got)
		}
	}
}

func TestDefaultBoard(t *testing.T) {
	v := verifier(t)
	c := good()
	c["board"] = "/"
	g, err := v.Verify(signed(t, jwtlib.SigningMethodHS256, secret, c))
	if err != nil || g.Board != draw.DefaultBoard {
		t.Fatalf(`board "/": Verify = %+v, %v; want board %q`, g, err, draw.DefaultBoard)
	}
	// Mint writes the default board as "/".
	tok, err := Mint(secret, draw.Grant{Board: draw.DefaultBoard, Role: draw.RoleView, Expires: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	mc := jwtlib.MapClaims{}
	if _, _, err := jwtlib.NewParser().ParseUnverified(tok, mc); err != nil {
		t.Fatal(err)
	}
	if mc["board"] != "/" || mc["iat"] == nil {
		t.Errorf("Mint wrote claims %v, want board \"/\" and an iat", mc)
	}
}

func TestLeeway(t *testing.T) {
	v := verifier(t)
	c := good()
	c["exp"] = time.Now().Add(-10 * time.Second).Unix()
	if _, err := v.Verify(signed(t, jwtlib.SigningMethodHS256, secret, c)); err != nil {
		t.Errorf("expired 10 s ago (within leeway): %v", err)
	}
	exp := time.Now().Add(-time.Minute).Truncate(time.Second)
	c["exp"] = exp.Unix()
	_, err := v.Verify(signed(t, jwtlib.SigningMethodHS256, secret, c))
	if !errors.Is(err, ErrExpired) {
		t.Fatalf("expired a minute ago: %v, want ErrExpired", err)
	}
	if want := "token expired at " + exp.UTC().Format(time.RFC3339); err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestFailures(t *testing.T) {
	v := verifier(t)
	hs := func(c jwtlib.MapClaims) string { return signed(t, jwtlib.SigningMethodHS256, secret, c) }
	with := func(k string, val any) string {
		c := good()
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return hs(c)
	}
	ok := hs(good())
	parts := strings.Split(ok, ".")

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	unknownAlg := jwtlib.NewWithClaims(jwtlib.SigningMethodHS256, good())
	unknownAlg.Header["alg"] = "HS999"
	unknownTok, err := unknownAlg.SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	noAlg := jwtlib.NewWithClaims(jwtlib.SigningMethodHS256, good())
	delete(noAlg.Header, "alg")
	noAlgTok, err := noAlg.SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		token string
		kind  error
		msg   string // the error contains this
	}{
		{"empty", "", ErrMalformed, "it is empty"},
		{"garbage", "hello", ErrMalformed, "it has 1 part(s)"},
		{"two parts", parts[0] + "." + parts[1], ErrMalformed, "it has 2 part(s)"},
		{"four parts", ok + ".x", ErrMalformed, "it has 4 part(s)"},
		{"bearer", "Bearer " + ok, ErrMalformed, "white space"},
		{"too long", ok + strings.Repeat("A", MaxToken), ErrMalformed, "the limit is 4096"},
		{"bad base64 header", "!!!." + parts[1] + "." + parts[2], ErrMalformed, "header"},
		{"bad json payload", parts[0] + ".bm90IGpzb24." + parts[2], ErrMalformed, "claim"},
		{"bad base64 signature", parts[0] + "." + parts[1] + ".***", ErrMalformed, "signature"},

		{"wrong secret", signed(t, jwtlib.SigningMethodHS256, []byte(strings.Repeat("x", 32)), good()), ErrSignature, "TOKEN_SECRET"},
		{"tampered payload", parts[0] + "." + strings.Split(with("role", "owner"), ".")[1] + "." + parts[2], ErrSignature, "TOKEN_SECRET"},
		{"no signature", parts[0] + "." + parts[1] + ".", ErrSignature, "TOKEN_SECRET"},

		{"alg none", signed(t, jwtlib.SigningMethodNone, jwtlib.UnsafeAllowNoneSignatureType, good()), ErrClaims, `alg is "none"`},
		{"alg none, HS256 signature", func() string {
			p := strings.Split(signed(t, jwtlib.SigningMethodNone, jwtlib.UnsafeAllowNoneSignatureType, good()), ".")
			return p[0] + "." + p[1] + "." + parts[2]
		}(), ErrClaims, `alg is "none"`},
		{"HS512 same secret", signed(t, jwtlib.SigningMethodHS512, secret, good()), ErrClaims, `alg is "HS512": this server only accepts HS256 tokens`},
		{"RS256", signed(t, jwtlib.SigningMethodRS256, rsaKey, good()), ErrClaims, `alg is "RS256"`},
		{"ES256", signed(t, jwtlib.SigningMethodES256, ecKey, good()), ErrClaims, `alg is "ES256"`},
		{"unknown alg", unknownTok, ErrClaims, `alg is "HS999"`},
		{"no alg", noAlgTok, ErrClaims, "header has no alg"},

		{"missing exp", with("exp", nil), ErrClaims, "no exp claim"},
		{"exp string", with("exp", "tomorrow"), ErrClaims, "claim exp is a JSON string; it must be a number"},
		{"not yet valid", with("nbf", time.Now().Add(time.Hour).Unix()), ErrClaims, "not valid before"},
		{"expired", with("exp", time.Now().Add(-time.Hour).Unix()), ErrExpired, "token expired at "},

		{"missing board", with("board", nil), ErrClaims, "no board claim"},
		{"empty board", with("board", ""), ErrClaims, `board is empty: write the default board as "/"`},
		{"board path", with("board", "/b/maths"), ErrClaims, `board "/b/maths" is not a board name`},
		{"board number", with("board", 7), ErrClaims, "claim board is a JSON number; it must be a string"},
		{"missing role", with("role", nil), ErrClaims, "no role claim"},
		{"invalid role", with("role", "admin"), ErrClaims, `role "admin" is not a role`},
		{"role case", with("role", "Draw"), ErrClaims, `role "Draw" is not a role`},
		{"role array", with("role", []string{"draw"}), ErrClaims, "claim role is a JSON array"},
		{"name too long", with("name", strings.Repeat("n", MaxName+1)), ErrClaims, "name is 41 characters long; the limit is 40"},
		{"name object", with("name", map[string]string{"first": "Ann"}), ErrClaims, "claim name is a JSON object"},
		{"sub number", with("sub", 42), ErrClaims, "claim sub is a JSON number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := v.Verify(tc.token)
			if err == nil {
				t.Fatalf("Verify = %+v, nil; want an error", g)
			}
			t.Log(err)
			n := 0
			for _, k := range []error{ErrMalformed, ErrSignature, ErrExpired, ErrClaims} {
				if errors.Is(err, k) {
					n++
				}
			}
			if !errors.Is(err, tc.kind) || n != 1 {
				t.Errorf("error %q matches %d kinds, want only %q", err, n, tc.kind)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
			if g != (draw.Grant{}) {
				t.Errorf("Verify returned grant %+v with its error", g)
			}
		})
	}
}

func TestSentinelMessages(t *testing.T) {
	for err, want := range map[error]string{
		ErrMalformed: "token is malformed",
		ErrSignature: "token signature is invalid: was it signed with this server's TOKEN_SECRET?",
	} {
		if err.Error() != want {
			t.Errorf("%q, want %q", err, want)
		}
	}
}

func TestMintRefuses(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	for _, g := range []draw.Grant{
		{Board: "a b", Role: draw.RoleView, Expires: exp},
		{Board: "a", Role: "admin", Expires: exp},
		{Board: "a", Role: draw.RoleView},
		{Board: "a", Role: draw.RoleView, Name: strings.Repeat("n", MaxName+1), Expires: exp},
	} {
		if tok, err := Mint(secret, g); !errors.Is(err, ErrClaims) {
			t.Errorf("Mint(%+v) = %q, %v; want ErrClaims", g, tok, err)
		}
	}
}

func TestConcurrentVerify(t *testing.T) {
	v := verifier(t)
	tok, err := Mint(secret, draw.Grant{Board: "maths", Role: draw.RoleDraw, Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	for range 8 {
		go func() {
			var err error
			for range 200 {
				if _, err = v.Verify(tok); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func TestTokenCommand(t *testing.T) {
	hexSecret := strings.Repeat("ab", 32)
	t.Setenv("TOKEN_SECRET", hexSecret)
	t.Setenv("OTHER_SECRET", string(secret))
	t.Setenv("SHORT_SECRET", "tooshort")
	t.Setenv("EMPTY_SECRET", "")

	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := TokenCommand(args, &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, errs := run("-board", "maths", "-role", "draw", "-name", "Ann", "-sub", "user-42", "-ttl", "1h")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Errorf("stdout %q: want the token on one line", out)
	}
	v, _ := New([]byte(hexSecret))
	g, err := v.Verify(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	if g.Board != "maths" || g.Role != draw.RoleDraw || g.Name != "Ann" || g.Subject != "user-42" ||
		time.Until(g.Expires) < 59*time.Minute || time.Until(g.Expires) > time.Hour {
		t.Errorf("grant %+v", g)
	}

	// -secret-env, the default board, default ttl.
	code, out, errs = run("-secret-env", "OTHER_SECRET", "-board", "/", "-role", "owner")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	g, err = verifier(t).Verify(strings.TrimSpace(out))
	if err != nil || g.Board != draw.DefaultBoard || g.Role != draw.RoleOwner {
		t.Errorf("grant %+v, %v", g, err)
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"-role", "draw"}, 2, "-board is required"},
		{[]string{"-board", "maths"}, 2, "-role is required"},
		{[]string{"-board", "maths", "-role", "admin"}, 2, `invalid -role "admin"`},
		{[]string{"-board", "a b", "-role", "draw"}, 2, "invalid board name"},
		{[]string{"-board", "maths", "-role", "draw", "-ttl", "-1h"}, 2, "-ttl must be positive"},
		{[]string{"-board", "maths", "-role", "draw", "-ttl", "soon"}, 2, "invalid value"},
		{[]string{"-board", "maths", "-role", "draw", "-name", strings.Repeat("n", 41)}, 2, "the limit is 40"},
		{[]string{"-board", "maths", "-role", "draw", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"-bogus"}, 2, "flag provided but not defined"},
		{[]string{"-secret-env", "UNSET_SECRET_XYZ", "-board", "maths", "-role", "draw"}, 1, "UNSET_SECRET_XYZ is not set"},
		{[]string{"-secret-env", "EMPTY_SECRET", "-board", "maths", "-role", "draw"}, 1, "EMPTY_SECRET is not set"},
		{[]string{"-secret-env", "SHORT_SECRET", "-board", "maths", "-role", "draw"}, 1, "token secret must be at least 32 bytes"},
		{[]string{"-h"}, 0, "Usage: draw-server token"},
	} {
		code, out, errs := run(tc.args...)
		if code != tc.code || out != "" || !strings.Contains(errs, tc.msg) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, code, out, errs, tc.code, tc.msg)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	v := verifier(b)
	tok, err := Mint(secret, draw.Grant{Board: "maths", Role: draw.RoleDraw, Name: "Ann", Subject: "user-42", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
