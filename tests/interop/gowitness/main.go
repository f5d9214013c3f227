// Command gowitness is a C2SP tlog-witness (v1.0.0) for one log, written with
// nothing but the Go standard library and golang.org/x/mod/sumdb/{note,tlog}:
// an implementation independent of Civic Attest, for the C++ tests to reach
// as an outside witness peer.
//
//	gowitness -name NAME -seed HEX64 -log VKEY [-origin ORIGIN]
//	          [-listen 127.0.0.1:0] [-delay-ms N] [-busy-first N] [-retry-after S]
//	          [-tls DIR]
//
// Once listening it prints two lines on stdout, "vkey <cosignature/v1 vkey>"
// and "listen <host:port>", then serves until killed, logging to stderr:
//
//	POST /add-checkpoint                     c2sp.org/tlog-witness@v1.0.0
//	GET  /<hex sha256(origin)>/checkpoint    the latest cosigned checkpoint (C2SP main)
//	GET  /healthz                            200
//
// State is in memory only: the latest cosigned size and root, from the empty
// tree. -delay-ms makes it a slow (far) witness; -busy-first N answers the
// first N add-checkpoint requests 429 with Retry-After, for clients' backoff.
// -tls DIR serves HTTPS (TLS 1.2 or 1.3) with a certificate for "localhost"
// only, issued by a test CA in DIR (ca.pem, ca.key: made on first use, shared
// by every instance given the same DIR), so clients can check both the chain
// (DIR/ca.pem) and the host name.
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Algorithm byte of cosignature/v1 keys (c2sp.org/signed-note).
const algCosignatureV1 = 0x04

// More than any honest request: 63 proof lines and a checkpoint with a
// hundred post-quantum signatures fit well below it.
const maxBody = 1 << 20

// tlog-witness caps the proof at 63 lines.
const maxProofLines = 63

type witness struct {
	name    string
	priv    ed25519.PrivateKey
	keyID   [4]byte
	origin  string
	logKey  note.Verifier
	delay   time.Duration
	retryAt int // Retry-After seconds of the 429s

	// mu makes each add-checkpoint's checks and update one atomic step, as
	// tlog-witness requires (else a smaller size could roll back a larger).
	mu        sync.Mutex
	busyLeft  int       // add-checkpoint requests still to refuse with 429
	size      int64     // latest cosigned size, 0 before any
	root      tlog.Hash // its root hash (the empty tree's at first)
	monitored []byte    // the latest cosigned checkpoint for GET, nil before any
}

// validName is signed-note's rule for key names: non-empty, no Unicode
// spaces, no '+'.
func validName(s string) bool {
	return s != "" && utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsSpace) < 0 && !strings.Contains(s, "+")
}

// cosignatureKeyID is SHA-256(name || 0x0A || 0x04 || public key)[:4].
func cosignatureKeyID(name string, pub ed25519.PublicKey) [4]byte {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', algCosignatureV1})
	h.Write(pub)
	var id [4]byte
	copy(id[:], h.Sum(nil))
	return id
}

func (w *witness) vkey() string {
	pub := w.priv.Public().(ed25519.PublicKey)
	return w.name + "+" + hex.EncodeToString(w.keyID[:]) + "+" +
		base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, pub...))
}

// cosign returns the cosignature/v1 signature line over the checkpoint's
// note text (which ends in its newline).
func (w *witness) cosign(text string, now time.Time) string {
	ts := uint64(now.Unix())
	msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", ts, text)
	sig := make([]byte, 0, 4+8+ed25519.SignatureSize)
	sig = append(sig, w.keyID[:]...)
	sig = binary.BigEndian.AppendUint64(sig, ts)
	sig = append(sig, ed25519.Sign(w.priv, []byte(msg))...)
	return "— " + w.name + " " + base64.StdEncoding.EncodeToString(sig) + "\n"
}

// parseSize reads a decimal with no leading zeroes ("0" for zero).
func parseSize(s string) (int64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func parseHash(s string) (tlog.Hash, bool) {
	var h tlog.Hash
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, false
	}
	copy(h[:], b)
	return h, true
}

