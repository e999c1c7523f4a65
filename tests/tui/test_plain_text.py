"""Untrusted text is shown literally: no markup, no terminal control sequences, lines split on \\r too."""

from ftui.widgets.plain_text import LineSplitter, one_line, plain, strip_control


def test_markup_is_kept_as_text():
    assert plain("[bold]not bold[/bold]").plain == "[bold]not bold[/bold]"
    assert plain("[bold]x").spans == []


def test_escape_sequences_are_removed():
    dirty = (
        "\x1b[31mred\x1b[0m \x1b]0;evil title\x07ok \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ \x9b2Jbell\x07"
    )
    assert strip_control(dirty) == "red ok link bell"


def test_cursor_moves_and_bidi_overrides_are_removed():
    assert strip_control("a\x1b[2K\x1b[1Ab\u202ec\x00d\x7f") == "abcd"


def test_tabs_and_newlines_survive_and_one_line_marks_breaks():
    assert strip_control("a\tb\r\nc") == "a\tb\nc"
    assert one_line("first\nsecond") == "first \u23ce second"
    assert one_line("x" * 50, limit=10) == "x" * 9 + "\u2026"


def test_splitter_splits_on_carriage_returns_like_tqdm():
    splitter = LineSplitter()
    assert splitter.feed("step 1\n\r 10%|#\r 20%|##\r") == ["step 1", " 10%|#", " 20%|##"]
    # the \r\n pair split across two reads is one line break, not a blank line
    assert splitter.feed("\nnext\npart") == ["next"]
    assert splitter.feed("ial line\n") == ["partial line"]
    assert splitter.feed("no newline yet") == []
    assert splitter.flush() == ["no newline yet"]


def test_splitter_bounds_a_line_without_newlines():
    splitter = LineSplitter(max_line=100)
    assert splitter.feed("x" * 250) == ["x" * 100, "x" * 100]
    assert splitter.feed("y" * 10) == []  # 60 characters wait for their newline
    assert splitter.flush() == ["x" * 50 + "y" * 10]


def test_path_completion_never_puts_a_control_sequence_into_the_field(tmp_path):
    from ftui.widgets.path_input import complete_path

    (tmp_path / "data\x1b]0;pwned\x07.jsonl").write_text("{}\n")
    (tmp_path / "data-ok.jsonl").write_text("{}\n")
    assert complete_path(f"{tmp_path}/da") == f"{tmp_path}/data-ok.jsonl"
    (tmp_path / "data-ok.jsonl").unlink()
    assert complete_path(f"{tmp_path}/da") is None
