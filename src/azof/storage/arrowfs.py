"""A read-only pyarrow filesystem over :class:`~azof.storage.store.Storage`.

pyarrow's dataset scanner reads Parquet through it (ranged reads, statistics pruning,
parallel decode), while every byte still goes through the one storage seam. Local storage
uses pyarrow's native local filesystem below the lakehouse root instead, which is faster.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa
import pyarrow.fs as pafs

if TYPE_CHECKING:
    from io import IOBase

    from azof.storage.store import Storage

__all__ = ["ReadCounter", "StorageHandler", "input_file"]


# Files pyarrow holds open through this bridge. Arrow's worker threads release the last
# reference to such a file (the dataset scanner's read-ahead state, freed just after a scan
# returns) and must take the GIL to do so. A thread that asks for the GIL once interpreter
# finalization has begun is ended with pthread_exit, whose forced unwinding through
# Arrow's noexcept destructors calls std::terminate: "terminate called without an active
# exception", SIGABRT at exit. So at exit, before finalization, wait (briefly) for those
# threads to let go of the files. They do so within milliseconds on a quiet machine, but a
# loaded one (load average 14 on 2 cores) was seen to need more than 2 s; the wait ends as
# soon as the last file is released, so only a process that exits mid-scan waits it out.
_LIVE_FILES: weakref.WeakSet[_CountingFile] = weakref.WeakSet()
_EXIT_WAIT_SECONDS = 10.0


def _wait_for_arrow_threads() -> None:
    """At exit: wait until Arrow's threads released every file of this bridge."""
    deadline = time.monotonic() + _EXIT_WAIT_SECONDS
    while len(_LIVE_FILES) and time.monotonic() < deadline:
        time.sleep(0.002)  # releases the GIL, which those threads need


atexit.register(_wait_for_arrow_threads)


class ReadCounter:
    """Counts files opened and bytes read through a handler (for scan metrics and tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.files_opened = 0
        self.bytes_read = 0

    def add(self, files: int = 0, nbytes: int = 0) -> None:
        with self._lock:
            self.files_opened += files
            self.bytes_read += nbytes


class _CountingFile:
    """A file-like object over a storage object that reads ranges on demand."""

    def __init__(self, storage: Storage, path: str, size: int, counter: ReadCounter) -> None:
        self._storage = storage
        self._path = path
        self._size = size
        self._pos = 0
        self._counter = counter
        self.closed = False
        self.mode = "rb"

    def read(self, nbytes: int = -1) -> bytes:
        end = self._size if nbytes is None or nbytes < 0 else min(self._size, self._pos + nbytes)
        if end <= self._pos:
            return b""
        data = self._storage.read_range(self._path, self._pos, end)
        self._counter.add(nbytes=len(data))
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            self._pos = offset
        elif whence == 1:
            self._pos += offset
        else:
            self._pos = self._size + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def size(self) -> int:
        return self._size

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True


def input_file(storage: Storage, path: str, counter: ReadCounter | None = None) -> pa.NativeFile:
    """A seekable pyarrow file over one object, reading ranges on demand."""
    size = storage.info(path).size
    file = _CountingFile(storage, path, size, counter or ReadCounter())
    _LIVE_FILES.add(file)
    return pa.PythonFile(cast("IOBase", file), mode="r")


class StorageHandler(pafs.FileSystemHandler):
    """pyarrow ``FileSystemHandler`` reading from a Storage (read-only)."""

    def __init__(self, storage: Storage, counter: ReadCounter | None = None) -> None:
        self.storage = storage
        self.counter = counter or ReadCounter()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StorageHandler) and other.storage is self.storage

    def __ne__(self, other: object) -> bool:
        return not self == other

    def get_type_name(self) -> str:
        return "azof-storage"

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths: str | list[str]) -> list[pafs.FileInfo]:
        infos = []
        for path in [paths] if isinstance(paths, str) else paths:
            try:
                info = self.storage.info(path)
            except FileNotFoundError:
                infos.append(pafs.FileInfo(path, pafs.FileType.NotFound))
                continue
            infos.append(pafs.FileInfo(path, pafs.FileType.File, size=info.size))
        return infos

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return [
            pafs.FileInfo(o.path, pafs.FileType.File, size=o.size)
            for o in self.storage.list(selector.base_dir, recursive=selector.recursive)
        ]

    def open_input_file(self, path: str) -> pa.NativeFile:
        self.counter.add(files=1)
        return input_file(self.storage, path, self.counter)

    def open_input_stream(self, path: str) -> pa.NativeFile:
        return self.open_input_file(path)

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("azof reads data files through this filesystem only")

    create_dir = delete_dir = delete_dir_contents = delete_root_dir_contents = _read_only
    delete_file = move = copy_file = open_output_stream = open_append_stream = _read_only
