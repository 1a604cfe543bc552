"""Proofs over every tree size 1..300 and every index, against a naive recursive reference.

The reference below is RFC 9162 §2.1 transcribed literally (MTH, PATH, SUBPROOF over lists of leaf
hashes), memoised only so the test stays fast. The implementation under test computes the same
proofs from stored perfect subtrees and verifies them with the iterative §2.1.3.2/§2.1.4.2 checks.
"""

from __future__ import annotations

import hashlib
from functools import cache

import pytest

from lgsp.audit.merkle import (
    EMPTY_ROOT,
    ProofError,
    aligned_cover,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    range_proof,
    root_from_range_proof,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from lgsp.audit.tree_store import MemoryTreeStore

N = 300
LEAVES = tuple(leaf_hash(f"leaf {i}".encode()) for i in range(N))
STORE = MemoryTreeStore(LEAVES)


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def mth(lo: int, hi: int) -> bytes:
    n = hi - lo
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return LEAVES[lo]
    k = _k(n)
    return node_hash(mth(lo, lo + k), mth(lo + k, hi))


def ref_path(m: int, lo: int, hi: int) -> list[bytes]:
    n = hi - lo
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, lo, lo + k), mth(lo + k, hi)]
    return [*ref_path(m - k, lo + k, hi), mth(lo, lo + k)]


def ref_subproof(m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if whole else [mth(lo, hi)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, lo, lo + k, whole), mth(lo + k, hi)]
    return [*ref_subproof(m - k, lo + k, hi, False), mth(lo, lo + k)]


def test_empty_tree_root_is_hash_of_nothing() -> None:
    assert root_hash(MemoryTreeStore(), 0) == EMPTY_ROOT == mth(0, 0)


@pytest.mark.parametrize("chunk", range(6))
def test_inclusion_proofs_match_reference_for_every_size_and_index(chunk: int) -> None:
    for n in range(1 + chunk * 50, 1 + (chunk + 1) * 50):
        root = root_hash(STORE, n)
        assert root == mth(0, n)
        for m in range(n):
            proof = inclusion_proof(STORE, m, n)
            assert proof == ref_path(m, 0, n), (m, n)
            verify_inclusion(m, n, LEAVES[m], proof, root)
            if n > 64 and m % 5:
                continue  # the negative checks below on every index of small trees, a sample of big ones
            # the same proof must not vouch for a neighbour's position or for a different leaf
            for wrong in {m - 1, m + 1} & set(range(n)):
                with pytest.raises(ProofError):
                    verify_inclusion(wrong, n, LEAVES[m], proof, root)
            if n > 1:
                with pytest.raises(ProofError):
                    verify_inclusion(m, n, LEAVES[(m + 1) % n], proof, root)


@pytest.mark.parametrize("chunk", range(6))
def test_consistency_proofs_match_reference_for_every_pair_of_sizes(chunk: int) -> None:
    for n in range(1 + chunk * 50, 1 + (chunk + 1) * 50):
        new_root = mth(0, n)
        for m in range(0, n + 1):
            proof = consistency_proof(STORE, m, n)
            expected = [] if m in (0, n) else ref_subproof(m, 0, n, True)
            assert proof == expected, (m, n)
            verify_consistency(m, n, mth(0, m), new_root, proof)
            if 0 < m < n:
                # a proof for another old size, or against another old root, must fail
                with pytest.raises(ProofError):
                    verify_consistency(m, n, mth(0, m - 1) if m > 1 else LEAVES[1], new_root, proof)
                if m + 1 < n:
                    with pytest.raises(ProofError):
                        verify_consistency(m + 1, n, mth(0, m + 1), new_root, proof)


def test_every_single_bit_flip_in_a_proof_is_caught() -> None:
    n, m = 300, 137
    proof = inclusion_proof(STORE, m, n)
    for i in range(len(proof)):
        for bit in (0, 131, 255):
            bad = list(proof)
            flipped = bytearray(bad[i])
            flipped[bit // 8] ^= 1 << (bit % 8)
            bad[i] = bytes(flipped)
            with pytest.raises(ProofError):
                verify_inclusion(m, n, LEAVES[m], bad, mth(0, n))
    cproof = consistency_proof(STORE, 100, n)
    for i in range(len(cproof)):
        bad = list(cproof)
        bad[i] = hashlib.sha256(bad[i]).digest()
        with pytest.raises(ProofError):
            verify_consistency(100, n, mth(0, 100), mth(0, n), bad)


def test_truncated_or_padded_proofs_are_refused() -> None:
    proof = inclusion_proof(STORE, 5, 200)
    root = mth(0, 200)
    with pytest.raises(ProofError, match="shorter"):
        verify_inclusion(5, 200, LEAVES[5], proof[:-1], root)
    with pytest.raises(ProofError):
        verify_inclusion(5, 200, LEAVES[5], [*proof, proof[0]], root)
    with pytest.raises(ProofError, match=r"outside|not below"):
        verify_inclusion(200, 200, LEAVES[5], proof, root)
    with pytest.raises(ProofError, match="empty"):
        verify_consistency(10, 200, mth(0, 10), root, [])
    with pytest.raises(ProofError, match="same tree size"):
        verify_consistency(200, 200, mth(0, 199), root, [])
    with pytest.raises(ProofError, match="shrink"):
        verify_consistency(201, 200, root, root, [])


def test_proofs_beyond_the_store_size_are_refused() -> None:
    with pytest.raises(ProofError, match="larger than"):
        inclusion_proof(STORE, 1, N + 1)
    with pytest.raises(ProofError, match="larger than"):
        consistency_proof(STORE, 1, N + 1)


def test_range_proofs_rebuild_the_root_for_every_range_of_small_trees() -> None:
    for n in range(1, 41):
        root = mth(0, n)
        for start in range(n):
            for end in range(start + 1, n + 1):
                left, right = range_proof(STORE, start, end, n)
                assert root_from_range_proof(start, n, LEAVES[start:end], left, right) == root
    # a shifted or altered run of leaves does not rebuild it
    left, right = range_proof(STORE, 100, 164, N)
    assert root_from_range_proof(100, N, LEAVES[100:164], left, right) == mth(0, N)
    assert root_from_range_proof(100, N, LEAVES[101:165], left, right) != mth(0, N)
    with pytest.raises(ProofError, match="needs"):
        root_from_range_proof(100, N, LEAVES[100:165], left, right)


def test_aligned_cover_is_minimal_and_exact() -> None:
    for start in range(0, 70):
        for end in range(start, 70):
            cover = aligned_cover(start, end)
            covered = [i for level, index in cover for i in range(index << level, (index + 1) << level)]
            assert covered == list(range(start, end))
            assert len(cover) <= 2 * max(1, end.bit_length())
