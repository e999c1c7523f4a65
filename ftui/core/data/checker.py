"""Validating rows one by one into a tally that is small, picklable and mergeable.

The same Tally runs in the single-process path and in each worker of the parallel JSONL path; the
parent merges them (lines shifted by what came before) and settles what needs every row at once:
exact duplicates and the token statistics. Per row it keeps 16 bytes (a 64-bit hash, the line, the
token count), so a 1 GB file with 2 million rows costs about 32 MB.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ftui.core.data.formats import to_messages
from ftui.core.data.problems import RowProblem
from ftui.core.data.tokens import ROW_OVERHEAD, TURN_OVERHEAD, LocalTokenizer, estimate_text

if TYPE_CHECKING:
    from pathlib import Path

    from ftui.core.vision import VisionFamily

EXAMPLES_PER_KIND = 5
PROGRESS_EVERY = 2000  # rows between two progress calls (a 200k-row file with a tokenizer: ~0.2 s)
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
    bad_lines: array = field(default_factory=lambda: array("Q"))  # every row that cannot be trained on
    tokens: array = field(default_factory=lambda: array("Q"))
    answer_tokens: int = 0  # estimated tokens of answers (assistant turns), for the responses-only advice
    prompt_tokens: int = 0  # estimated tokens of everything else the rows say (system, user turns)
    # Vision rows: every checked image's size, the image tokens per usable row, paths outside the folder.
    images: int = 0
    rows_with_images: int = 0
    most_images: int = 0  # in one row
    widths: array = field(default_factory=lambda: array("Q"))
    heights: array = field(default_factory=lambda: array("Q"))
    image_tokens: array = field(default_factory=lambda: array("Q"))
    outside: int = 0
    outside_examples: list[tuple[int, str]] = field(default_factory=list)

    def problem(self, line: int, kind: str, detail: str, file_line: int | None = None) -> None:
        seen = self.counts.get(kind, 0)
        self.counts[kind] = seen + 1
        self.bad_lines.append(line)
        if seen < EXAMPLES_PER_KIND:
            self.examples.append((line, kind, detail, file_line))

    def shifted(self, offset: int) -> Tally:
        """This tally with every line moved down by `offset` (a worker counts from its own start)."""
        if offset:
            self.examples = [
                (line + offset, kind, detail, where) for line, kind, detail, where in self.examples
            ]
            self.lines = array("Q", (line + offset for line in self.lines))
            self.bad_lines = array("Q", (line + offset for line in self.bad_lines))
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
        self.bad_lines.extend(other.bad_lines)
        self.tokens.extend(other.tokens)
        self.answer_tokens += other.answer_tokens
        self.prompt_tokens += other.prompt_tokens
        self.images += other.images
        self.rows_with_images += other.rows_with_images
        self.most_images = max(self.most_images, other.most_images)
        self.widths.extend(other.widths)
        self.heights.extend(other.heights)
        self.image_tokens.extend(other.image_tokens)
        self.outside += other.outside
        room = EXAMPLES_PER_KIND - len(self.outside_examples)
        self.outside_examples.extend(other.outside_examples[: max(room, 0)])


class RowChecker:
    """Checks rows of one format into a Tally. With a tokenizer, tokens are counted in batches."""

    def __init__(
        self,
        fmt: str,
        mapping: Mapping[str, str],
        *,
        tokenizer: LocalTokenizer | None = None,
        render: Any = None,  # messages -> text to count, when counting with a tokenizer
        progress: Callable[[int], None] | None = None,  # called with the rows so far, now and then
    ) -> None:
        self.fmt = fmt
        self.mapping = dict(mapping)
        self.tally = Tally()
        self.tokenizer = tokenizer
        self.render = render
        self.progress = progress
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
        if self.progress is not None and tally.rows % PROGRESS_EVERY == 0:
            self.progress(tally.rows)
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


_IMAGE_BATCH = 256  # rows whose images are checked together on the thread pool


@dataclass
class _VisionRow:
    line: int
    file_line: int | None
    raw: bytes | None
    messages: list[dict[str, Any]]
    refs: list[Any]  # ImageRef
    text: int  # text tokens (estimate)
    before_last_image: int  # text tokens before the last image: where an image would be cut
    answer: int
    prompt: int


class VisionRowChecker(RowChecker):
    """RowChecker for rows with images: each image is located, decoded and sized (on a thread pool, a batch
    of rows at a time), and its tokens for the model's family are added to the row's."""

    def __init__(
        self,
        fmt: str,
        mapping: Mapping[str, str],
        *,
        family: VisionFamily,
        family_is_the_models: bool,
        base_dir: Path | None,
        max_length: int,
        tokenizer: LocalTokenizer | None = None,
    ) -> None:
        super().__init__(fmt, mapping, tokenizer=tokenizer)
        from ftui.core.data.images import UrlFetcher

        self.family = family
        self.family_is_the_models = family_is_the_models
        self.base_dir = base_dir
        self.max_length = max_length
        self.fetcher = UrlFetcher()
        self._rows: list[_VisionRow] = []

    def check(
        self,
        line: int,
        value: Any,
        problem: tuple[str, str] | None,
        raw: bytes | None,
        file_line: int | None = None,
    ) -> None:
        from ftui.core.data.formats import to_vision_messages
        from ftui.core.data.images import NotAnImageRef, image_ref

        tally = self.tally
        tally.rows += 1
        if problem is not None:
            tally.problem(line, *problem, file_line)
            return
        try:
            messages, payloads = to_vision_messages(value, self.fmt, self.mapping)
            refs = []
            for payload in payloads:
                try:
                    ref = image_ref(payload, self.base_dir)
                except NotAnImageRef as error:
                    raise RowProblem(
                        "wrong_type", f"an image is {error}, not a path, bytes or a URL"
                    ) from None
                if ref is None:
                    raise RowProblem("no_image", "an image of the row is empty")
                refs.append(ref)
            limit = self.family.max_images_per_row if self.family_is_the_models else None
            if limit is not None and len(refs) > limit:
                raise RowProblem(
                    "too_many_images",
                    f"it has {len(refs)} images and {self.family.name} takes {limit} ({self.family.why_max_images})",
                )
        except RowProblem as bad:
            tally.problem(line, bad.kind, bad.detail, file_line)
            return
        text = before = answer = prompt = 0
        seen_images = 0
        for message in messages:
            for part in message["content"]:
                if part["type"] == "image":
                    seen_images += 1
                    if seen_images == len(refs):
                        before = text
                    continue
                count = estimate_text(part["text"])
                text += count
                if message["role"] == "assistant":
                    answer += count
                else:
                    prompt += count
            text += TURN_OVERHEAD
        text += ROW_OVERHEAD
        self._rows.append(_VisionRow(line, file_line, raw, messages, refs, text, before, answer, prompt))
        if len(self._rows) >= _IMAGE_BATCH:
            self.flush()

    def flush(self) -> Tally:
        from ftui.core.data.images import ImageInfo, ImageProblem, check_images

        rows, self._rows = self._rows, []
        if not rows:
            return self.tally
        results = check_images([ref for row in rows for ref in row.refs], self.fetcher)
        counted = self._text_counts(rows)
        tally = self.tally
        position = 0
        for row, text in zip(rows, counted, strict=True):
            checked = results[position : position + len(row.refs)]
            position += len(row.refs)
            bad = next((r for r in checked if isinstance(r, ImageProblem)), None)
            if bad is not None:
                tally.problem(row.line, bad.kind, bad.detail, row.file_line)
                continue
            infos = [info for info in checked if isinstance(info, ImageInfo)]  # every one, after `bad`
            image_tokens = sum(self.family.image_tokens(info.width, info.height) for info in infos)
            cut_at = row.before_last_image + image_tokens
            if row.refs and cut_at > self.max_length:
                tally.problem(
                    row.line,
                    "image_tokens_overflow",
                    f"its images end at token {cut_at:,} ({image_tokens:,} image tokens for {self.family.name}), "
                    f"past the max length of {self.max_length:,}",
                    row.file_line,
                )
                continue
            tally.usable += 1
            tally.hashes.append(row_hash(row.raw) if row.raw is not None else 0)
            tally.lines.append(row.line)
            tally.tokens.append(text + image_tokens)
            tally.image_tokens.append(image_tokens)
            tally.answer_tokens += row.answer
            tally.prompt_tokens += row.prompt
            if row.refs:
                tally.rows_with_images += 1
                tally.images += len(row.refs)
                tally.most_images = max(tally.most_images, len(row.refs))
            for ref, info in zip(row.refs, infos, strict=True):
                tally.widths.append(info.width)
                tally.heights.append(info.height)
                if ref.outside:
                    tally.outside += 1
                    if len(tally.outside_examples) < EXAMPLES_PER_KIND:
                        tally.outside_examples.append((row.line, ref.given))
        return tally

    def _text_counts(self, rows: list[_VisionRow]) -> list[int]:
        if self.tokenizer is None:
            return [row.text for row in rows]
        texts = [
            "\n".join(p["text"] for m in row.messages for p in m["content"] if p["type"] == "text")
            for row in rows
        ]
        return [
            count + TURN_OVERHEAD * len(row.messages) + ROW_OVERHEAD
            for count, row in zip(self.tokenizer.count(texts), rows, strict=True)
        ]
