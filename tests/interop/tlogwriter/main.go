// Command tlogwriter writes a static C2SP tlog-tiles directory for a log of
// its own making, with nothing but the Go standard library and
// golang.org/x/mod/sumdb/{tlog,note}: an implementation independent of Civic
// Attest, for `civic-attest audit --tree-only` to read.
//
//	tlogwriter -dir DIR -n N [-origin ORIGIN] [-seed SEED]
//
// Leaf i is "tlogwriter leaf <i>" followed by i%7 bytes of padding, so entry
// sizes vary. Run again with a larger -n on the same directory, it publishes
// the tiles from the size of DIR/checkpoint on, as a growing log does. The
// key comes from -seed, so every run signs with the same one. It prints the
// log's verifier key.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const tileHeight = 8

func leaf(i int64) []byte {
	return append([]byte(fmt.Sprintf("tlogwriter leaf %d", i)), bytes.Repeat([]byte{'.'}, int(i%7))...)
}

// seededReader is an endless deterministic byte stream: SHA-256 in counter mode.
type seededReader struct {
	seed    []byte
	counter uint64
	buf     []byte
}

func (r *seededReader) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) {
		var c [8]byte
		binary.BigEndian.PutUint64(c[:], r.counter)
		r.counter++
		sum := sha256.Sum256(append(append([]byte{}, r.seed...), c[:]...))
		r.buf = append(r.buf, sum[:]...)
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// c2spPath turns sumdb's "tile/8/L/NNN[.p/W]" into C2SP tlog-tiles'
// "tile/L/NNN[.p/W]", and level-0 tiles into entry bundle paths when asked.
func c2spPath(t tlog.Tile, entries bool) string {
	p := strings.TrimPrefix(t.Path(), "tile/"+strconv.Itoa(tileHeight)+"/")
	if entries {
		return "tile/entries/" + strings.TrimPrefix(p, "0/")
	}
	return "tile/" + p
}

func write(dir, name string, data []byte) {
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		log.Fatal(err)
	}
}

// publishedSize is the size of DIR/checkpoint, or 0.
func publishedSize(dir string) int64 {
	text, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		return 0
	}
	lines := strings.SplitN(string(text), "\n", 3)
	if len(lines) < 3 {
		log.Fatalf("%s/checkpoint: not a checkpoint", dir)
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		log.Fatalf("%s/checkpoint: size: %v", dir, err)
	}
	return n
}

func main() {
	dir := flag.String("dir", "", "the directory to write")
	n := flag.Int64("n", 0, "the number of leaves")
	origin := flag.String("origin", "interop.example/tlogwriter", "the log's origin and key name")
	seed := flag.String("seed", "tlogwriter", "where the log key comes from")
	flag.Parse()
	if *dir == "" || *n <= 0 {
		log.Fatal("usage: tlogwriter -dir DIR -n N [-origin ORIGIN] [-seed SEED]")
	}
	old := publishedSize(*dir)
	if old > *n {
		log.Fatalf("%s holds %d leaves already, more than -n %d", *dir, old, *n)
	}

	// Every stored hash of the tree, in tlog's storage order.
	var stored []tlog.Hash
	hashes := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i := int64(0); i < *n; i++ {
		add, err := tlog.StoredHashes(i, leaf(i), hashes)
		if err != nil {
			log.Fatal(err)
		}
		stored = append(stored, add...)
	}

	for _, t := range tlog.NewTiles(tileHeight, old, *n) {
		// NewTiles lists every width a partial tile passes through; a
		// checkpoint needs only the one it ends at.
		if t.W != 1<<tileHeight && int64(t.W) != (*n>>(tileHeight*t.L))%(1<<tileHeight) {
			continue
		}
		data, err := tlog.ReadTileData(t, hashes)
		if err != nil {
			log.Fatal(err)
		}
		write(*dir, c2spPath(t, false), data)
		if t.L != 0 {
			continue
		}
		// The entry bundle beside each level-0 tile: uint16 length, then the entry.
		var bundle []byte
		for i := t.N << tileHeight; i < t.N<<tileHeight+int64(t.W); i++ {
			e := leaf(i)
			bundle = binary.BigEndian.AppendUint16(bundle, uint16(len(e)))
			bundle = append(bundle, e...)
		}
		write(*dir, c2spPath(t, true), bundle)
	}

	root, err := tlog.TreeHash(*n, hashes)
	if err != nil {
		log.Fatal(err)
	}
	skey, vkey, err := note.GenerateKey(&seededReader{seed: []byte(*seed)}, *origin)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		log.Fatal(err)
	}
	text := fmt.Sprintf("%s\n%d\n%s\n", *origin, *n, base64.StdEncoding.EncodeToString(root[:]))
	signed, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		log.Fatal(err)
	}
	write(*dir, "checkpoint", signed)
	fmt.Println(vkey)
}
