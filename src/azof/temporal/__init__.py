"""Temporal analytics over a table's events (``docs/temporal.md``).

- :func:`history`: every key's versions as validity intervals (SCD type 2);
- :func:`asof_join`: rows of a frame, each with its key's state as of the row's own time
  (and as known at the row's own commit time);
- :func:`point_in_time_join`: a training set, rows of a frame with several tables' features;
- :func:`changes`: the keys whose state changed in an event-time window;
- :func:`restatements`: the as-of answers that commits after a version changed.

Each takes a :class:`~azof.Table` and returns a ``pyarrow.Table``.
"""

from azof.temporal.asof_join import asof_join
from azof.temporal.changes import changes, restatements
from azof.temporal.history import history
from azof.temporal.training import Feature, point_in_time_join

__all__ = ["Feature", "asof_join", "changes", "history", "point_in_time_join", "restatements"]
