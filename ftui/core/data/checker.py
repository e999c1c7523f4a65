"""Validating rows one by one into a tally that is small, picklable and mergeable.

The same Tally runs in the single-process path and in each worker of the parallel JSONL path; the
parent merges them (lines shifted by what came before) and settles what needs every row at once:
exact duplicates and the token statistics. Per row it keeps 16 bytes (a 64-bit hash, the line, the
token count), so a 1 GB file with 2 million rows costs about 32 MB.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ftui.core.data.formats import to_messages
from ftui.core.data.problems import RowProblem
from ftui.core.data.tokens import ROW_OVERHEAD, TURN_OVERHEAD, LocalTokenizer, estimate_text

EXAMPLES_PER_KIND = 5
_TOKENIZE_BATCH = 512


def row_hash(raw: bytes) -> int:
    # Python's own bytes hash: SipHash, 64 bits, ~30x faster than hashlib here. It is seeded per
    # interpreter, which is why the parallel path forks (children share the parent's seed). Two
    # different rows colliding among 10 million has a chance near 3e-6.
    return hash(raw) & 0xFFFFFFFFFFFFFFFF


@dataclass
class Tally:
    rows: int = 0  # records read (blank lines are not records)
    usable: int = 0  # rows that convert to training text
    counts: dict[str, int] = field(default_factory=dict)
    # (line, kind, detail, file line of a JSON array element or None), the first few of each kind
    examples: list[tuple[int, str, str, int | None]] = field(default_factory=list)
    hashes: array = field(default_factory=lambda: array("Q"))
    lines: array = field(default_factory=lambda: array("Q"))
    tokens: array = field(default_factory=lambda: array("Q"))
    answer_tokens: int = 0  # estimated tokens of answers (assistant turns), for the responses-only advice
    prompt_tokens: int = 0  # estimated tokens of everything else the rows say (system, user turns)

    def problem(self, line: int, kind: str, detail: str, file_line: int | None = None) -> None:
        seen = self.counts.get(kind, 0)
        self.counts[kind] = seen + 1
        if seen < EXAMPLES_PER_KIND:
            self.examples.append((line, kind, detail, file_line))

    def shifted(self, offset: int) -> Tally:
        """This tally with every line moved down by `offset` (a worker counts from its own start)."""
        if offset:
            self.examples = [
                (line + offset, kind, detail, where) for line, kind, detail, where in self.examples
            ]
            self.lines = array("Q", (line + offset for line in self.lines))
        return self

    def merge(self, other: Tally) -> None:
        self.rows += other.rows
        self.usable += other.usable
        for kind, count in other.counts.items():
            seen = self.counts.get(kind, 0)
            self.counts[kind] = seen + count
        kept: dict[str, int] = {}
        for example in self.examples:
            kept[example[1]] = kept.get(example[1], 0) + 1
        for example in other.examples:
            kind = example[1]
            if kept.get(kind, 0) < EXAMPLES_PER_KIND:
                kept[kind] = kept.get(kind, 0) + 1
                self.examples.append(example)
        self.hashes.extend(other.hashes)
        self.lines.extend(other.lines)
        self.tokens.extend(other.tokens)
        self.answer_tokens += other.answer_tokens
        self.prompt_tokens += other.prompt_tokens


class RowChecker:
    """Checks rows of one format into a Tally. With a tokenizer, tokens are counted in batches."""

    def __init__(
        self,
        fmt: str,
        mapping: Mapping[str, str],
        *,
        tokenizer: LocalTokenizer | None = None,
        render: Any = None,  # messages -> text to count, when counting with a tokenizer
    ) -> None:
        self.fmt = fmt
        self.mapping = dict(mapping)
        self.tally = Tally()
        self.tokenizer = tokenizer
        self.render = render
        self._pending: list[str] = []

    def check(
        self,
        line: int,
        value: Any,
        problem: tuple[str, str] | None,
        raw: bytes | None,
        file_line: int | None = None,
    ) -> None:
        tally = self.tally
        tally.rows += 1
        if problem is not None:
            tally.problem(line, *problem, file_line)
            return
        try:
            messages = to_messages(value, self.fmt, self.mapping)
        except RowProblem as bad:
            tally.problem(line, bad.kind, bad.detail, file_line)
            return
        tally.usable += 1
        tally.hashes.append(row_hash(raw) if raw is not None else 0)
        tally.lines.append(line)
        estimate = ROW_OVERHEAD
        for message in messages:
            content = estimate_text(message["content"])
            estimate += content + TURN_OVERHEAD
            if message["role"] in ("assistant", "text"):
                tally.answer_tokens += content
            else:
                tally.prompt_tokens += content
        if self.tokenizer is None:
            tally.tokens.append(estimate)
            return
        self._pending.append(self.render(messages))
        if len(self._pending) >= _TOKENIZE_BATCH:
            self.flush()

    def flush(self) -> Tally:
        if self._pending and self.tokenizer is not None:
            self.tally.tokens.extend(self.tokenizer.count(self._pending))
            self._pending = []
        return self.tally
