"""``python -m azof``: the same as the ``azof`` command."""

from azof.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
