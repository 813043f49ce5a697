// tlogcheck verifies camnet's transparency-log checkpoints and proofs with Go's
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog (an implementation not written
// by camnet). Input on stdin, JSON:
//
//	{"key": "<verifier key>", "checkpoint": "<signed note>", "index": N, "leaf_hash": "<b64>",
//	 "proof": ["<b64>", ...], "old_checkpoint": "<signed note>", "consistency": ["<b64>", ...]}
//
// Prints "OK ..." and exits 0, or prints the failure and exits 1.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type input struct {
	Key           string   `json:"key"`
	Checkpoint    string   `json:"checkpoint"`
	Index         int64    `json:"index"`
	LeafHash      string   `json:"leaf_hash"`
	Proof         []string `json:"proof"`
	OldCheckpoint string   `json:"old_checkpoint"`
	Consistency   []string `json:"consistency"`
}

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func hash(s string) tlog.Hash {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) != tlog.HashSize {
		fail("bad hash %q", s)
	}
	var h tlog.Hash
	copy(h[:], raw)
	return h
}

// open checks the note signature with x/mod's note package and parses the C2SP checkpoint body.
func open(text string, verifier note.Verifier) (string, int64, tlog.Hash) {
	n, err := note.Open([]byte(text), note.VerifierList(verifier))
	if err != nil {
		fail("note.Open: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		fail("checkpoint: too few lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size: %v", err)
	}
	return lines[0], size, hash(lines[2])
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fail("input: %v", err)
	}
	verifier, err := note.NewVerifier(in.Key)
	if err != nil {
		fail("note.NewVerifier: %v", err)
	}
	origin, size, root := open(in.Checkpoint, verifier)
	if origin != verifier.Name() {
		fail("origin %q is not the key name %q", origin, verifier.Name())
	}
	if in.LeafHash != "" {
		var proof tlog.RecordProof
		for _, p := range in.Proof {
			proof = append(proof, hash(p))
		}
		if err := tlog.CheckRecord(proof, size, root, in.Index, hash(in.LeafHash)); err != nil {
			fail("tlog.CheckRecord: %v", err)
		}
	}
	if in.OldCheckpoint != "" {
		_, oldSize, oldRoot := open(in.OldCheckpoint, verifier)
		var proof tlog.TreeProof
		for _, p := range in.Consistency {
			proof = append(proof, hash(p))
		}
		if err := tlog.CheckTree(proof, size, root, oldSize, oldRoot); err != nil {
			fail("tlog.CheckTree: %v", err)
		}
	}
	fmt.Printf("OK %s size %d\n", origin, size)
}
