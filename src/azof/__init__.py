"""azof: a lakehouse table format with event-time travel.

>>> import azof
>>> lake = azof.Lakehouse("path/to/lake")           # or s3://, gs://, az://, memory://
>>> table = lake.table("financials")
>>> table.scan(as_of="2019-01-17")                  # the world as it was then

The names below are imported on first use (``azof.Lakehouse`` loads the table layers,
``azof.ExecutionContext`` the SQL front end), so ``import azof`` and the command line start
quickly.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

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

logging.getLogger("azof").addHandler(logging.NullHandler())
"""azof logs to the ``azof`` logger (commits and compaction plans at INFO; commit retries
and every storage call at DEBUG, slow storage calls at INFO); silent unless configured."""

if TYPE_CHECKING:
    from azof.compact.policy import CompactionPolicy
    from azof.compact.rewrite import CompactionStats
    from azof.compact.vacuum import VacuumResult
    from azof.lakehouse import Lakehouse
    from azof.scan.read import ScanMetrics
    from azof.sql import ExecutionContext
    from azof.table import Table, TableWriter
    from azof.tablescan import TableScan
    from azof.tablewrite import write_table
    from azof.temporal.training import Feature, point_in_time_join
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
    "Feature",
    "InvalidArgumentError",
    "Lakehouse",
    "ScanMetrics",
    "SchemaMismatchError",
    "SchemaUpdate",
    "StorageError",
    "Table",
    "TableExistsError",
    "TableNotFoundError",
    "TableScan",
    "TableWriter",
    "UnsupportedFormatError",
    "VacuumResult",
    "VersionNotFoundError",
    "point_in_time_join",
    "write_table",
]

__version__ = "0.3.0.dev0"

_LAZY = {
    "Commit": "azof.write.writer",
    "CompactionPolicy": "azof.compact.policy",
    "CompactionStats": "azof.compact.rewrite",
    "ExecutionContext": "azof.sql",
    "Feature": "azof.temporal.training",
    "Lakehouse": "azof.lakehouse",
    "ScanMetrics": "azof.scan.read",
    "SchemaUpdate": "azof.write.evolve",
    "Table": "azof.table",
    "TableScan": "azof.tablescan",
    "TableWriter": "azof.table",
    "VacuumResult": "azof.compact.vacuum",
    "point_in_time_join": "azof.temporal.training",
    "write_table": "azof.tablewrite",
}
"""Public name -> the module that defines it, imported when the name is first used."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'azof' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
