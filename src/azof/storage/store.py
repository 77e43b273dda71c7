"""Object storage through obstore: local disk, ``file://``, ``memory://``, S3, GCS, Azure.

:class:`Storage` is rooted at a lakehouse; every path it takes is relative to that root and
uses ``/``. It offers exactly what azof needs: whole and ranged reads, a seekable input file
for Parquet, plain and create-if-absent puts, listing and deletion. Nothing else in azof
touches files or the network.

On local disk a Storage never reaches past its root through a symbolic link: listings skip
every symlinked entry below the root (neither reported nor descended into, whatever it
points to), and reads, writes and deletes refuse, with a :class:`StorageError`, a path that
resolves outside the root. So ``vacuum`` (which deletes what a listing reports) and scans
stay inside the table, whatever links someone put in its folder. The root itself may be a
link.
"""

from __future__ import annotations

import builtins
import logging
import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlparse

import obstore
import pyarrow as pa
import pyarrow.fs as pafs
from obstore.exceptions import AlreadyExistsError, BaseError, PreconditionError
from obstore.store import LocalStore, MemoryStore, from_url

from azof.errors import InvalidArgumentError, StorageError
from azof.storage.arrowfs import ReadCounter, StorageHandler, input_file
from azof.storage.native import NativeTarget, native_target
from azof.timestamps import parse_duration

__all__ = [
    "SLOW_CALL_SECONDS",
    "ObjectInfo",
    "RequestCounter",
    "Storage",
    "open_storage",
    "refuse_links_out",
]

_LOG = logging.getLogger(__name__)
SLOW_CALL_SECONDS = 1.0
"""A storage call that takes this long is logged at INFO (every call at DEBUG)."""

_MEMORY_STORES: dict[str, MemoryStore] = {}
_MEMORY_LOCK = threading.Lock()
_SCHEMES = ("file", "memory", "s3", "s3a", "gs", "az", "abfs", "abfss", "azure", "http", "https")


@dataclass(frozen=True)
class ObjectInfo:
    """One listed object: its path relative to the storage root, size and modification time."""

    path: str
    size: int
    last_modified: datetime


def _memory_store(name: str) -> MemoryStore:
    """One in-process store per ``memory://NAME``, shared by every Lakehouse opened on it."""
    with _MEMORY_LOCK:
        store = _MEMORY_STORES.get(name)
        if store is None:
            store = MemoryStore()
            _MEMORY_STORES[name] = store
        return store


def _clean_relative(path: str) -> str:
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidArgumentError(f"path {path!r} leaves the lakehouse; '..' is not allowed")
    return "/".join(parts)


