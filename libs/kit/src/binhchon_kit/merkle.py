"""The Merkle tree of RFC 9162 §2.1 (Certificate Transparency 2.0), over leaves given as their hashes.

Pure functions, no I/O, nothing of binhchon's: the services build proofs with it and an auditor verifies them
with it (or with any RFC 9162 / RFC 6962 implementation: the hashing is the same, SHA-256 with the 0x00 leaf
and 0x01 node prefixes).

- ``leaf_hash(data)`` = SHA-256(0x00 || data); ``root(leaves)`` = MTH over leaf hashes.
- ``inclusion_proof(m, leaves)`` = PATH(m, D[n]); ``verify_inclusion`` is §2.1.3.2.
- ``consistency_proof(m, leaves)`` = PROOF(m, D[n]); ``verify_consistency`` is §2.1.4.2.

The proof builders take every leaf hash of the tree (``n`` hashes): a proof reads the whole tree once, which
is what a log of a service's size (up to millions of events) can afford; a tree of stored subtree hashes
("tiles") would make it logarithmic if it ever is not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

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


def frontier(leaves: Sequence[bytes], start: Sequence[bytes] = (), start_size: int = 0) -> list[bytes]:
    """The compact range (CT's "frontier") of a tree: the roots of the perfect subtrees covering [0, n), left to
    right, one per bit of n. ``start`` is the frontier of the tree's first ``start_size`` leaves, and ``leaves``
    the ones after: a tree's frontier grows from its last one by what was added, never from every leaf."""
    sizes = frontier_sizes(start_size)
    if len(start) != len(sizes):
        raise ValueError(f"a tree of {start_size} has {len(sizes)} subtrees in its frontier, not {len(start)}")
    stack = list(zip(sizes, start, strict=True))  # (size, hash), sizes strictly decreasing
    for leaf in leaves:
        size, digest = 1, leaf
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            size, digest = left_size + size, node_hash(left, digest)
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


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]): the hashes that lead leaf ``index`` (from 0) to the root of ``leaves``."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {len(leaves)}")
    lo, hi = 0, len(leaves)
    siblings: list[bytes] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            siblings.append(root(leaves[lo + k:hi]))
            hi = lo + k
        else:
            siblings.append(root(leaves[lo:lo + k]))
            lo = lo + k
    return siblings[::-1]  # PATH lists the deepest sibling first


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(old_size, D[n]): the hashes that show the tree of ``old_size`` first leaves is a prefix of this one."""
    n = len(leaves)
    if not 0 <= old_size <= n:
        raise ValueError(f"no tree of {old_size} leaves is a prefix of a tree of {n}")
    if old_size in (0, n):
        return []
    return _subproof(old_size, leaves, True)


def _subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], whole), root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root(leaves[:k])]


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
