"""The Merkle tree of RFC 9162 §2.1 (Certificate Transparency 2.0), over leaves given as their hashes.

Pure functions, no I/O, nothing of binhchon's: the services build proofs with it and an auditor verifies them
with it (or with any RFC 9162 / RFC 6962 implementation: the hashing is the same, SHA-256 with the 0x00 leaf
and 0x01 node prefixes).

- ``leaf_hash(data)`` = SHA-256(0x00 || data); ``root(leaves)`` = MTH over leaf hashes.
- ``inclusion_proof(m, leaves)`` = PATH(m, D[n]); ``verify_inclusion`` is §2.1.3.2.
- ``consistency_proof(m, leaves)`` = PROOF(m, D[n]); ``verify_consistency`` is §2.1.4.2.

A proof is a list of MTHs of ranges of the tree (``inclusion_ranges``, ``consistency_ranges``), and the MTH of
such a range is the fold of the perfect subtrees that cover it (``range_pieces``, the same shape as a frontier).
So a proof needs only the roots of O(log n) perfect subtrees: ``proof(ranges, subtree)`` builds it from any source
of them (a log's stored subtree roots, ADR 0022 amended 2026-12-01); ``inclusion_proof`` and ``consistency_proof``
build it from every leaf hash of the tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) from the leaf hashes, in one pass with a stack of complete subtrees (no recursion)."""
    return frontier_root(len(leaves), frontier(leaves))


def frontier_sizes(size: int) -> list[int]:
    """The sizes of the perfect subtrees that cover [0, size), left to right: the bits of ``size``, highest first."""
    return [1 << b for b in range(size.bit_length() - 1, -1, -1) if size >> b & 1]


def frontier(leaves: Sequence[bytes], start: Sequence[bytes] = (), start_size: int = 0, *,
             completed: list[tuple[int, int, bytes]] | None = None, min_size: int = 2) -> list[bytes]:
    """The compact range (CT's "frontier") of a tree: the roots of the perfect subtrees covering [0, n), left to
    right, one per bit of n. ``start`` is the frontier of the tree's first ``start_size`` leaves, and ``leaves``
    the ones after: a tree's frontier grows from its last one by what was added, never from every leaf.
    ``completed`` (when given) receives (first leaf, size, root) of each perfect subtree of at least ``min_size``
    leaves that the added leaves complete, in the order they complete."""
    sizes = frontier_sizes(start_size)
    if len(start) != len(sizes):
        raise ValueError(f"a tree of {start_size} has {len(sizes)} subtrees in its frontier, not {len(start)}")
    stack = list(zip(sizes, start, strict=True))  # (size, hash), sizes strictly decreasing
    for end, leaf in enumerate(leaves, start_size + 1):
        size, digest = 1, leaf
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            size, digest = left_size + size, node_hash(left, digest)
            if completed is not None and size >= min_size:
                completed.append((end - size, size, digest))
        stack.append((size, digest))
    return [digest for _, digest in stack]


def frontier_root(size: int, hashes: Sequence[bytes]) -> bytes:
    """MTH of the tree of ``size`` leaves whose frontier is ``hashes``."""
    if len(hashes) != len(frontier_sizes(size)):
        raise ValueError(f"a tree of {size} has {len(frontier_sizes(size))} subtrees in its frontier")
    if not hashes:
        return EMPTY_ROOT
    # the right edge: fold the incomplete subtrees from the right, as MTH's split does
    digest = hashes[-1]
    for left in reversed(hashes[:-1]):
        digest = node_hash(left, digest)
    return digest


def range_pieces(lo: int, hi: int) -> list[tuple[int, int]]:
    """The perfect subtrees (first leaf, size) whose roots, folded from the right, are MTH(D[lo:hi]), left to right.
    For the ranges a proof names, ``lo`` is a multiple of a power of two at least ``hi - lo``: each piece is a
    subtree of the whole tree (aligned), as RFC 9162's split makes them."""
    pieces = []
    for size in frontier_sizes(hi - lo):
        pieces.append((lo, size))
        lo += size
    return pieces


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges [lo, hi) whose MTHs are PATH(index, D[size]), deepest first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    lo, hi = 0, size
    siblings: list[tuple[int, int]] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo = lo + k
    return siblings[::-1]  # PATH lists the deepest sibling first


