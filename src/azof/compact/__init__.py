"""Compaction (deltas folded into a segment tree of bases) and vacuum."""