class RequestCounter:
    """Requests sent through obstore, by kind (``get``, ``get_range``, ``head``, ``list``,
    ``put``, ``delete``): one counter per opened store, shared by every view of it.

    Data reads through a native pyarrow filesystem (:meth:`Storage.arrow_filesystem`) are
    not counted here: they never pass through Python."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] += 1

    def snapshot(self) -> dict[str, int]:
        """The counts so far (a copy)."""
        with self._lock:
            return dict(self._counts)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())


class _NativeReads:
    """The native pyarrow filesystem of a remote store (or why there is none), built once on
    first use and shared by every view of the store."""

    def __init__(self, uri: str, target: NativeTarget | str) -> None:
        self.target = target
        self._uri = uri
        self._lock = threading.Lock()
        self._filesystem: pafs.FileSystem | None = None
        self._logged = False

    def filesystem(self) -> tuple[pafs.FileSystem, str] | None:
        """(filesystem, root of the store in it), or ``None``: read through obstore."""
        target = self.target
        with self._lock:
            if isinstance(target, str):
                if not self._logged:
                    _LOG.debug("%s: data files read through obstore: %s", self._uri, target)
                    self._logged = True
                return None
            if self._filesystem is None:
                try:
                    self._filesystem = target.filesystem()
                except (OSError, ValueError, TypeError, pa.ArrowException) as exc:
                    self.target = f"pyarrow cannot build its {target.kind} filesystem: {exc}"
                    return None
                _LOG.debug("%s: data files read natively (pyarrow %s)", self._uri, target.kind)
            return self._filesystem, target.root


class Storage:
    """A view of one object store below a root prefix."""

    def __init__(
        self,
        store: Any,
        uri: str,
        local_root: Path | None = None,
        prefix: str = "",
        *,
        native: _NativeReads | None = None,
        requests: RequestCounter | None = None,
    ) -> None:
        self._store = store
        self.uri = uri
        self._local_root = local_root
        self._prefix = prefix
        self._native = native
        self.requests = requests if requests is not None else RequestCounter()
        """Requests this store was sent through obstore (shared with :meth:`child` views)."""

    def _key(self, path: str) -> str:
        path = _clean_relative(path)
        if not self._prefix:
            return path
        return f"{self._prefix}/{path}" if path else self._prefix

    def _relative(self, key: str) -> str:
        return key[len(self._prefix) + 1 :] if self._prefix else key

    @property
    def is_local(self) -> bool:
        return self._local_root is not None

    @property
    def local_root(self) -> Path | None:
        """The folder of local storage (it may not exist before the first write)."""
        return self._local_root

    def child(self, prefix: str) -> Storage:
        """The storage rooted at ``prefix`` below this one (used for one table)."""
        key = self._key(prefix)
        uri = f"{self.uri.rstrip('/')}/{_clean_relative(prefix)}"
        local = self._local_root / _clean_relative(prefix) if self._local_root else None
        return Storage(self._store, uri, local, key, native=self._native, requests=self.requests)

    @property
    def native_reads(self) -> bool:
        """Whether :meth:`arrow_filesystem` reads through a native pyarrow filesystem (S3,
        GCS, Azure with storage options it can take), not through obstore."""
        return self._native is not None and self._native.filesystem() is not None

    @property
    def native_fallback_reason(self) -> str | None:
        """Why a remote store reads data files through obstore (``None``: it does not, or
        the store is local or in memory)."""
        if self._native is None:
            return None
        self._native.filesystem()
        target = self._native.target
        return target if isinstance(target, str) else None

    # -- symlinks (local disk) ----------------------------------------------------------------

    def _inside(self, path: str, doing: str) -> str:
        """``path`` (cleaned); on local disk, a :class:`StorageError` when it resolves
        outside the root through a symlink."""
        path = _clean_relative(path)
        if self._local_root is not None:
            _refuse_link_out(str(self._local_root), path, self._where(path), doing)
        return path

    def _local_listing(
        self, prefix: str, recursive: bool
    ) -> tuple[builtins.list[ObjectInfo], builtins.list[str]]:
        """On local disk: the files below ``prefix`` (all, or its direct children) and, when
        not ``recursive``, its direct sub-folders, without following symbolic links (a link
        is neither reported nor descended into; a ``prefix`` reached through one lists
        nothing)."""
        assert self._local_root is not None
        prefix = _clean_relative(prefix)
        root = str(self._local_root)
        real_root = os.path.realpath(root)
        start = os.path.join(root, prefix) if prefix else root
        if os.path.realpath(start) != (os.path.join(real_root, prefix) if prefix else real_root):
            return [], []
        files: builtins.list[ObjectInfo] = []
        folders: builtins.list[str] = []
        pending = [prefix]
        while pending:
            folder = pending.pop()
            try:
                with os.scandir(os.path.join(root, folder) if folder else root) as entries:
                    found = builtins.list(entries)
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                raise StorageError(f"cannot list {self._where(folder)}: {exc}") from exc
            for entry in found:
                path = f"{folder}/{entry.name}" if folder else entry.name
                if entry.is_symlink():
                    continue
                if entry.is_dir(follow_symlinks=False):
                    (pending if recursive else folders).append(path)
                elif entry.is_file(follow_symlinks=False) and not _staged(entry.name):
                    stat = entry.stat(follow_symlinks=False)
                    modified = _EPOCH + timedelta(microseconds=stat.st_mtime_ns // 1_000)
                    files.append(ObjectInfo(path, stat.st_size, modified))
        return files, folders

    # -- reads -------------------------------------------------------------------------------

    def read(self, path: str) -> bytes:
        """The whole object; ``FileNotFoundError`` when it does not exist."""
        self._inside(path, "read")
        try:
            self.requests.add("get")
            with self._timed("get", path):
                return bytes(obstore.get(self._store, self._key(path)).bytes())
        except FileNotFoundError:
            raise
        except BaseError as exc:
            raise StorageError(f"cannot read {self._where(path)}: {_first_line(exc)}") from exc

    def read_range(self, path: str, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (exclusive); an empty range reads nothing."""
        if start < 0 or end < start:
            raise InvalidArgumentError(f"invalid byte range {start}..{end} of {self._where(path)}")
        if end == start:
            return b""
        self._inside(path, "read")
        try:
            self.requests.add("get_range")
            with self._timed("get_range", path):
                data = obstore.get_range(self._store, self._key(path), start=start, end=end)
            return bytes(data)
        except FileNotFoundError:
            raise
        except BaseError as exc:
            raise StorageError(f"cannot read {self._where(path)}: {_first_line(exc)}") from exc

    def exists(self, path: str) -> bool:
        try:
            self.requests.add("head")
            obstore.head(self._store, self._key(path))
        except FileNotFoundError:
            return False
        except BaseError as exc:
            raise StorageError(f"cannot stat {self._where(path)}: {_first_line(exc)}") from exc
        return True

    def info(self, path: str) -> ObjectInfo:
        try:
            self.requests.add("head")
            with self._timed("head", path):
                meta = obstore.head(self._store, self._key(path))
        except FileNotFoundError:
            raise
        except BaseError as exc:
            raise StorageError(f"cannot stat {self._where(path)}: {_first_line(exc)}") from exc
        return ObjectInfo(_clean_relative(path), int(meta["size"]), meta["last_modified"])

    def arrow_filesystem(self, counter: ReadCounter | None = None) -> pafs.FileSystem:
        """A read-only pyarrow filesystem rooted here, for Parquet scans.

        On local disk (without a counter) it is Arrow's own local filesystem (memory maps,
        no Python callback: a scan's files may be released by Arrow's threads at any time,
        even while the interpreter exits); readers call :func:`refuse_links_out` for each
        file they open. On S3, GCS and Azure it is pyarrow's own filesystem for the
        store, built from the same options (:mod:`azof.storage.native`), when they map to
        one: footers and coalesced ranges are then fetched by Arrow's I/O threads, and
        ``counter`` counts nothing. Otherwise every read goes through obstore (the bridge
        of :mod:`azof.storage.arrowfs`, counted by ``counter``)."""
        if self._local_root is not None and counter is None:
            return pafs.SubTreeFileSystem(
                str(self._local_root), pafs.LocalFileSystem(use_mmap=True)
            )
        native = self._native.filesystem() if self._native is not None else None
        if native is not None:
            filesystem, root = native
            base = f"{root}/{self._prefix}" if self._prefix else root
            return pafs.SubTreeFileSystem(base, filesystem)
        return pafs.PyFileSystem(StorageHandler(self, counter))

    def open_input(self, path: str) -> pa.NativeFile:
        """A seekable pyarrow input file, as Parquet readers need (ranged reads remotely)."""
        if self._local_root is not None:
            local = self._local_root / self._inside(path, "read")
            try:
                return pa.memory_map(str(local), "r")
            except FileNotFoundError:
                raise FileNotFoundError(f"{self._where(path)} does not exist") from None
            except OSError as exc:
                raise StorageError(f"cannot open {self._where(path)}: {exc}") from exc
        # Not obstore.open_reader: its ReadableFile lacks the ``closed`` attribute that
        # pyarrow's PythonFile needs, so such a file reads as closed.
        return input_file(self, path)

    def list(self, prefix: str = "", *, recursive: bool = True) -> list[ObjectInfo]:
        """Objects below ``prefix`` (only its direct children when not ``recursive``)."""
        if self._local_root is not None:
            return self._local_listing(prefix, recursive)[0]
        key = self._key(prefix)
        self.requests.add("list")
        try:
            with self._timed("list", prefix):
                if recursive:
                    metas = [m for chunk in obstore.list(self._store, key or None) for m in chunk]
                else:
                    metas = builtins.list(
                        obstore.list_with_delimiter(self._store, key or None)["objects"]
                    )
        except FileNotFoundError:
            return []
        except BaseError as exc:
            raise StorageError(f"cannot list {self._where(prefix)}: {_first_line(exc)}") from exc
        return [
            ObjectInfo(self._relative(m["path"]), int(m["size"]), m["last_modified"]) for m in metas
        ]

    def list_dirs(self, prefix: str = "") -> builtins.list[str]:
        """Names of the 'folders' directly below ``prefix``."""
        if self._local_root is not None:
            folders = self._local_listing(prefix, recursive=False)[1]
            return sorted(folder.rsplit("/", 1)[-1] for folder in folders)
        key = self._key(prefix)
        self.requests.add("list")
        try:
            with self._timed("list_with_delimiter", prefix):
                listing = obstore.list_with_delimiter(self._store, key or None)
        except FileNotFoundError:
            return []
        except BaseError as exc:
            raise StorageError(f"cannot list {self._where(prefix)}: {_first_line(exc)}") from exc
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in listing["common_prefixes"])

    # -- writes ------------------------------------------------------------------------------

    def write(self, path: str, data: bytes) -> None:
        """Write (or overwrite) an object atomically."""
        self._inside(path, "write")
        self.requests.add("put")
        try:
            with self._timed("put", path):
                obstore.put(self._store, self._key(path), data)
        except BaseError as exc:
            raise StorageError(f"cannot write {self._where(path)}: {_first_line(exc)}") from exc

    def write_if_absent(self, path: str, data: bytes) -> bool:
        """Create ``path`` only if no object is there; ``False`` when one already was."""
        self._inside(path, "create")
        self.requests.add("put")
        try:
            with self._timed("put_if_absent", path):
                obstore.put(self._store, self._key(path), data, mode="create")
        except (AlreadyExistsError, PreconditionError):
            return False
        except BaseError as exc:
            raise StorageError(f"cannot create {self._where(path)}: {_first_line(exc)}") from exc
        return True

    def delete(self, path: str) -> None:
        """Delete ``path`` (nothing there is fine); refused when a link takes it outside the
        root."""
        self._inside(path, "delete")
        self.requests.add("delete")
        try:
            with self._timed("delete", path):
                obstore.delete(self._store, self._key(path))
        except FileNotFoundError:
            return
        except BaseError as exc:
            raise StorageError(f"cannot delete {self._where(path)}: {_first_line(exc)}") from exc

    @contextmanager
    def _timed(self, operation: str, path: str) -> Iterator[None]:
        """Log the call: at DEBUG, and at INFO when it took :data:`SLOW_CALL_SECONDS`."""
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            level = logging.INFO if elapsed >= SLOW_CALL_SECONDS else logging.DEBUG
            if _LOG.isEnabledFor(level):
                slow = "slow storage call: " if level == logging.INFO else ""
                _LOG.log(level, "%s%s %s took %.3f s", slow, operation, self._where(path), elapsed)

    def _where(self, path: str) -> str:
        return f"{self.uri.rstrip('/')}/{path}" if path else self.uri


