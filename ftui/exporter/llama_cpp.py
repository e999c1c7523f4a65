"""llama.cpp's own tools, from the package registry: the converter and the quantizer.

- The quantizer and the loader: llama-cpp-python (PyPI), which builds llama.cpp from the sources in its
  sdist and exposes `llama_model_quantize` (what llama.cpp's `llama-quantize` tool calls) and `Llama`.
- The converter: convert_hf_to_gguf.py and its `conversion` package are not installed by any wheel;
  they are in the same llama-cpp-python sdist (vendor/llama.cpp), so converter, quantizer and loader
  come from one llama.cpp commit. ftui takes them from that sdist once (`pip download`, the registry's
  ordinary client) into its cache, or from $FTUI_LLAMA_CPP (a llama.cpp source folder) for a machine
  that cannot reach PyPI. The converter writes GGUF with the gguf-py beside it in that sdist: PyPI's
  `gguf` of the same version number is an older snapshot that this converter does not run with.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from ftui.core.errors import UserError

CONVERTER = "convert_hf_to_gguf.py"


def llama_cpp_python_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llama-cpp-python")
    except PackageNotFoundError:
        raise UserError(
            "GGUF export needs llama-cpp-python (llama.cpp's quantizer and loader); install it with "
            "`pip install llama-cpp-python gguf` (it builds llama.cpp: a C++ compiler and CMake are needed)."
        ) from None


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ftui" / "llama.cpp"


def converter_dir(log: Callable[[str], object] = print) -> Path:
    """A folder holding convert_hf_to_gguf.py and conversion/ for the installed llama-cpp-python."""
    given = os.environ.get("FTUI_LLAMA_CPP")
    if given:
        folder = Path(given).expanduser()
        if not (folder / CONVERTER).is_file():
            raise UserError(
                f"FTUI_LLAMA_CPP={given} has no {CONVERTER}; point it at a llama.cpp source folder or unset it."
            )
        return folder
    version = llama_cpp_python_version()
    folder = cache_root() / version
    if all((folder / part).exists() for part in (CONVERTER, "conversion", "gguf-py/gguf")):
        return folder
    log(f"taking llama.cpp's converter from the llama-cpp-python {version} source package on PyPI")
    with tempfile.TemporaryDirectory() as tmp:
        download = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--progress-bar=off",
                f"llama-cpp-python=={version}",
                "-d",
                tmp,
            ],
            capture_output=True,
            text=True,
        )
        sdists = list(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        if download.returncode != 0 or not sdists:
            last = (download.stderr.strip().splitlines() or ["no output"])[-1][:200]
            raise UserError(
                f"GGUF export needs llama.cpp's converter from the llama-cpp-python {version} source package "
                f"and pip could not download it ({last}); run it where PyPI is reachable once, or set "
                "FTUI_LLAMA_CPP to a llama.cpp source folder."
            )
        _extract_converter(sdists[0], folder)
    return folder


def _extract_converter(sdist: Path, folder: Path) -> None:
    """Unpack vendor/llama.cpp/{convert_hf_to_gguf.py, conversion/, gguf-py/, LICENSE} into `folder`,
    atomically (about 2 MB)."""
    tmp = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    wanted = re.compile(
        r"^[^/]+/vendor/llama\.cpp/(convert_hf_to_gguf\.py|LICENSE|conversion/.*|gguf-py/gguf/.*)$"
    )
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            match = wanted.match(member.name)
            if not match or not member.isfile():
                continue
            target = tmp / match.group(1)
            target.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())
    if not (tmp / CONVERTER).is_file():
        raise UserError(
            f"{sdist.name} has no vendor/llama.cpp/{CONVERTER}; set FTUI_LLAMA_CPP to a llama.cpp source folder."
        )
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def convert(merged: Path, outfile: Path, outtype: str, log: Callable[[str], object] = print) -> None:
    """Run llama.cpp's converter on a merged HF folder; its output goes to this process's log."""
    folder = converter_dir(log)
    env = dict(os.environ)
    env.pop("NO_LOCAL_GGUF", None)  # the converter puts its own gguf-py first on sys.path
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(folder), env.get("PYTHONPATH")) if p)
    command = [
        sys.executable,
        str(folder / CONVERTER),
        str(merged),
        "--outfile",
        str(outfile),
        "--outtype",
        outtype,
    ]
    log(f"running llama.cpp's converter: {' '.join(command)}")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    tail: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="", flush=True)
        tail = (tail + [line.rstrip()])[-40:]
    if process.wait() != 0:
        raise UserError(_converter_failure(tail))


def _converter_failure(tail: list[str]) -> str:
    text = "\n".join(tail)
    if "pre-tokenizer was not recognized" in text:
        return (
            "llama.cpp's converter does not know this model's tokenizer (its BPE pre-tokenizer is not in "
            "llama.cpp's list), so it cannot write a GGUF; export --format merged and use it with transformers or vLLM."
        )
    if "not supported" in text.lower() and "model" in text.lower():
        line = next((t for t in reversed(tail) if "not supported" in t.lower()), "")
        return f"llama.cpp's converter does not support this model ({line.strip()[:160]}); export --format merged instead."
    if "No space left on device" in text:
        return "The disk filled up while llama.cpp's converter wrote the GGUF; free space and export again."
    last = next((t for t in reversed(tail) if t.strip()), "no output")
    return f"llama.cpp's converter failed ({last.strip()[:200]}); see the export's log."


def quantize(source: Path, target: Path, quant: str, threads: int | None = None) -> None:
    """llama.cpp's quantizer (the function behind `llama-quantize`), in this process."""
    import llama_cpp

    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{quant.upper()}", None)
    if ftype is None:
        raise UserError(
            f"This llama.cpp ({llama_cpp.__version__}) has no quantization type {quant}; pick another --quant."
        )
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads or len(os.sched_getaffinity(0))
    code = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params))
    if code != 0:
        raise UserError(f"llama.cpp's quantizer failed on {source.name} (code {code}); see the export's log.")
