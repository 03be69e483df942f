// Package jwt verifies and mints the signed tokens with which apps grant
// their users a role on a board (README "Use it from your app").
//
// A token is a JWT signed with HS256 and the server's TOKEN_SECRET. Its
// claims are:
//
//	board  string, required: the board's name as in /b/<name>; "/" is the
//	       default board (the page at "/")
//	role   string, required: "view", "draw" or "owner"
//	name   string, optional: shown in presence, at most 40 characters
//	sub    string, optional: the app's id for the holder
//	exp    number, required: when the token expires, in Unix seconds
//	       (30 s of leeway allow for clock skew)
//
// Verify checks the signature, the expiry and the claims; whether the token
// is for the board the client asked for is up to the caller.
package jwt

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/drawing/draw/draw"
	jwtlib "github.com/golang-jwt/jwt/v5"
)

const (
	// MinSecret is the shortest secret accepted, in bytes.
	MinSecret = 32
	// Leeway is how long after its exp a token is still accepted.
	Leeway = 30 * time.Second
	// MaxName is the longest name claim accepted, in characters.
	MaxName = 40
	// MaxToken is the longest token looked at, in bytes. Tokens minted
	// here are a few hundred bytes long.
	MaxToken = 4096
	// DefaultBoardClaim is how a token names the default board.
	DefaultBoardClaim = "/"

	alg = "HS256"
)

// Errors. Every error Verify returns matches (errors.Is) exactly one of
// ErrMalformed, ErrSignature, ErrExpired and ErrClaims; its message says
// what is wrong in more detail.
var (
	ErrMalformed = errors.New("token is malformed")
	ErrSignature = errors.New("token signature is invalid: was it signed with this server's TOKEN_SECRET?")
	ErrExpired   = errors.New("token expired")
	ErrClaims    = errors.New("token claims are invalid")

	// ErrShortSecret is returned by New and Mint for a secret shorter than
	// MinSecret bytes.
	ErrShortSecret = errors.New("token secret must be at least 32 bytes: use e.g. `openssl rand -hex 32`")
)

// tokenError is an error with its own message that matches (errors.Is)
// one of the sentinel errors.
type tokenError struct {
	kind error
	msg  string
}

func (e *tokenError) Error() string { return e.msg }
func (e *tokenError) Unwrap() error { return e.kind }

