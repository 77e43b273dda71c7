"""azof: a lakehouse table format with event-time travel.

>>> import azof
>>> lake = azof.Lakehouse("path/to/lake")           # or s3://, gs://, az://, memory://
>>> table = lake.table("financials")
>>> table.scan(as_of="2019-01-17")                  # the world as it was then
"""

from azof.compact.policy import CompactionPolicy
from azof.compact.rewrite import CompactionStats
from azof.compact.vacuum import VacuumResult
from azof.errors import (
    AzofError,
    AzofWarning,
    CommitConflictError,
    CorruptTableError,
    InvalidArgumentError,
    SchemaMismatchError,
    StorageError,
    TableExistsError,
    TableNotFoundError,
    UnsupportedFormatError,
    VersionNotFoundError,
)
from azof.lakehouse import Lakehouse
from azof.scan.read import ScanMetrics
from azof.sql import ExecutionContext
from azof.table import Table, TableWriter
from azof.write.evolve import SchemaUpdate
from azof.write.writer import Commit

__all__ = [
    "AzofError",
    "AzofWarning",
    "Commit",
    "CommitConflictError",
    "CompactionPolicy",
    "CompactionStats",
    "CorruptTableError",
    "ExecutionContext",
    "InvalidArgumentError",
    "Lakehouse",
    "ScanMetrics",
    "SchemaMismatchError",
    "SchemaUpdate",
    "StorageError",
    "Table",
    "TableExistsError",
    "TableNotFoundError",
    "TableWriter",
    "UnsupportedFormatError",
    "VacuumResult",
    "VersionNotFoundError",
]

__version__ = "0.3.0.dev0"
