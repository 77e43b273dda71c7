"""The input side of ``azof sql``: splitting text into statements, and reading lines.

- :class:`StatementSplitter` is fed lines and hands back complete items: a
  :class:`Statement` ends at a ``;`` outside string literals, quoted identifiers and
  comments (found with sqlglot's tokenizer, in the dialect :class:`azof.sql.ExecutionContext`
  reads queries with), a :class:`MetaCommand` is a line starting with ``.`` while no
  statement is pending (``.tables``, ``.schema NAME``...).
- :func:`open_reader` returns the line editor of the prompt: Python's ``readline`` when it
  is available, else ``prompt_toolkit`` when it is installed, else plain :func:`input`; with
  the history file of :func:`history_path` (``$AZOF_HISTORY``, default ``~/.azof_history``).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import TokenError

__all__ = [
    "HISTORY_ENV",
    "HISTORY_LENGTH",
    "LineReader",
    "MetaCommand",
    "Statement",
    "StatementSplitter",
    "history_entry",
    "history_path",
    "open_reader",
    "split_items",
]

HISTORY_ENV = "AZOF_HISTORY"
HISTORY_LENGTH = 1_000
"""The history file keeps this many entries."""

_DIALECT = "postgres"  # as azof.sql.context reads queries (E'..' escapes, $$..$$ strings)


@dataclass(frozen=True)
class Statement:
    """One SQL statement, without its ``;``; ``line`` is where it starts in the input."""

    text: str
    line: int


@dataclass(frozen=True)
class MetaCommand:
    """A ``.command [ARGS]`` line (trailing ``;`` removed); ``line`` as for statements."""

    text: str
    line: int

    @property
    def name(self) -> str:
        return self.text.split(maxsplit=1)[0].lower()

    @property
    def argument(self) -> str:
        parts = self.text.split(maxsplit=1)
        return parts[1].strip() if len(parts) > 1 else ""


Item = Statement | MetaCommand


class StatementSplitter:
    """Turns lines of input into statements and meta commands, as they complete.

    Text is tokenized only when a line holds a ``;`` (only then can a statement end), so
    a long statement costs one tokenization per such line. Input that does not tokenize
    (an unterminated string, quoted name or comment) waits for more lines; at the end of
    the input, :meth:`finish` hands back what is left as a last statement (without ``;``)
    for the engine to run or to report.
    """

    def __init__(self, dialect: str = _DIALECT) -> None:
        self._dialect = Dialect.get_or_raise(dialect)
        self._buffer = ""
        self._start = 1  # the input line where the buffer starts
        self._lines = 0  # the lines fed so far

    @property
    def pending(self) -> bool:
        """Whether a statement has begun and not ended (the prompt shows ``->``)."""
        return not self._only_comments()

    def reset(self) -> None:
        """Drop the pending text (Ctrl-C at the prompt)."""
        self._buffer = ""

    def feed(self, line: str) -> list[Item]:
        """Add one line (without its newline); the items it completes."""
        self._lines += 1
        line = line.rstrip("\r\n")
        if line.lstrip().startswith(".") and self._only_comments():
            self._buffer = ""
            return [MetaCommand(line.strip().rstrip(";").rstrip(), self._lines)]
        if not self._buffer.strip():
            self._buffer = ""
            self._start = self._lines
        self._buffer += line + "\n"
        if ";" not in line:
            return []
        tokens = self._complete_tokens()
        if tokens is None:
            return []
        return self._take(tokens)

    def finish(self) -> list[Item]:
        """At the end of the input: the statement left without a ``;``, if any."""
        text, self._buffer = self._buffer, ""
        try:
            tokens = self._tokenize(text)
        except TokenError:  # unterminated: the engine says so, with the text
            return [Statement(text.strip(), self._start + _leading_lines(text))]
        if not tokens:
            return []
        first = tokens[0]
        return [Statement(text[first.start :].rstrip(), self._start + first.line - 1)]

    def _tokenize(self, text: str) -> list[Any]:
        """sqlglot's tokens (``EXPLAIN ...`` is a command token and the rest as one string
        token, which still ends at the first ``;`` outside strings and comments)."""
        tokens: list[Any] = self._dialect.tokenize(text)
        return tokens

    def _only_comments(self) -> bool:
        if not self._buffer.strip():
            return True
        try:
            return not self._tokenize(self._buffer)
        except TokenError:
            return False

    def _complete_tokens(self) -> list[Any] | None:
        """The tokens of the buffer, or of its longest prefix ending with a ``;`` that
        tokenizes (the rest being an unterminated string or comment); ``None`` if none."""
        try:
            return self._tokenize(self._buffer)
        except TokenError:
            pass
        end = len(self._buffer)
        while (end := self._buffer.rfind(";", 0, end)) >= 0:
            try:
                tokens = self._tokenize(self._buffer[: end + 1])
            except TokenError:
                continue
            if tokens and _is_semicolon(tokens[-1]):
                return tokens
        return None

    def _take(self, tokens: Sequence[Any]) -> list[Item]:
        """The statements that ``tokens`` (of the buffer) complete; keep the rest."""
        items: list[Item] = []
        first: Any = None
        consumed = 0
        for token in tokens:
            if not _is_semicolon(token):
                if first is None:
                    first = token
                continue
            if first is not None:
                text = self._buffer[first.start : token.start].rstrip()
                items.append(Statement(text, self._start + first.line - 1))
            first = None
            consumed = token.end + 1
        if consumed:
            self._start += self._buffer.count("\n", 0, consumed)
            self._buffer = self._buffer[consumed:]
            if self._only_comments():
                self._buffer = ""
        return items


def _is_semicolon(token: Any) -> bool:
    return bool(token.token_type.name == "SEMICOLON")


def _leading_lines(text: str) -> int:
    """How many lines of ``text`` come before its first non-blank character."""
    return text.count("\n", 0, len(text) - len(text.lstrip()))


def split_items(lines: Iterable[str]) -> Iterator[Item]:
    """Every statement and meta command of ``lines``, as each completes."""
    splitter = StatementSplitter()
    for line in lines:
        yield from splitter.feed(line)
    yield from splitter.finish()


def history_entry(lines: Sequence[str]) -> str | None:
    """The history entry of the lines of one input (``None`` for blank input).

    History files hold one entry per line, so the lines of a multi-line statement are
    joined with spaces; not when a line holds ``--`` (a comment would swallow what follows),
    then they stay separate entries, joined by newlines here.
    """
    kept = [line.rstrip() for line in lines if line.strip()]
    if not kept:
        return None
    if len(kept) == 1:
        return kept[0]
    if any("--" in line for line in kept):
        return "\n".join(kept)
    return " ".join([kept[0], *(line.strip() for line in kept[1:])])


def history_path() -> Path | None:
    """``$AZOF_HISTORY`` (set but empty: no history), else ``~/.azof_history``."""
    value = os.environ.get(HISTORY_ENV)
    if value is not None:
        return Path(value).expanduser() if value.strip() else None
    try:
        return Path.home() / ".azof_history"
    except RuntimeError:  # no home directory
        return None


class LineReader(Protocol):
    """Reads the lines of the prompt and keeps its history."""

    def read(self, prompt: str) -> str:
        """One line, without its newline; ``EOFError`` at the end (Ctrl-D)."""
        ...

    def remember(self, entry: str) -> None:
        """Add an entry to the history (and save it)."""
        ...


class ReadlineReader:
    """Python's ``readline`` (GNU readline or libedit): editing, history, completion."""

    def __init__(self, module: ModuleType, history: Path | None, words: Sequence[str]) -> None:
        self._readline: Any = module
        self._history = history
        self._words = sorted(set(words))
        self._matches: list[str] = []
        readline = self._readline
        readline.set_auto_history(False)  # one entry per statement, see remember()
        readline.set_history_length(HISTORY_LENGTH)
        if history is not None and history.is_file():
            with contextlib.suppress(OSError):
                readline.read_history_file(str(history))
        readline.set_completer(self._complete)
        readline.set_completer_delims(" \t\n(),;=<>'\"")
        if "libedit" in (getattr(readline, "__doc__", "") or ""):
            readline.parse_and_bind("bind ^I rl_complete")
        else:
            readline.parse_and_bind("tab: complete")

    def read(self, prompt: str) -> str:
        return input(prompt)

    def remember(self, entry: str) -> None:
        readline = self._readline
        for line in entry.split("\n"):
            count = readline.get_current_history_length()
            if count and readline.get_history_item(count) == line:
                continue
            readline.add_history(line)
        if self._history is None:
            return
        try:
            new = not self._history.exists()
            readline.write_history_file(str(self._history))
            if new:
                self._history.chmod(0o600)  # queries may hold names worth keeping private
        except OSError as exc:
            print(f"warning: cannot save the history to {self._history}: {exc}", file=sys.stderr)
            self._history = None

    def _complete(self, text: str, state: int) -> str | None:
        if state == 0:
            upper = text.isupper()
            folded = text.lower()
            self._matches = [
                word.upper() if upper else word
                for word in self._words
                if word.lower().startswith(folded)
            ]
        return self._matches[state] if state < len(self._matches) else None


