"""A witness (C2SP tlog-witness): its own Ed25519 key, the last checkpoint it cosigned per log in a small
JSON state file, and ``add-checkpoint``: verify the log's signature, check consistency from the size it
saw last, refuse a fork, cosign (cosignature/v1). Needs nothing of camnet's database or app.
"""
from __future__ import annotations

import base64
import json
import os
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import merkle
from .note import (ALG_COSIGNATURE_V1, NoteError, Verifier, parse_checkpoint, parse_note, signer_from_seed,
                   verified_by)

STATE, KEY = "witness.json", "witness.key"
SIZE_TYPE = "text/x.tlog.size"


@dataclass
class Answer:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


def build_request(old: int, proof: list[bytes], checkpoint_note: str) -> str:
    """The add-checkpoint request body: ``old N``, the consistency proof, a blank line, the checkpoint."""
    lines = [f"old {old}"] + [base64.b64encode(h).decode() for h in proof]
    return "\n".join(lines) + "\n\n" + checkpoint_note


class Witness:
    def __init__(self, folder: str | os.PathLike):
        self.dir = Path(folder)
        state = json.loads((self.dir / STATE).read_text())
        self.name = state["name"]
        self.logs: dict = state.get("logs", {})
        seed = base64.b64decode((self.dir / KEY).read_text().strip())
        self.signer = signer_from_seed(self.name, seed, ALG_COSIGNATURE_V1)
        self._lock = threading.Lock()

    @classmethod
    def init(cls, folder: str | os.PathLike, name: str) -> "Witness":
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        if not (path / KEY).exists():
            fd = os.open(path / KEY, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
            (path / STATE).write_text(json.dumps({"name": name, "logs": {}}, indent=1))
        return cls(path)

    def verifier_key(self) -> str:
        return self.signer.verifier_key()

    def trust(self, log_vkey: str) -> str:
        """Follow the log whose verifier key is ``log_vkey`` (its name is the log's origin)."""
        v = Verifier.parse(log_vkey)
        self.logs.setdefault(v.name, {"key": str(v), "size": 0, "root": None})
        self.logs[v.name]["key"] = str(v)
        self._save()
        return v.name

    def _save(self) -> None:
        tmp = self.dir / (STATE + ".part")
        tmp.write_text(json.dumps({"name": self.name, "logs": self.logs}, indent=1))
        os.replace(tmp, self.dir / STATE)

    def add_checkpoint(self, request_body: str) -> Answer:
        try:
            head, sep, note_text = request_body.partition("\n\n")
            lines = head.split("\n")
            if not sep or not lines[0].startswith("old ") or not lines[0][4:].isdigit():
                return Answer(400, "request: expected 'old <size>', proof lines, a blank line, the checkpoint\n")
            old = int(lines[0][4:])
            proof = [base64.b64decode(x, validate=True) for x in lines[1:]]
            note = parse_note(note_text)
            cp = parse_checkpoint(note.body)
        except (NoteError, ValueError) as exc:
            return Answer(400, f"request: {exc}\n")
        with self._lock:
            log = self.logs.get(cp.origin)
            if log is None:
                return Answer(404, f"unknown log {cp.origin}\n")
            if not verified_by(note, Verifier.parse(log["key"])):
                return Answer(403, "checkpoint: no valid signature by the log's key\n")
            if old != log["size"]:
                return Answer(409, f"{log['size']}\n", SIZE_TYPE)
            if cp.size < old:
                return Answer(400, "checkpoint: smaller than the old size\n")
            known = base64.b64decode(log["root"]) if log["root"] else None
            try:
                if old == 0:
                    if proof:
                        raise merkle.ProofError("a proof from size 0 must be empty")
                else:
                    merkle.verify_consistency(old, cp.size, known, cp.root, proof)
            except merkle.ProofError as exc:
                # a checkpoint that does not extend what this witness cosigned: a fork, never cosigned
                return Answer(422, f"consistency: {exc}\n")
            log["size"], log["root"] = cp.size, base64.b64encode(cp.root).decode()
            self._save()
        return Answer(200, self.signer.sign_line(note.body))


def serve(witness: Witness, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server answering POST /add-checkpoint (call ``serve_forever`` on it)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server API
            if self.path.rstrip("/") != "/add-checkpoint":
                self.send_error(404)
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > 1_000_000:
                self.send_error(413)
                return
            answer = witness.add_checkpoint(self.rfile.read(length).decode("utf-8", "replace"))
            data = answer.body.encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return ThreadingHTTPServer((host, port), Handler)


def http_transport(url: str):
    """A function posting an add-checkpoint body to the witness at ``url``: (status, text)."""
    import urllib.error
    import urllib.request

    def send(body: str) -> Answer:
        req = urllib.request.Request(url.rstrip("/") + "/add-checkpoint", data=body.encode(), method="POST",
                                     headers={"Content-Type": "text/plain; charset=utf-8"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # nosec B310 - a configured witness URL
                return Answer(resp.status, resp.read().decode())
        except urllib.error.HTTPError as err:
            return Answer(err.code, err.read().decode())

    return send