// request is a parsed add-checkpoint body.
type request struct {
	old        int64
	proof      tlog.TreeProof
	checkpoint []byte // the signed note, signatures included
	text       string // its note text, final newline included
	origin     string
	size       int64
	root       tlog.Hash
}

var errMalformed = errors.New("malformed")

// parseRequest splits the body into the old size line, the proof lines up to
// the empty line, and the checkpoint, whose note text it parses too (the
// origin must be known before the signatures can mean anything).
func parseRequest(body []byte) (*request, error) {
	var r request
	rest := body
	line := func() (string, bool) {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return "", false
		}
		l := string(rest[:i])
		rest = rest[i+1:]
		return l, true
	}
	first, ok := line()
	if !ok || !strings.HasPrefix(first, "old ") {
		return nil, fmt.Errorf("%w: no old size line", errMalformed)
	}
	if r.old, ok = parseSize(strings.TrimPrefix(first, "old ")); !ok {
		return nil, fmt.Errorf("%w: old size %q", errMalformed, first)
	}
	for {
		l, ok := line()
		if !ok {
			return nil, fmt.Errorf("%w: no empty line before the checkpoint", errMalformed)
		}
		if l == "" {
			break
		}
		if len(r.proof) == maxProofLines {
			return nil, fmt.Errorf("%w: more than %d proof lines", errMalformed, maxProofLines)
		}
		h, ok := parseHash(l)
		if !ok {
			return nil, fmt.Errorf("%w: proof line %q", errMalformed, l)
		}
		r.proof = append(r.proof, h)
	}
	r.checkpoint = rest

	// The note text ends where note.Open says: before the last empty line.
	split := bytes.LastIndex(rest, []byte("\n\n"))
	if split < 0 {
		return nil, fmt.Errorf("%w: checkpoint has no signatures", errMalformed)
	}
	r.text = string(rest[:split+1])
	lines := strings.Split(strings.TrimSuffix(r.text, "\n"), "\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("%w: checkpoint of %d lines", errMalformed, len(lines))
	}
	for _, l := range lines {
		if l == "" { // origin, size, root and extension lines are all non-empty
			return nil, fmt.Errorf("%w: empty line in the checkpoint", errMalformed)
		}
	}
	r.origin = lines[0]
	if r.size, ok = parseSize(lines[1]); !ok {
		return nil, fmt.Errorf("%w: checkpoint size %q", errMalformed, lines[1])
	}
	if r.root, ok = parseHash(lines[2]); !ok {
		return nil, fmt.Errorf("%w: checkpoint root hash %q", errMalformed, lines[2])
	}
	return &r, nil
}

// answer is a response: a status, a body, and maybe its type.
type answer struct {
	status      int
	body        string
	contentType string
}

func fail(status int, format string, args ...interface{}) answer {
	return answer{status: status, body: fmt.Sprintf(format, args...) + "\n"}
}

// addCheckpoint checks a request in tlog-witness v1.0.0's order and cosigns
// it. The caller holds w.mu.
func (w *witness) addCheckpoint(body []byte) answer {
	r, err := parseRequest(body)
	if err != nil {
		return fail(http.StatusBadRequest, "%v", err)
	}
	// note.Open checks the signature block's syntax too (malformed: 400);
	// the log's signature missing or failing is 403, but only once the
	// origin is known to be the log's (else 404).
	n, err := note.Open(r.checkpoint, note.VerifierList(w.logKey))
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	badSig := errors.As(err, &unverified) || errors.As(err, &invalid)
	if err != nil && !badSig {
		return fail(http.StatusBadRequest, "checkpoint: %v", err)
	}
	if r.origin != w.origin {
		return fail(http.StatusNotFound, "unknown log %q", r.origin)
	}
	if badSig {
		return fail(http.StatusForbidden, "checkpoint not signed by the log: %v", err)
	}
	if r.old > r.size {
		return fail(http.StatusBadRequest, "old size %d beyond the checkpoint's %d", r.old, r.size)
	}
	if r.old != w.size {
		return answer{status: http.StatusConflict, body: fmt.Sprintf("%d\n", w.size), contentType: "text/x.tlog.size"}
	}
	switch {
	case r.old == r.size:
		// The same tree again: nothing to prove, and the root must not differ
		// (409 in v1.0.0; C2SP main has since made it 422).
		if len(r.proof) != 0 {
			return fail(http.StatusUnprocessableEntity, "a proof from size %d to itself must be empty", r.old)
		}
		if r.root != w.root {
			return fail(http.StatusConflict, "size %d: root hash differs from the one cosigned", r.old)
		}
	case r.old == 0:
		// The empty tree is a prefix of any tree: the proof must be empty.
		if len(r.proof) != 0 {
			return fail(http.StatusUnprocessableEntity, "a proof from size 0 must be empty")
		}
	default:
		if err := tlog.CheckTree(r.proof, r.size, r.root, r.old, w.root); err != nil {
			return fail(http.StatusUnprocessableEntity, "consistency proof %d -> %d: %v", r.old, r.size, err)
		}
	}

	cosig := w.cosign(r.text, time.Now())
	w.size, w.root = r.size, r.root
	// For monitors: the text, the log's signatures that verified (others
	// dropped), then the cosignature.
	var m strings.Builder
	m.WriteString(r.text)
	m.WriteString("\n")
	for _, s := range n.Sigs {
		m.WriteString("— " + s.Name + " " + s.Base64 + "\n")
	}
	m.WriteString(cosig)
	w.monitored = []byte(m.String())
	return answer{status: http.StatusOK, body: cosig, contentType: "text/plain; charset=utf-8"}
}

