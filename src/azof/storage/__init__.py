"""The one seam between azof and object stores: everything that reads or writes bytes."""

from azof.storage.arrowfs import ReadCounter
from azof.storage.store import ObjectInfo, RequestCounter, Storage, open_storage, refuse_links_out

__all__ = [
    "ObjectInfo",
    "ReadCounter",
    "RequestCounter",
    "Storage",
    "open_storage",
    "refuse_links_out",
]