func fail(kind error, format string, args ...any) error {
	return &tokenError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Verifier checks tokens signed with one secret. It is safe for concurrent
// use.
type Verifier struct {
	key    []byte
	parser *jwtlib.Parser
}

var _ draw.TokenVerifier = (*Verifier)(nil)

// New returns a Verifier of HS256 tokens signed with secret.
func New(secret []byte) (*Verifier, error) {
	if len(secret) < MinSecret {
		return nil, ErrShortSecret
	}
	return &Verifier{
		key: append([]byte(nil), secret...),
		// No WithValidMethods: the library reports a method outside the
		// list as a bad signature; keyFunc refuses other algs instead, so
		// that the error says which alg it was.
		parser: jwtlib.NewParser(
			jwtlib.WithExpirationRequired(),
			jwtlib.WithLeeway(Leeway),
		),
	}, nil
}

// keyFunc hands the library the key, for HS256 tokens only.
func (v *Verifier) keyFunc(t *jwtlib.Token) (any, error) {
	if t.Method != jwtlib.SigningMethodHS256 {
		return nil, wrongAlg(t)
	}
	return v.key, nil
}

func wrongAlg(t *jwtlib.Token) error {
	a, ok := t.Header["alg"]
	switch {
	case !ok:
		return fail(ErrClaims, "token header has no alg: this server only accepts %s tokens", alg)
	case a == "none":
		return fail(ErrClaims, `token alg is "none" (unsigned): this server only accepts %s tokens`, alg)
	}
	if s, ok := a.(string); ok {
		return fail(ErrClaims, "token alg is %s: this server only accepts %s tokens", quote(s), alg)
	}
	return fail(ErrClaims, "token alg is a JSON %s, not a string: this server only accepts %s tokens", jsonType(a), alg)
}

// Verify checks token's signature, expiry and claims and says what it
// grants. Its errors match one of ErrMalformed, ErrSignature, ErrExpired
// and ErrClaims.
func (v *Verifier) Verify(token string) (draw.Grant, error) {
	switch {
	case token == "":
		return draw.Grant{}, fail(ErrMalformed, "token is malformed: it is empty")
	case len(token) > MaxToken:
		return draw.Grant{}, fail(ErrMalformed, "token is malformed: it is %d bytes long; the limit is %d", len(token), MaxToken)
	case strings.ContainsAny(token, " \t\r\n"):
		return draw.Grant{}, fail(ErrMalformed, `token is malformed: it contains white space (pass the bare token, without "Bearer " or a line break)`)
	}
	if n := strings.Count(token, ".") + 1; n != 3 {
		return draw.Grant{}, fail(ErrMalformed, "token is malformed: it has %d part(s) separated by dots; a JWT has 3 (header.payload.signature)", n)
	}
	claims := jwtlib.MapClaims{}
	t, err := v.parser.ParseWithClaims(token, claims, v.keyFunc)
	if err != nil {
		return draw.Grant{}, explain(t, claims, err)
	}
	g, err := grantOf(claims)
	if err != nil {
		return draw.Grant{}, err // never a partly filled grant
	}
	return g, nil
}

// explain turns the library's error into one of ours.
func explain(t *jwtlib.Token, claims jwtlib.MapClaims, err error) error {
	var te *tokenError
	switch {
	case errors.As(err, &te): // from keyFunc
		return te
	case errors.Is(err, jwtlib.ErrTokenMalformed):
		// The library's message starts "token is malformed: " and says
		// which part could not be decoded.
		return fail(ErrMalformed, "%s", err.Error())
	case errors.Is(err, jwtlib.ErrTokenUnverifiable):
		// An alg the library does not know, or none at all.
		if t != nil {
			return wrongAlg(t)
		}
		return fail(ErrClaims, "token cannot be verified: this server only accepts %s tokens", alg)
	case errors.Is(err, jwtlib.ErrTokenSignatureInvalid):
		return ErrSignature
	case errors.Is(err, jwtlib.ErrTokenInvalidClaims):
		// The signature is good: the claims can be trusted to say what
		// is wrong with them.
		for _, k := range []string{"exp", "nbf", "iat"} {
			if c, ok := claims[k]; ok && !isNumber(c) {
				return fail(ErrClaims, "token claim %s is a JSON %s; it must be a number (Unix seconds)", k, jsonType(c))
			}
		}
		if errors.Is(err, jwtlib.ErrTokenRequiredClaimMissing) {
			return fail(ErrClaims, "token has no exp claim: every token must say when it expires (Unix seconds)")
		}
		if errors.Is(err, jwtlib.ErrTokenExpired) {
			exp, _ := claims.GetExpirationTime()
			return fail(ErrExpired, "token expired at %s", rfc3339(exp))
		}
		if errors.Is(err, jwtlib.ErrTokenNotValidYet) {
			nbf, _ := claims.GetNotBefore()
			return fail(ErrClaims, "token is not valid before %s (nbf): is the app's or the server's clock wrong?", rfc3339(nbf))
		}
		return fail(ErrClaims, "%s", err.Error())
	}
	return fail(ErrMalformed, "token is malformed: %v", err)
}

func rfc3339(d *jwtlib.NumericDate) string {
	if d == nil {
		return "?"
	}
	return d.UTC().Format(time.RFC3339)
}

// grantOf reads the claims of a token whose signature and expiry are good.
func grantOf(claims jwtlib.MapClaims) (draw.Grant, error) {
	var g draw.Grant

	board, err := stringClaim(claims, "board", true,
		`set "board" to the board's name as in /b/<name>, or "/" for the default board`)
	if err != nil {
		return g, err
	}
	switch {
	case board == DefaultBoardClaim:
		g.Board = draw.DefaultBoard
	case board == "":
		return g, fail(ErrClaims, `token claim board is empty: write the default board as "/"`)
	case draw.CheckBoardName(board) != nil:
		return g, fail(ErrClaims, `token claim board %s is not a board name: use 1-%d letters, digits, '-' or '_', or "/" for the default board`,
			quote(board), draw.MaxBoardName)
	default:
		g.Board = board
	}

	role, err := stringClaim(claims, "role", true, `set "role" to "view", "draw" or "owner"`)
	if err != nil {
		return g, err
	}
	if g.Role = draw.Role(role); !g.Role.Valid() {
		return g, fail(ErrClaims, `token claim role %s is not a role: use "view", "draw" or "owner"`, quote(role))
	}

	if g.Name, err = stringClaim(claims, "name", false, ""); err != nil {
		return g, err
	}
	if n := utf8.RuneCountInString(g.Name); n > MaxName {
		return g, fail(ErrClaims, "token claim name is %d characters long; the limit is %d", n, MaxName)
	}

	if g.Subject, err = stringClaim(claims, "sub", false, ""); err != nil {
		return g, err
	}

	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil { // checked by the parser already
		return g, fail(ErrClaims, "token has no exp claim: every token must say when it expires (Unix seconds)")
	}
	g.Expires = exp.Time
	return g, nil
}

// stringClaim reads claim k, which must be a string if present; hint says
// what to do when a required claim is missing.
func stringClaim(claims jwtlib.MapClaims, k string, required bool, hint string) (string, error) {
	c, ok := claims[k]
	if !ok {
		if required {
			return "", fail(ErrClaims, "token has no %s claim: %s", k, hint)
		}
		return "", nil
	}
	s, ok := c.(string)
	if !ok {
		return "", fail(ErrClaims, "token claim %s is a JSON %s; it must be a string", k, jsonType(c))
	}
	return s, nil
}

func isNumber(v any) bool {
	_, ok := v.(float64)
	return ok
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// quote quotes a value taken from a token for an error message, cut short
// if it is long.
func quote(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		return fmt.Sprintf("%q...", string(r[:max]))
	}
	return fmt.Sprintf("%q", s)
}

// mintClaims are the claims Mint writes.
type mintClaims struct {
	Board string    `json:"board"`
	Role  draw.Role `json:"role"`
	Name  string    `json:"name,omitempty"`
	jwtlib.RegisteredClaims
}

// Mint returns a token granting g, signed with secret (HS256). The token
// expires at g.Expires (to the second) and was issued now. The default
// board (draw.DefaultBoard) is written "/".
func Mint(secret []byte, g draw.Grant) (string, error) {
	if len(secret) < MinSecret {
		return "", ErrShortSecret
	}
	board := g.Board
	if board == draw.DefaultBoard {
		board = DefaultBoardClaim
	} else if err := draw.CheckBoardName(board); err != nil {
		return "", fmt.Errorf("%w: %v", ErrClaims, err)
	}
	if !g.Role.Valid() {
		return "", fail(ErrClaims, `invalid role %s: use "view", "draw" or "owner"`, quote(string(g.Role)))
	}
	if n := utf8.RuneCountInString(g.Name); n > MaxName {
		return "", fail(ErrClaims, "name is %d characters long; the limit is %d", n, MaxName)
	}
	if g.Expires.IsZero() {
		return "", fail(ErrClaims, "grant has no expiry: every token must expire")
	}
	c := mintClaims{
		Board: board,
		Role:  g.Role,
		Name:  g.Name,
		RegisteredClaims: jwtlib.RegisteredClaims{
			Subject:   g.Subject,
			ExpiresAt: jwtlib.NewNumericDate(g.Expires),
			IssuedAt:  jwtlib.NewNumericDate(time.Now()),
		},
	}
	return jwtlib.NewWithClaims(jwtlib.SigningMethodHS256, c).SignedString(secret)
}

// TokenCommand is the "token" subcommand: it prints a token minted with
// the secret in an environment variable. args are the arguments after
// "token". It returns the exit status: 0, 1 on failure, 2 on bad usage.
//
//	draw-server token -board maths -role draw -name Ann -sub user-42 -ttl 1h
func TokenCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secretEnv := fs.String("secret-env", "TOKEN_SECRET", "`name` of the environment variable that holds the secret")
	board := fs.String("board", "", "the board's `name` as in /b/<name>, or / for the default board (required)")
	role := fs.String("role", "", "`role` granted: view, draw or owner (required)")
	name := fs.String("name", "", fmt.Sprintf("display `name` shown in presence, at most %d characters", MaxName))
	sub := fs.String("sub", "", "the app's `id` for the holder")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: draw-server token -board NAME -role ROLE [flags]\n\n"+
			"Prints a token granting ROLE on board NAME, signed with the secret\n"+
			"in the environment variable named by -secret-env.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "draw-server token: "+format+"\n", args...)
		fmt.Fprintf(stderr, "Run 'draw-server token -h' for usage.\n")
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return usage("unexpected argument %q", fs.Arg(0))
	case *board == "":
		return usage("-board is required (use / for the default board)")
	case *role == "":
		return usage("-role is required: view, draw or owner")
	case !draw.Role(*role).Valid():
		return usage("invalid -role %q: use view, draw or owner", *role)
	case *ttl <= 0:
		return usage("-ttl must be positive, e.g. 1h")
	case *secretEnv == "":
		return usage("-secret-env must name an environment variable")
	}
	g := draw.Grant{
		Board:   *board,
		Role:    draw.Role(*role),
		Name:    *name,
		Subject: *sub,
		Expires: time.Now().Add(*ttl),
	}
	if g.Board == DefaultBoardClaim {
		g.Board = draw.DefaultBoard
	} else if err := draw.CheckBoardName(g.Board); err != nil {
		return usage("-board: %v (or / for the default board)", err)
	}
	if n := utf8.RuneCountInString(g.Name); n > MaxName {
		return usage("-name is %d characters long; the limit is %d", n, MaxName)
	}
	secret, ok := os.LookupEnv(*secretEnv)
	if !ok || secret == "" {
		fmt.Fprintf(stderr, "draw-server token: environment variable %s is not set: set it to the server's token secret\n", *secretEnv)
		return 1
	}
	tok, err := Mint([]byte(secret), g)
	if err != nil {
		fmt.Fprintf(stderr, "draw-server token: %s: %v\n", *secretEnv, err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}