func write(rw http.ResponseWriter, a answer) {
	if a.contentType == "" {
		a.contentType = "text/plain; charset=utf-8"
	}
	rw.Header().Set("Content-Type", a.contentType)
	rw.WriteHeader(a.status)
	io.WriteString(rw, a.body)
}

func (w *witness) handleAdd(rw http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		write(rw, fail(http.StatusMethodNotAllowed, "POST only"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, req.Body, maxBody))
	if err != nil {
		log.Printf("add-checkpoint from %s: 400: body: %v", req.RemoteAddr, err)
		write(rw, fail(http.StatusBadRequest, "body: %v", err))
		return
	}
	// The slow witness: the request is handled after the delay even if the
	// client gave up meanwhile, as a far witness's state moves though its
	// answer comes too late. Outside the lock, so that requests overlap.
	if w.delay > 0 {
		time.Sleep(w.delay)
	}

	w.mu.Lock()
	var a answer
	if w.busyLeft > 0 {
		w.busyLeft--
		rw.Header().Set("Retry-After", strconv.Itoa(w.retryAt))
		a = fail(http.StatusTooManyRequests, "busy")
	} else {
		a = w.addCheckpoint(body)
	}
	size := w.size
	w.mu.Unlock()

	log.Printf("add-checkpoint from %s: %d (witness size %d): %s", req.RemoteAddr, a.status, size, strings.TrimSpace(a.body))
	write(rw, a)
}

// handleRoot serves GET /<hex sha256(origin)>/checkpoint and /healthz; the
// rest is 404.
func (w *witness) handleRoot(rw http.ResponseWriter, req *http.Request) {
	get := req.Method == http.MethodGet || req.Method == http.MethodHead
	if req.URL.Path == "/healthz" && get {
		write(rw, answer{status: http.StatusOK, body: "ok\n"})
		return
	}
	sum := sha256.Sum256([]byte(w.origin))
	if req.URL.Path != "/"+hex.EncodeToString(sum[:])+"/checkpoint" {
		write(rw, fail(http.StatusNotFound, "not found"))
		return
	}
	if !get {
		rw.Header().Set("Allow", "GET, HEAD")
		write(rw, fail(http.StatusMethodNotAllowed, "GET only"))
		return
	}
	w.mu.Lock()
	m := w.monitored
	w.mu.Unlock()
	if m == nil {
		write(rw, fail(http.StatusNotFound, "nothing cosigned yet for %s", w.origin))
		return
	}
	write(rw, answer{status: http.StatusOK, body: string(m)})
}