def refuse_links_out(filesystem: pafs.FileSystem, path: str) -> None:
    """For a local-disk filesystem of :meth:`Storage.arrow_filesystem`: a
    :class:`StorageError` when ``path`` resolves outside its root through a symbolic link
    (azof never follows links out of a table). Other filesystems have no links to check."""
    if isinstance(filesystem, pafs.SubTreeFileSystem) and isinstance(
        filesystem.base_fs, pafs.LocalFileSystem
    ):
        path = _clean_relative(path)
        where = os.path.join(filesystem.base_path, path)
        _refuse_link_out(filesystem.base_path, path, where, "read")


def _refuse_link_out(root: str, path: str, where: str, doing: str) -> None:
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(root, path))
    if real != real_root and not real.startswith(real_root + os.sep):
        raise StorageError(
            f"refusing to {doing} {where}: a symbolic link takes it to {real}, outside "
            f"{real_root}; azof does not follow links out of a table (remove the link)"
        )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _staged(name: str) -> bool:
    """Whether a file name is one obstore writes before renaming it into place
    (``<name>#<digits>``), which its own local listing leaves out too."""
    _, mark, suffix = name.rpartition("#")
    return bool(mark) and suffix.isdigit()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def open_storage(uri: str | Path, storage_options: dict[str, Any] | None = None) -> Storage:
    """Open the storage of a lakehouse: a local path or a URI (``s3://``, ``memory://``, ...).

    ``storage_options`` go to the object store as obstore config keys (credentials, region,
    ``endpoint``, ``allow_http``, ...). A local folder that does not exist yet is created by
    the first write (reads find it empty). A remote store opened
    again with the same options (and the same ``AWS_*``/``GOOGLE_*``/``AZURE_*``
    environment) reuses its HTTP client and connections.
    """
    options = dict(storage_options or {})
    text = str(uri)
    scheme = urlparse(text).scheme.lower() if "://" in text else ""
    if scheme in ("", "file"):
        local = Path(text[len("file://") :] if scheme == "file" else text).expanduser().resolve()
        if options:
            raise InvalidArgumentError(
                f"storage_options {sorted(options)} do not apply to the local path {text!r}"
            )
        if local.exists() and not local.is_dir():
            raise InvalidArgumentError(
                f"lakehouse path {str(local)!r} is a file, not a folder; pass a folder (a "
                "missing one is created on the first write) or a URI such as s3://bucket/lake"
            )
        return _local_storage(local)
    if scheme == "memory":
        name = text[len("memory://") :].strip("/")
        return Storage(_memory_store(name), f"memory://{name}")
    if scheme not in _SCHEMES:
        raise InvalidArgumentError(
            f"unsupported lakehouse URI {text!r}; use a local path, file://, memory://, "
            "s3://, gs:// or az://"
        )
    store, native = _remote_store(text, *_split_options(options))
    return Storage(store, text.rstrip("/"), native=native)