def consistency_ranges(old_size: int, size: int) -> list[tuple[int, int]]:
    """The ranges [lo, hi) whose MTHs are PROOF(old_size, D[size]) (RFC 9162 §2.1.4.1's SUBPROOF, unrolled)."""
    if not 0 <= old_size <= size:
        raise ValueError(f"no tree of {old_size} leaves is a prefix of a tree of {size}")
    if old_size in (0, size):
        return []
    lo, hi, m, whole = 0, size, old_size, True
    outer: list[tuple[int, int]] = []  # each level's other side, outermost first
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            outer.append((lo + k, hi))
            hi = lo + k
        else:
            outer.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    return ([] if whole else [(lo, hi)]) + outer[::-1]


def proof(ranges: Sequence[tuple[int, int]], subtree: Callable[[int, int], bytes]) -> list[bytes]:
    """The MTH of each range, from ``subtree(first leaf, size)``: the root of a perfect subtree of the tree."""
    return [frontier_root(hi - lo, [subtree(*p) for p in range_pieces(lo, hi)]) for lo, hi in ranges]


def _of_leaves(leaves: Sequence[bytes]) -> Callable[[int, int], bytes]:
    return lambda lo, size: root(leaves[lo:lo + size])


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]): the hashes that lead leaf ``index`` (from 0) to the root of ``leaves``."""
    return proof(inclusion_ranges(index, len(leaves)), _of_leaves(leaves))


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(old_size, D[n]): the hashes that show the tree of ``old_size`` first leaves is a prefix of this one."""
    return proof(consistency_ranges(old_size, len(leaves)), _of_leaves(leaves))


class ProofFailed(ValueError):
    """A proof does not lead where it should: the log is not what the signed root says."""


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes) -> None:
    """RFC 9162 §2.1.3.2: raises ProofFailed unless ``proof`` leads leaf hash ``leaf`` at ``index`` of a tree of
    ``size`` to ``expected_root``."""
    if not 0 <= index < size:
        raise ProofFailed(f"leaf {index} is not in a tree of {size}")
    fn, sn, digest = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            raise ProofFailed("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            digest = node_hash(sibling, digest)
            fn, sn = _shift_while_even(fn, sn)
        else:
            digest = node_hash(digest, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofFailed("the inclusion proof is shorter than the tree is deep")
    if digest != expected_root:
        raise ProofFailed(f"leaf {index} does not lead to the root of the tree of {size}")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2: raises ProofFailed unless ``proof`` shows the tree of ``old_size`` (``old_root``) is the
    first ``old_size`` leaves of the tree of ``new_size`` (``new_root``)."""
    if not 0 <= old_size <= new_size:
        raise ProofFailed(f"a tree of {old_size} cannot be a prefix of a tree of {new_size}")
    if old_size == new_size:
        if proof:
            raise ProofFailed("two trees of the same size need an empty proof")
        if old_root != new_root:
            raise ProofFailed(f"two different roots for the same size {old_size}")
        return
    if old_size == 0:
        if proof:
            raise ProofFailed("the empty tree needs an empty proof")
        return
    if not proof:
        raise ProofFailed("an empty consistency proof between two different sizes")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    old_digest = new_digest = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofFailed("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            old_digest, new_digest = node_hash(c, old_digest), node_hash(c, new_digest)
            fn, sn = _shift_while_even(fn, sn)
        else:
            new_digest = node_hash(new_digest, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofFailed("the consistency proof is shorter than the tree is deep")
    if old_digest != old_root:
        raise ProofFailed(f"the first {old_size} leaves of the tree of {new_size} do not have the old root")
    if new_digest != new_root:
        raise ProofFailed(f"the consistency proof does not lead to the root of the tree of {new_size}")
