"""The ``azof`` command line: a thin click app over the public API.

``azof.cli:main`` is the console script. The layout, one module per command group:

- :mod:`azof.cli.app` - the group, the command registry and the error boundary;
- :mod:`azof.cli.options` - shared options and opening the lakehouse or table;
- :mod:`azof.cli.output` - rich / plain / CSV / JSON / Parquet output;
- :mod:`azof.cli.scan`, :mod:`azof.cli.info` - the commands.
"""

from azof.cli.app import cli, main

__all__ = ["cli", "main"]
