"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs as ranges, and their verification (pure, no database).

leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right). A proof is built as a list of
leaf ranges [lo, hi) whose tree hashes it carries; ``store`` resolves ranges into hashes from the
stored tiles, so this module only knows the shape of the tree.
"""
from __future__ import annotations

from hashlib import sha256

TILE_HEIGHT = 8  # C2SP tlog-tiles: tiles 256 hashes wide, hashes stored at levels 0, 8, 16, ...
TILE_WIDTH = 1 << TILE_HEIGHT


class ProofError(ValueError):
    """A proof does not verify, or its sizes make no sense."""


def leaf_hash(data: bytes) -> bytes:
    return sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(hashes: list[bytes]) -> bytes:
    """The tree hash of a list of leaf hashes (RFC 6962 MTH): level by level, a lone last node
    moving up unchanged, which is the same tree as MTH's split at the largest power of two."""
    if not hashes:
        return sha256(b"").digest()
    level = list(hashes)
    while len(level) > 1:
        odd = level[-1] if len(level) & 1 else None
        level = [sha256(b"\x01" + a + b).digest() for a, b in zip(level[0::2], level[1::2], strict=False)]
        if odd is not None:
            level.append(odd)
    return level[0]


def complete_subtrees(lo: int, hi: int) -> list[tuple[int, int]]:
    """[lo, hi) as complete, aligned subtrees (level, index), left to right, as MTH splits them.

    Valid for the ranges RFC 6962 proofs name: lo is a multiple of the largest power of two
    not above hi - lo."""
    out = []
    while lo < hi:
        n = hi - lo
        level = n.bit_length() - 1
        if (1 << level) != n:  # not a power of two: the left part is the largest one below n
            level = split(n).bit_length() - 1
        while lo % (1 << level):
            level -= 1
        out.append((level, lo >> level))
        lo += 1 << level
    return out


def range_hash(lo: int, hi: int, node) -> bytes:
    """MTH of leaves [lo, hi) given ``node(level, index)`` for complete subtrees."""
    parts = [node(level, idx) for level, idx in complete_subtrees(lo, hi)]
    h = parts.pop()
    while parts:
        h = node_hash(parts.pop(), h)
    return h


def inclusion_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """PATH(m, D[0:n]) of RFC 6962 as leaf ranges, leaf side first."""
    if not 0 <= m < n:
        raise ProofError(f"leaf index {m} is not in a tree of size {n}")
    out: list[tuple[int, int]] = []
    lo, hi = 0, n
    while hi - lo > 1:
        k = split(hi - lo)
        if m - lo < k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo = lo + k
    out.reverse()
    return out


def consistency_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """PROOF(m, D[0:n]) of RFC 6962 as leaf ranges."""
    if not 0 < m <= n:
        raise ProofError(f"cannot prove size {m} against size {n}")
    if m == n:
        return []
    out: list[tuple[int, int]] = []
    lo, hi, b = 0, n, True
    while True:
        size = hi - lo
        if m == size:
            if not b:
                out.append((lo, hi))
            break
        k = split(size)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m, b = lo + k, m - k, False
    out.reverse()
    return out


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> None:
    """RFC 9162 2.1.3.2; raises ProofError unless ``leaf`` sits at ``index`` of the tree ``root``."""
    if not 0 <= index < size:
        raise ProofError("leaf index outside the tree")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof too short")
    if r != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(m: int, n: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> None:
    """RFC 9162 2.1.4.2; raises ProofError unless the tree (n, new_root) extends (m, old_root)."""
    if m > n or m < 0:
        raise ProofError("the old size is larger than the new size")
    if m == n:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError("same size, different roots: the log forked")
        return
    if m == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("empty consistency proof")
    if m & (m - 1) == 0:
        proof = [old_root, *proof]
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise ProofError("consistency proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof too short")
    if fr != old_root:
        raise ProofError("consistency proof does not lead to the old root: the log forked")
    if sr != new_root:
        raise ProofError("consistency proof does not lead to the new root")


# ---- tiles -----------------------------------------------------------------------------------

def stored_levels(level: int) -> tuple[int, int]:
    """A subtree at ``level`` is folded from 2**r hashes stored at tile level ``base``: (base, r)."""
    r = level % TILE_HEIGHT
    return level - r, r


def tile_path(tile_level: int, index: int, width: int = TILE_WIDTH) -> str:
    """C2SP tlog-tiles path ``tile/<L>/<N>[.p/<W>]`` with N in 3-digit groups (x001/x234/067)."""
    digits = f"{index:03d}"
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    name = "/".join([f"x{g}" for g in groups[:-1]] + [groups[-1]])
    path = f"tile/{tile_level}/{name}"
    return path if width == TILE_WIDTH else f"{path}.p/{width}"
