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
    assert t.scan(as_of="2024-01-01T12:00:00Z").column("px").to_pylist() == [180.0]  # type: ignore[attr-defined]
    assert t.scan(as_of="2024-01-01T12:00:00Z", version=v1).num_rows == 0  # type: ignore[attr-defined]
    assert t.scan().column("px").to_pylist() == [185.6]  # type: ignore[attr-defined]


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
