"""The README's example runs and says what it shows."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_event_time_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    example = blocks[0].replace("memory://example", "memory://readme-example")
    namespace: dict[str, object] = {}
    exec(compile(example, str(README), "exec"), namespace)
    t = namespace["t"]
    v1 = namespace["v1"]
    assert t.scan(as_of="2024-01-01T12:00:00Z").column("value").to_pylist() == [180.0]  # type: ignore[attr-defined]
    assert t.scan(as_of="2024-01-01T12:00:00Z", version=v1).num_rows == 0  # type: ignore[attr-defined]
    assert t.scan().column("value").to_pylist() == [185.6]  # type: ignore[attr-defined]
    assert t.key_columns == ("ticker", "field")  # type: ignore[attr-defined]


def test_quickstart_readings_run(tmp_path: Path, monkeypatch: object) -> None:
    """The quickstart's first lines (a DataFrame with its own names and a composite key)."""
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.chdir(tmp_path)
    block = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)[1]
    lines = block.split("\n\nlake = ")[0]  # up to the seed-table part
    namespace: dict[str, object] = {}
    exec(compile(lines, str(README), "exec"), namespace)
    r = namespace["r"]
    noon = r.scan(as_of="2024-01-01T12:00")  # type: ignore[attr-defined]
    assert sorted(noon.column("value").to_pylist()) == [19.0, 20.0, 41.0]


def test_starts_with_the_two_commands() -> None:
    lines = README.read_text().splitlines()
    block = lines[lines.index("```bash") + 1 : lines.index("```bash") + 3]
    assert block[0].endswith("azof demo")
    assert block[1].endswith("python -m pytest -n 2")
    assert (
        Path(__file__)
        .resolve()
        .parents[1]
        .joinpath(".ci/run")
        .read_text()
        .strip()
        .endswith(block[1])
    )
