import subprocess
import sys

from ftui import __version__
from ftui.cli import main


def test_version_via_real_process():
    result = subprocess.run([sys.executable, "-m", "ftui", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.strip() == f"ftui {__version__}"


def test_unknown_subcommand_is_bad_usage_in_one_sentence(capsys):
    try:
        main(["no-such-command"])
    except SystemExit as exit:
        assert exit.code == 2
    err = capsys.readouterr().err
    assert err.startswith("ftui: ")
    assert "Traceback" not in err
