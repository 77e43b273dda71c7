"""Table metadata as frozen values, and the one JSON codec that reads and writes them."""

from azof.format.codec import (
    CURRENT_FORMAT_VERSION,
    decode_snapshot,
    encode_snapshot,
    validate_file_name,
)
from azof.format.schema import EVENT_TIME, KEY, TOMBSTONE, Column, TableSchema
from azof.format.snapshot import CommitInfo, DataFile, ManifestRef, Segment, Snapshot

__all__ = [
    "CURRENT_FORMAT_VERSION",
    "EVENT_TIME",
    "KEY",
    "TOMBSTONE",
    "Column",
    "CommitInfo",
    "DataFile",
    "ManifestRef",
    "Segment",
    "Snapshot",
    "TableSchema",
    "decode_snapshot",
    "encode_snapshot",
    "validate_file_name",
]
