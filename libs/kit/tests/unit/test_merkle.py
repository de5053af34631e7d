"""The Merkle tree against RFC 6962/9162 test vectors (transparency-dev/merkle's, the same as Certificate
Transparency's) and against its own definition for every small tree."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binhchon_kit.merkle import (
    EMPTY_ROOT,
    ProofFailed,
    consistency_proof,
    consistency_ranges,
    frontier,
    frontier_root,
    inclusion_proof,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    proof,
    range_pieces,
    root,
    verify_consistency,
    verify_inclusion,
)

# transparency-dev/merkle testonly/constants.go and proof/verify_test.go
LEAF_INPUTS = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
H = bytes.fromhex
INCLUSION = [  # (leaf number from 1, tree size, path)
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
LEAVES = [leaf_hash(d) for d in LEAF_INPUTS]


def test_roots_of_every_prefix_are_the_vectors() -> None:
    assert root([]) == EMPTY_ROOT
    for size in range(len(LEAVES) + 1):
        assert root(LEAVES[:size]) == ROOTS[size], size


@pytest.mark.parametrize(("number", "size", "path"), INCLUSION)
def test_inclusion_proofs_are_the_vectors_and_verify(number: int, size: int, path: list[str]) -> None:
    proof = inclusion_proof(number - 1, LEAVES[:size])
    assert [p.hex() for p in proof] == path
    verify_inclusion(number - 1, size, LEAVES[number - 1], proof, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_are_the_vectors_and_verify(old: int, new: int, path: list[str]) -> None:
    proof = consistency_proof(old, LEAVES[:new])
    assert [p.hex() for p in proof] == path
    verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


@pytest.mark.parametrize(("number", "size", "path"), INCLUSION)
def test_corrupted_inclusion_proofs_fail(number: int, size: int, path: list[str]) -> None:
    proof, index, leaf, good = [H(p) for p in path], number - 1, LEAVES[number - 1], ROOTS[size]
    bad: list[tuple[int, int, bytes, list[bytes], bytes]] = [
        (index + 1, size, leaf, proof, good), (index ^ 2, size, leaf, proof, good),
        (index, size * 2, leaf, proof, good), (index, size // 2, leaf, proof, good),
        (index, size, b"WrongLeaf", proof, good), (index, size, leaf, proof, EMPTY_ROOT),
        (index, size, leaf, [*proof, b""], good), (index, size, leaf, [*proof, good], good),
        (index, size, leaf, [good, *proof], good), (index, size, leaf, proof[:-1], good),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        bad.append((index, size, leaf, flipped, good))
    for args in bad:
        with pytest.raises(ProofFailed):
            verify_inclusion(*args)


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_corrupted_consistency_proofs_fail(old: int, new: int, path: list[str]) -> None:
    proof, r1, r2 = [H(p) for p in path], ROOTS[old], ROOTS[new]
    bad: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (old - 1, new, r1, r2, proof), (old + 1, new, r1, r2, proof), (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof), (old, new // 2, r1, r2, proof),
        (old, new, b"WrongRoot", r2, proof), (old, new, r1, b"WrongRoot", proof), (old, new, r2, r1, proof),
        (old, new, r1, r2, []), (old, new, r1, r2, [*proof, b""]), (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [r1, *proof]), (old, new, r1, r2, [proof[0], *proof]), (old, new, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        bad.append((old, new, r1, r2, flipped))
    for args in bad:
        with pytest.raises(ProofFailed):
            verify_consistency(*args)


def test_trivial_consistency() -> None:
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [])
    verify_consistency(3, 3, ROOTS[3], ROOTS[3], [])
    for args in [(1, 1, ROOTS[1], ROOTS[2], []), (2, 1, ROOTS[2], ROOTS[1], []),
                 (1, 1, ROOTS[1], ROOTS[1], [EMPTY_ROOT]), (1, 2, ROOTS[1], ROOTS[2], [])]:
        with pytest.raises(ProofFailed):
            verify_consistency(*args)  # type: ignore[arg-type]


def mth(leaves: list[bytes]) -> bytes:
    """MTH as RFC 9162 §2.1.1 writes it, recursively: the reference the fast ``root`` is checked against."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def test_every_proof_of_every_tree_up_to_33_leaves_verifies_and_no_other_leaf_does() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(33)]
    for size in range(1, 34):
        tree, top = leaves[:size], mth(leaves[:size])
        assert root(tree) == top
        for index in range(size):
            proof = inclusion_proof(index, tree)
            verify_inclusion(index, size, tree[index], proof, top)
            with pytest.raises(ProofFailed):
                verify_inclusion(index, size, leaf_hash(b"other"), proof, top)
        for old in range(size + 1):
            verify_consistency(old, size, mth(leaves[:old]), top, consistency_proof(old, tree))


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=80), st.data())
def test_a_changed_leaf_breaks_consistency_with_the_old_root(inputs: list[bytes], data: st.DataObject) -> None:
    leaves = [leaf_hash(d) for d in inputs]
    old = data.draw(st.integers(1, len(leaves)))
    grown = leaves + [leaf_hash(b"more")] * data.draw(st.integers(0, 5))
    verify_consistency(old, len(grown), root(leaves[:old]), root(grown), consistency_proof(old, grown))
    changed = list(grown)
    at = data.draw(st.integers(0, old - 1))
    changed[at] = leaf_hash(b"rewritten" + inputs[at])
    with pytest.raises(ProofFailed):
        verify_consistency(old, len(changed), root(leaves[:old]), root(changed), consistency_proof(old, changed))