# Remote stores opened, by URI, options and the environment they read: opening one builds an
# HTTP client (milliseconds), which later opens of the same lakehouse reuse, with its
# connections and the native filesystem.
_OPENED: OrderedDict[tuple[str, str], tuple[Any, _NativeReads]] = OrderedDict()
_OPENED_LOCK = threading.Lock()
_OPENED_SIZE = 32
_ENV_PREFIXES = ("AWS_", "GOOGLE_", "AZURE_")


def _remote_store(
    text: str, config: dict[str, Any], client_options: dict[str, Any], retry_config: dict[str, Any]
) -> tuple[Any, _NativeReads]:
    """The obstore store of a remote URI and its native reads (reused when opened before
    with the same options and environment)."""
    environ = sorted((k, v) for k, v in os.environ.items() if k.upper().startswith(_ENV_PREFIXES))
    options = sorted((str(k), repr(v)) for k, v in {**config, **client_options}.items())
    retry = sorted((str(k), repr(v)) for k, v in retry_config.items())
    key = (text, repr((options, sorted(client_options), retry, environ)))
    with _OPENED_LOCK:
        found = _OPENED.get(key)
        if found is not None:
            _OPENED.move_to_end(key)
            return found
    try:
        store = from_url(
            text,
            config=cast(Any, config or None),
            client_options=cast(Any, client_options or None),
            retry_config=cast(Any, retry_config or None),
        )
    except BaseError as exc:
        raise InvalidArgumentError(f"cannot open {text!r}: {_first_line(exc)}") from exc
    except (ValueError, TypeError) as exc:
        raise InvalidArgumentError(f"cannot open {text!r}: {exc}") from exc
    except BaseException as exc:
        # obstore panics (a BaseException) on some option mix-ups instead of raising.
        if type(exc).__name__ == "PanicException":
            raise InvalidArgumentError(f"cannot open {text!r}: {exc}") from None
        raise
    opened = (store, _NativeReads(text.rstrip("/"), _native_target(store, client_options)))
    with _OPENED_LOCK:
        _OPENED[key] = opened
        while len(_OPENED) > _OPENED_SIZE:
            _OPENED.popitem(last=False)
    return opened


