r"""Errors raised by azof.

Every error azof raises on purpose is an :class:`AzofError`. The tree is shallow::

    AzofError
    ├── TableNotFoundError        (also a KeyError)     no such table in the lakehouse
    ├── TableExistsError                                create_table on an existing name
    ├── CorruptTableError                               metadata or data files are invalid
    │   └── UnsupportedFormatError                      written by a newer azof
    ├── SchemaMismatchError                             data does not fit the table schema
    ├── VersionNotFoundError      (also a KeyError)     version / known_at names no snapshot
    ├── CommitConflictError                             a commit could not land after retries
    └── StorageError                                    the object store failed or refused

Bad arguments (an unparsable timestamp, an unknown column name, a call on a closed writer)
are ``ValueError``s, as Python users expect; those raised by azof are
:class:`InvalidArgumentError`, which is both an ``AzofError`` and a ``ValueError`` (a column
type azof cannot store is its subclass ``azof.format.types.UnknownTypeError``).

Every message says what was wrong, where (table, file, column) and what to do.

Warnings azof gives are :class:`AzofWarning`\s (a ``UserWarning``): something went wrong
that did not undo what was asked, such as an automatic compaction failing after the commit
that triggered it had landed.
"""

from __future__ import annotations

__all__ = [
    "AzofError",
    "AzofWarning",
    "CommitConflictError",
    "CorruptTableError",
    "InvalidArgumentError",
    "SchemaMismatchError",
    "StorageError",
    "TableExistsError",
    "TableNotFoundError",
    "UnsupportedFormatError",
    "VersionNotFoundError",
]


class AzofError(Exception):
    """Base class of every error azof raises on purpose."""


class InvalidArgumentError(AzofError, ValueError):
    """An argument has the wrong form or value (bad timestamp, unknown column, ...)."""


class TableNotFoundError(AzofError, KeyError):
    """The lakehouse holds no table of that name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class TableExistsError(AzofError):
    """A table of that name already exists."""


class CorruptTableError(AzofError):
    """A table's metadata or data files are invalid; the message names the file."""


class UnsupportedFormatError(CorruptTableError):
    """The table was written in a format version this azof does not know."""


class SchemaMismatchError(AzofError):
    """Data does not match the table's schema; the message names the column and types."""


class VersionNotFoundError(AzofError, KeyError):
    """A requested version or known_at time names no retained snapshot."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class CommitConflictError(AzofError):
    """A commit lost every race for the next version and gave up after its retries."""


class StorageError(AzofError):
    """The object store failed or refused an operation."""


class AzofWarning(UserWarning):
    """Something failed that did not undo the operation asked for (the message says what
    to do)."""
