"""Shared plumbing of the benchmarks (not benchmarks themselves): servers, load generation, tables."""