_STORE_KINDS = {"S3Store": "s3", "GCSStore": "gcs", "AzureStore": "azure"}


def _native_target(store: Any, client_options: dict[str, Any]) -> NativeTarget | str:
    """The native filesystem matching an obstore store, or why there is none."""
    kind = _STORE_KINDS.get(type(store).__name__)
    if kind is None:
        return f"no native pyarrow filesystem for {type(store).__name__}"
    try:
        config = dict(store.config or {})  # the options given and those the URL implies
        prefix = str(store.prefix or "")
    except BaseException as exc:  # obstore panics (a BaseException) on some configs
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return f"obstore does not report its configuration ({type(exc).__name__})"
    return native_target(kind, config, client_options, prefix)


def _local_storage(folder: Path) -> Storage:
    """Storage rooted at the local ``folder``, which need not exist yet: the store is
    opened on its nearest existing ancestor with the rest as a prefix, so the first write
    creates the missing folders (obstore creates parents) and reads before it find
    nothing."""
    base = folder
    while not base.is_dir():
        base = base.parent
    prefix = folder.relative_to(base).as_posix()
    return Storage(LocalStore(base), folder.as_uri(), folder, "" if prefix == "." else prefix)


# obstore's HTTP client options: given among the storage options, they must go to
# ``client_options`` (as store config keys obstore rejects them or even panics).
_CLIENT_OPTIONS = frozenset(
    {
        "allow_http",
        "allow_invalid_certificates",
        "connect_timeout",
        "default_content_type",
        "default_headers",
        "http1_only",
        "http2_keep_alive_interval",
        "http2_keep_alive_timeout",
        "http2_keep_alive_while_idle",
        "http2_only",
        "pool_idle_timeout",
        "pool_max_idle_per_host",
        "proxy_ca_certificate",
        "proxy_excludes",
        "proxy_url",
        "randomize_addresses",
        "read_timeout",
        "root_certificate",
        "timeout",
        "user_agent",
    }
)
_BOOL_CLIENT_OPTIONS = frozenset(
    {"allow_http", "allow_invalid_certificates", "http1_only", "http2_only", "randomize_addresses"}
)


