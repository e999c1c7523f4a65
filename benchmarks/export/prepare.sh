#!/usr/bin/env bash
# Prepare what benchmarks/export/bench.py needs on the GPU machine, which has no compiler guarantee and
# cannot reach PyPI: a portable llama-cpp-python wheel (llama.cpp built here for baseline x86-64, no
# -march=native, so it runs on any host CPU), its pure-Python dependency diskcache, and llama.cpp's
# converter (with its gguf-py) from the same sdist. Result: .gpu-export/ (about 30 MB), ignored by git;
# carry it with [".gpu", ".gpu-export"] (with ../shared/tools/gpu-site's .gpu for Unsloth).
#
# Usage (from the project root, here, with the project's venv active):   bash benchmarks/export/prepare.sh
# Takes about 11 min of CPU (the llama.cpp build) the first time; pip caches the wheel afterwards.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
grep -qxF '/.gpu-export/' "$(git rev-parse --git-common-dir)/info/exclude" 2>/dev/null \
  || echo '/.gpu-export/' >> "$(git rev-parse --git-common-dir)/info/exclude"
version=0.3.36
mkdir -p .gpu-export
CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" python3 -m pip wheel -q --no-deps \
  "llama-cpp-python==$version" -w .gpu-export
python3 -m pip download -q --no-deps --only-binary=:all: diskcache==5.6.3 -d .gpu-export
# The converter: ftui takes it from the sdist into its cache; copy that folder (or fetch it now).
python3 - <<'PY'
import shutil
from pathlib import Path
from ftui.exporter.llama_cpp import converter_dir
folder = converter_dir()
shutil.rmtree(".gpu-export/llama.cpp", ignore_errors=True)
shutil.copytree(folder, ".gpu-export/llama.cpp")
print(f"converter from {folder}")
PY
du -sh .gpu-export; ls .gpu-export