class PromptToolkitReader:
    """prompt_toolkit's prompt, when ``readline`` is missing (Windows) and it is installed."""

    def __init__(self, module: ModuleType, history: Path | None, words: Sequence[str]) -> None:
        history_module: Any = importlib.import_module("prompt_toolkit.history")
        completion: Any = importlib.import_module("prompt_toolkit.completion")
        store = (
            history_module.FileHistory(str(history))
            if history is not None
            else history_module.InMemoryHistory()
        )
        self._history = store
        self._session: Any = module.PromptSession(
            history=store,
            completer=completion.WordCompleter(sorted(set(words)), ignore_case=True),
            enable_history_search=True,
        )

    def read(self, prompt: str) -> str:
        text: str = self._session.prompt(prompt)
        return text

    def remember(self, entry: str) -> None:
        pass  # prompt_toolkit stores every line it reads


class PlainReader:
    """Plain :func:`input`, without editing or history."""

    def read(self, prompt: str) -> str:
        return input(prompt)

    def remember(self, entry: str) -> None:
        pass


def open_reader(history: Path | None, words: Sequence[str] = ()) -> LineReader:
    """The best line editor available, with ``history`` and completion of ``words``."""
    try:
        readline = importlib.import_module("readline")
    except ImportError:
        pass
    else:
        return ReadlineReader(readline, history, words)
    try:
        prompt_toolkit = importlib.import_module("prompt_toolkit")
    except ImportError:
        return PlainReader()
    return PromptToolkitReader(prompt_toolkit, history, words)