_RETRY_DURATIONS = ("retry_timeout", "init_backoff", "max_backoff")
_RETRY_OPTIONS = frozenset({"max_retries", "backoff_base", *_RETRY_DURATIONS})


def _retry_config(options: dict[str, Any]) -> dict[str, Any]:
    """obstore's ``retry_config`` from the retry storage options: ``max_retries`` (0: no
    retries), ``retry_timeout``, ``init_backoff``, ``max_backoff`` (durations such as
    ``'30s'``) and ``backoff_base``; an explicit ``retry_config`` dict is merged in."""
    retry: dict[str, Any] = {}
    backoff: dict[str, Any] = {}
    for name, value in options.items():
        if name == "max_retries":
            retry[name] = int(value)
        elif name == "backoff_base":
            backoff["base"] = float(value)
        else:
            seconds = parse_duration(value, f"storage option {name!r}") / 1e9
            target = retry if name == "retry_timeout" else backoff
            target[name] = timedelta(seconds=seconds)
    if backoff:
        retry["backoff"] = backoff
    return retry


def _split_options(
    options: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Storage options as (store config, client options, retry config).

    Client options (timeouts among them) are recognised in any case and with a store
    prefix (``AWS_ALLOW_HTTP``, ``aws_allow_http``, ``allow_http``); an explicit
    ``client_options`` dict is merged in. Retry options: see :func:`_retry_config`.
    """
    client: dict[str, Any] = {}
    config: dict[str, Any] = {}
    retry: dict[str, Any] = {}
    for key, value in options.items():
        if key in ("client_options", "retry_config"):
            continue
        if str(key).lower() in _RETRY_OPTIONS:
            retry[str(key).lower()] = value
            continue
        name = str(key).lower()
        for cloud in ("aws_", "google_", "azure_"):
            if name.startswith(cloud) and name[len(cloud) :] in _CLIENT_OPTIONS:
                name = name[len(cloud) :]
        if name in _CLIENT_OPTIONS:
            client[name] = _as_bool(value) if name in _BOOL_CLIENT_OPTIONS else value
        else:
            config[key] = value
    explicit = options.get("client_options") or {}
    explicit_retry = options.get("retry_config") or {}
    if not isinstance(explicit, dict) or not isinstance(explicit_retry, dict):
        raise InvalidArgumentError("storage options 'client_options', 'retry_config': dicts")
    try:
        retry_config = {**_retry_config(retry), **explicit_retry}
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"storage options {sorted(retry)}: {exc}") from None
    return config, {**client, **explicit}, retry_config


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
