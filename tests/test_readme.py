"""The README's console examples are what ftui prints: each `$ ftui ...` line in a ```console block is run
(a real `ftui` process, offline) and its output compared with the lines under it, so that they cannot
drift again (issue 13: `advise` showed ~8.0 GiB where the README said ~8.6).

How the README's text is read:
- a line `...` stands for any number of lines (the README shortens long outputs), and `...` inside a
  line for any text there;
- numbers match within 5% (at least 0.05), since many depend on the catalog and the estimator's
  calibration; words, names and the order of lines must be the same;
- runs of spaces match any run of spaces (table columns move with their widest cell).

Examples that need what this machine has not got (a GPU, a model download, a trained run) are not run;
each is named below with why, and its command line is still parsed by ftui's own parser, so a flag the
README shows cannot disappear. A new example must be added to one list or the other.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

RUN = {"models", "advise", "decode", "license", "estimate", "inspect"}
NOT_RUN = {
    "probe": "its figures are this machine's (the README's are an H200's)",
    "train": "trains a catalog model: a GPU and a download",
    "runs": "lists the runs of the `ftui train` before it",
    "stop": "stops the run of the `ftui train` before it",
    "resume": "resumes that run",
    "script": "writes the script of that run's config",
    "export": "exports a trained run",
    "chat": "loads a trained run",
    "eval": "evaluates a trained run",
}

# `ftui inspect mydata.jsonl`: the four rows the README's output describes (a row, its exact repeat, an
# empty output, a line cut short), written where the example runs.
MYDATA = (
    '{"instruction": "Name a colour.", "input": "", "output": "Blue."}\n'
    '{"instruction": "Name a colour.", "input": "", "output": "Blue."}\n'
    '{"instruction": "Name a fruit.", "input": "", "output": ""}\n'
    '{"instruction": "Name a tree.", "output": "\n'
)

NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


@dataclass
class Example:
    line: int  # in README.md
    command: str
    expected: list[str]


def console_examples() -> list[Example]:
    examples: list[Example] = []
    inside = False
    for number, text in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        if text.startswith("```"):
            inside = text.strip() == "```console"
            continue
        if not inside:
            continue
        if text.startswith("$ "):
            command = text[2:].split("  #", 1)[0].strip()  # a comment after the command is the README's
            examples.append(Example(number, command, []))
        elif examples:
            examples[-1].expected.append(text)
    return examples


def subcommand(example: Example) -> str:
    words = shlex.split(example.command)
    assert words[0] == "ftui", f"README.md:{example.line}: a console example that is not ftui"
    return next(word for word in words[1:] if not word.startswith("-"))


def pattern(expected: str) -> tuple[re.Pattern[str], list[float]]:
    """A regex for an expected line (numbers captured, `...` any text, spaces any spaces), and its numbers."""
    parts: list[str] = []
    numbers: list[float] = []
    position = 0
    for match in re.finditer(r"\.\.\.|" + NUMBER.pattern + r"| {2,}", expected.rstrip()):
        parts.append(re.escape(expected[position : match.start()]))
        token = match.group()
        if token == "...":
            parts.append(".*?")
        elif token.startswith(" "):
            parts.append(" +")
        else:
            parts.append(r"(\d[\d,]*(?:\.\d+)?)")
            numbers.append(float(token.replace(",", "")))
        position = match.end()
    parts.append(re.escape(expected.rstrip()[position:]))
    return re.compile("".join(parts)), numbers


def close(found: float, wanted: float) -> bool:
    return abs(found - wanted) <= max(0.05 * abs(wanted), 0.05)


def line_matches(expected: str, actual: str) -> bool:
    regex, numbers = pattern(expected)
    match = regex.fullmatch(actual.rstrip())
    if match is None:
        return False
    found = [float(g.replace(",", "")) for g in match.groups()]
    return all(close(f, w) for f, w in zip(found, numbers, strict=True))


def mismatch(expected: list[str], actual: list[str]) -> str | None:
    """None when `actual` is what `expected` describes; else the first expected line that is not there."""
    at = 0
    skipping = False
    for wanted in expected:
        if wanted.strip() == "...":
            skipping = True
            continue
        while at < len(actual) and not line_matches(wanted, actual[at]):
            if not skipping:
                got = actual[at] if at < len(actual) else "(the end of the output)"
                return f"expected:\n  {wanted}\ngot:\n  {got}"
            at += 1
        if at == len(actual):
            return (
                f"expected:\n  {wanted}\nbut the output ended (or it came earlier than the lines before it)"
            )
        at += 1
        skipping = False
    if at < len(actual) and not skipping:
        return f"the output goes on where the README stops (no `...`):\n  {actual[at]}"
    return None


EXAMPLES = console_examples()


def test_every_example_is_run_or_says_why_not():
    assert EXAMPLES, "no ```console blocks found in README.md"
    for example in EXAMPLES:
        command = subcommand(example)
        assert command in RUN or command in NOT_RUN, (
            f"README.md:{example.line}: `{command}` is in neither list"
        )


@pytest.mark.parametrize(
    "example", [e for e in EXAMPLES if subcommand(e) in RUN], ids=lambda e: f"line{e.line}"
)
def test_the_example_prints_what_the_readme_shows(example, tmp_path):
    (tmp_path / "mydata.jsonl").write_text(MYDATA, encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "FTUI_RUNS_DIR": str(tmp_path / "runs"), "COLUMNS": "200"}
    words = shlex.split(example.command)
    result = subprocess.run(
        [sys.executable, "-m", "ftui", *words[1:]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"README.md:{example.line}: `{example.command}` failed:\n{result.stderr}"
    problem = mismatch(example.expected, result.stdout.splitlines())
    assert problem is None, f"README.md:{example.line}: `{example.command}`\n{problem}"


@pytest.mark.parametrize(
    "example", [e for e in EXAMPLES if subcommand(e) in NOT_RUN], ids=lambda e: f"line{e.line}"
)
def test_an_example_not_run_here_still_parses(example):
    from ftui.cli import build_parser

    words = shlex.split(example.command)
    words = words[: words.index(">")] if ">" in words else words  # the shell's redirection, not ftui's
    try:
        build_parser().parse_args(words[1:])
    except SystemExit as error:
        pytest.fail(f"README.md:{example.line}: ftui does not accept `{example.command}` (exit {error.code})")


def test_the_matching_is_strict_where_it_should_be():
    assert line_matches("qlora: ~8.6 GiB, fits", "qlora: ~8.3 GiB, fits")  # catalog figures move a little
    assert not line_matches("qlora: ~8.6 GiB, fits", "qlora: ~8.0 GiB, fits")  # 7% off: the README is stale
    assert not line_matches("needs about 22.0 GiB", "needs about 18.9 GiB")
    assert not line_matches("1. Qwen/Qwen3-8B", "2. Qwen/Qwen3-8B")
    assert not line_matches("fits", "does not fit")
    assert line_matches("Problems: 3", "Problems: 3")
    assert mismatch(["a", "...", "z"], ["a", "b", "c", "z"]) is None
    assert mismatch(["a", "z"], ["a", "b", "z"]) is not None  # no `...`: every line is shown
    assert mismatch(["a"], ["a", "b"]) is not None
    assert mismatch(["a", "..."], ["a", "b"]) is None