def test_a_frontier_grown_by_the_leaves_added_gives_the_root_of_every_leaf():
    """A checkpoint's root from the last checkpoint's frontier and the leaves since (ADR 0022, amended 2026-11-30):
    the same as from every leaf, for every split of every tree up to 33 leaves."""
    for size in range(len(LEAVES) + 1):
        for old in range(size + 1):
            base = frontier(LEAVES[:old])
            assert len(base) == bin(old).count("1")
            grown = frontier(LEAVES[old:size], base, old)
            assert grown == frontier(LEAVES[:size])
            assert frontier_root(size, grown) == ROOTS[size], (old, size)
    with pytest.raises(ValueError, match="subtrees"):
        frontier(LEAVES[:3], frontier(LEAVES[:3]), 4)


def test_frontier_growth_reports_every_perfect_subtree_it_completes_with_its_root():
    """The subtree roots a log keeps (ADR 0022, amended 2026-12-01): whatever the split, each perfect aligned
    subtree of at least ``min_size`` leaves ending in (old, size] is reported once, with its MTH."""
    leaves = [leaf_hash(bytes([i])) for i in range(70)]
    for min_size in (1, 2, 4, 16):
        for old in range(0, 70, 7):
            for size in range(old, 71, 9):
                got: list[tuple[int, int, bytes]] = []
                frontier(leaves[old:size], frontier(leaves[:old]), old, completed=got, min_size=max(min_size, 2))
                want = [(lo, n) for n in (1 << b for b in range(1, 8)) if n >= min_size
                        for lo in range(0, size - n + 1, n) if old < lo + n <= size]
                assert sorted((lo, n) for lo, n, _ in got) == sorted(want)
                assert all(h == mth(leaves[lo:lo + n]) for lo, n, h in got)


@given(st.integers(1, 600), st.data())
def test_proofs_from_stored_subtree_roots_are_the_proofs_from_every_leaf(size: int, data: st.DataObject) -> None:
    """A proof made from whatever subtree roots are at hand (some kept, the rest from leaves) is RFC 9162's: the
    ranges name only aligned perfect subtrees of the tree, so a kept root stands for its leaves exactly."""
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(size)]
    kept: list[tuple[int, int, bytes]] = []
    frontier(leaves, completed=kept, min_size=data.draw(st.sampled_from([2, 8, 64])))
    nodes = {(lo, n): h for lo, n, h in kept}
    asked: list[tuple[int, int]] = []

    def subtree(lo: int, n: int) -> bytes:
        asked.append((lo, n))
        assert lo % n == 0 and lo + n <= size  # aligned, inside the tree
        return nodes.get((lo, n)) or mth(leaves[lo:lo + n])

    index = data.draw(st.integers(0, size - 1))
    assert proof(inclusion_ranges(index, size), subtree) == inclusion_proof(index, leaves)
    old = data.draw(st.integers(0, size))
    assert proof(consistency_ranges(old, size), subtree) == consistency_proof(old, leaves)
    assert all(n & (n - 1) == 0 for _, n in asked)
    assert [p for r in inclusion_ranges(index, size) for p in range_pieces(*r)] == asked[:len(asked) - sum(
        len(range_pieces(*r)) for r in consistency_ranges(old, size))]
