"""Tests of the audit evidence layer (issue 3): Merkle proofs, heads, bundles, offline verifier, TSA."""
