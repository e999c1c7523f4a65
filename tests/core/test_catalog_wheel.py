"""assets/ ships inside the wheel: a non-editable install finds the catalog in ftui/assets, and the
template `ftui script` renders (ftui/core/templates)."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_built_wheel_carries_the_catalog(tmp_path):
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    build = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(wheels),
        str(REPO),
    ]
    subprocess.run(build, check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("ftui-*.whl")
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=300)

    probe = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "import ftui; from ftui.core.catalog import load_catalog; c = load_catalog();"
        "from ftui.core.script import generate_script; from ftui.core.run_config import RunConfig;"
        "print(json.dumps({'package': ftui.__file__, 'assets': str(c.directory), 'models': len(c.models),"
        " 'licenses': len(c.licenses), 'gpus': len(c.gpus),"
        " 'script': generate_script(RunConfig(model='m/m', data='d.jsonl'))}))"
    )
    # cwd is not the checkout, so only the installed copy (first on sys.path) can answer.
    env = {**os.environ, "FTUI_NO_CACHE": "1"}  # the temp install's parsed-file cache would outlive the test
    result = subprocess.run(
        [sys.executable, "-c", probe, str(site)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["package"].startswith(str(site))
    assert found["assets"] == str(site / "ftui" / "assets")
    assert "FastLanguageModel.from_pretrained" in found["script"]
    assert found["models"] >= 94 and found["licenses"] >= 10 and found["gpus"] >= 13