// testCA is DIR's CA, made there on first use (a second instance reuses it).
func testCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey) {
	certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key")
	if certPEM, err := os.ReadFile(certFile); err == nil {
		keyPEM, err := os.ReadFile(keyFile)
		if err != nil {
			log.Fatalf("-tls: %v", err)
		}
		cb, _ := pem.Decode(certPEM)
		kb, _ := pem.Decode(keyPEM)
		if cb == nil || kb == nil {
			log.Fatalf("-tls: %s or %s is not PEM", certFile, keyFile)
		}
		cert, err := x509.ParseCertificate(cb.Bytes)
		if err != nil {
			log.Fatalf("-tls: %s: %v", certFile, err)
		}
		key, err := x509.ParseECPrivateKey(kb.Bytes)
		if err != nil {
			log.Fatalf("-tls: %s: %v", keyFile, err)
		}
		return cert, key
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gowitness test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		log.Fatal(err)
	}
	// The key first: an instance that finds ca.pem expects ca.key beside it.
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		log.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}
	return cert, key
}

// localhostCertificate is a server certificate for the name "localhost"
// alone (no IP address), issued by the CA.
func localhostCertificate(ca *x509.Certificate, caKey *ecdsa.PrivateKey) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		log.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, caKey)
	if err != nil {
		log.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func main() {
	log.SetPrefix("gowitness: ")
	name := flag.String("name", "", "the witness's key name")
	seedHex := flag.String("seed", "", "the 32-byte Ed25519 seed of its key, in hex")
	logVkey := flag.String("log", "", "the log's signed-note Ed25519 verifier key")
	origin := flag.String("origin", "", "the log's origin (default: the log key's name)")
	listen := flag.String("listen", "127.0.0.1:0", "the address to listen on")
	delayMs := flag.Int("delay-ms", 0, "sleep this long before handling each add-checkpoint")
	busyFirst := flag.Int("busy-first", 0, "answer the first N add-checkpoint requests 429")
	retryAfter := flag.Int("retry-after", 1, "the Retry-After seconds of those 429s")
	tlsDir := flag.String("tls", "", "serve HTTPS, for localhost, with a test CA in this directory")
	flag.Parse()
	if flag.NArg() != 0 || *name == "" || *seedHex == "" || *logVkey == "" {
		log.Fatal("usage: gowitness -name NAME -seed HEX64 -log VKEY [-origin ORIGIN] [-listen 127.0.0.1:0] [-delay-ms N] [-busy-first N] [-retry-after S] [-tls DIR]")
	}
	if !validName(*name) {
		log.Fatalf("-name %q: not a signed-note key name", *name)
	}
	seed, err := hex.DecodeString(*seedHex)
	if err != nil || len(seed) != ed25519.SeedSize {
		log.Fatalf("-seed: want %d bytes in hex", ed25519.SeedSize)
	}
	logKey, err := note.NewVerifier(*logVkey)
	if err != nil {
		log.Fatalf("-log: %v", err)
	}
	if *origin == "" {
		*origin = logKey.Name()
	}
	if *delayMs < 0 || *busyFirst < 0 || *retryAfter < 0 {
		log.Fatal("-delay-ms, -busy-first and -retry-after must not be negative")
	}

	priv := ed25519.NewKeyFromSeed(seed)
	w := &witness{
		name:     *name,
		priv:     priv,
		keyID:    cosignatureKeyID(*name, priv.Public().(ed25519.PublicKey)),
		origin:   *origin,
		logKey:   logKey,
		delay:    time.Duration(*delayMs) * time.Millisecond,
		retryAt:  *retryAfter,
		busyLeft: *busyFirst,
		root:     sha256.Sum256(nil), // RFC 6962: the empty tree's hash
	}

	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	// The CA is in its directory before the parent hears where to connect.
	var tlsConfig *tls.Config
	if *tlsDir != "" {
		ca, caKey := testCA(*tlsDir)
		tlsConfig = &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{localhostCertificate(ca, caKey)},
		}
		l = tls.NewListener(l, tlsConfig)
	}
	// os.Stdout is unbuffered: the parent reads both lines at once.
	fmt.Printf("vkey %s\nlisten %s\n", w.vkey(), l.Addr().String())
	log.Printf("witness %s for log %s on %s", w.name, w.origin, l.Addr())

	mux := http.NewServeMux()
	mux.HandleFunc("/add-checkpoint", w.handleAdd)
	mux.HandleFunc("/", w.handleRoot)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConfig}
	log.Fatal(srv.Serve(l)) // keep-alive stays on, as net/http has it
}
