"""CPU cost of the live VRAM gauge, against an nvitop-style NVML poll measured in the same run.

Three processes run side by side for --seconds (60), each in its own 80x24 terminal (tmux where it is
installed, else a pseudo-terminal this script holds), and psutil reads each one's CPU time:
  gauge   the gauge harness app (tests/fakes/gauge_app.py: Header, a summary line, VramGauge, Footer),
          ticking once a second;
  anchor  a minimal nvitop-like loop: NVML opened once, then once a second the same four calls per GPU
          (memory, utilization, temperature, power), one line per GPU redrawn;
  bare    the same Textual app without the gauge: what Textual costs sitting still.
Budget (issue 4): the gauge averages at most 2% of one core.

    python benchmarks/gauge_cpu.py --source fake     # the stand-in NVML (no GPU here), 2 moving H200s
    python benchmarks/gauge_cpu.py --source real     # pynvml: this machine's GPUs
    python benchmarks/gauge_cpu.py --seconds 5       # a quick try of the script itself
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GIB = 1024**3
SOCKET = f"ftui-gauge-bench-{os.getpid()}"


# --- the anchor: what nvitop does each second, without the UI toolkit ----------------------------------


def anchor(source: str, gpus: int) -> None:
    if source == "fake":
        sys.path.insert(0, str(ROOT))
        from tests.fakes.nvml import FakeNvml, h200

        nvml = FakeNvml([h200(i) for i in range(gpus)], moving=True)
    else:
        import pynvml as nvml
    nvml.nvmlInit()
    handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
    names = [nvml.nvmlDeviceGetName(h) for h in handles]
    tick = time.monotonic()
    while True:
        lines = []
        for i, (handle, name) in enumerate(zip(handles, names, strict=True)):
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            rates = nvml.nvmlDeviceGetUtilizationRates(handle)
            temperature = nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)
            power = nvml.nvmlDeviceGetPowerUsage(handle)
            lines.append(
                f"GPU {i} {name}  {memory.used / GIB:6.1f} / {memory.total / GIB:6.1f} GiB  "
                f"{rates.gpu:3d}%  {temperature}C  {power / 1000:.0f} W"
            )
        sys.stdout.write("\x1b[H\x1b[2J" + "\n".join(lines))
        sys.stdout.flush()
        tick += 1.0
        time.sleep(max(0.0, tick - time.monotonic()))


# --- terminals ---------------------------------------------------------------------------------------


class TmuxTerminal:
    kind = "tmux"

    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.name = name
        line = " ".join(f"{k}={_quote(v)}" for k, v in env.items())
        shell = f"cd {_quote(str(ROOT))} && exec env {line} {' '.join(_quote(c) for c in command)}"
        self._tmux("new-session", "-d", "-s", name, "-x", "80", "-y", "24", shell)
        self.pid = int(self._tmux("list-panes", "-t", name, "-F", "#{pane_pid}").split()[0])

    def _tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", SOCKET, "-f", "/dev/null", *args], check=True, capture_output=True, text=True
        ).stdout

    def screen(self) -> str:
        try:
            return self._tmux("capture-pane", "-p", "-t", self.name)
        except subprocess.CalledProcessError:  # the session ended with its process
            return ""

    def close(self) -> None:
        subprocess.run(["tmux", "-L", SOCKET, "kill-session", "-t", self.name], capture_output=True)


class PtyTerminal:
    """A pseudo-terminal this script holds, for machines without tmux."""

    kind = "pty"

    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        import fcntl
        import pty
        import struct
        import termios

        self.name = name
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        full_env = {**os.environ, "TERM": os.environ.get("TERM") or "xterm-256color", **env}
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=full_env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)
        self.pid = self.process.pid
        self._master = master
        self._tail = b""
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self._tail = (self._tail + chunk)[-20000:]

    def screen(self) -> str:  # the latest output, escape sequences and all
        return self._tail.decode(errors="replace")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


# --- the measurement ---------------------------------------------------------------------------------


def measure(source: str, seconds: float, gpus: int, terminal: str) -> dict:
    import psutil

    use_tmux = terminal == "tmux" or (terminal == "auto" and shutil.which("tmux"))
    Terminal = TmuxTerminal if use_tmux else PtyTerminal
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    python = sys.executable
    app = [python, "-m", "tests.fakes.gauge_app", "--source", source, "--gpus", str(gpus)]
    commands = {
        "gauge": app,
        "anchor": [python, str(Path(__file__).resolve()), "anchor", "--source", source, "--gpus", str(gpus)],
        "bare": [*app, "--bare"],
    }
    ready = {
        "gauge": ("GPU 0", "No GPU to watch"),
        "anchor": ("GPU 0",),
        "bare": ("hardware",),
        "ftui": ("GPU 0", "No GPU to watch"),
    }
    screen = ROOT / "ftui" / "screens" / "hardware.py"
    if screen.exists() and "VramGauge" in screen.read_text():
        # The app itself on its hardware screen (the gauge, RAM/CPU/disk), reading the same NVML source.
        nvml = f"FakeNvml([h200(i) for i in range({gpus})], moving=True)" if source == "fake" else "None"
        commands["ftui"] = [
            python,
            "-c",
            "from ftui.app import FtuiApp; from tests.fakes.nvml import FakeNvml, h200; "
            f"FtuiApp(start='hardware', nvml={nvml}).run(mouse=False)",
        ]
    terminals = {name: Terminal(name, command, env) for name, command in commands.items()}
    try:
        deadline = time.monotonic() + 60
        for name, term in terminals.items():
            while not any(word in term.screen() for word in ready[name]):
                alive = (
                    psutil.pid_exists(term.pid) and psutil.Process(term.pid).status() != psutil.STATUS_ZOMBIE
                )
                if time.monotonic() > deadline or not alive:
                    raise SystemExit(
                        f"{name} did not draw ({'timed out' if alive else 'it exited'}); "
                        f"its screen:\n{term.screen()[-2000:]}"
                    )
                time.sleep(0.2)
        time.sleep(3)  # past start-up: imports and the first layout are not the steady state
        processes = {name: psutil.Process(term.pid) for name, term in terminals.items()}
        start = {name: p.cpu_times() for name, p in processes.items()}
        started = time.monotonic()
        first_screen = terminals["gauge"].screen()
        time.sleep(seconds)
        elapsed = time.monotonic() - started
        end = {name: p.cpu_times() for name, p in processes.items()}
        last_screen = terminals["gauge"].screen()
        rss = {name: p.memory_info().rss for name, p in processes.items()}
    finally:
        for term in terminals.values():
            term.close()
    results = {}
    for name in terminals:
        cpu = (end[name].user - start[name].user) + (end[name].system - start[name].system)
        results[name] = {
            "cpu_seconds": round(cpu, 3),
            "percent_of_one_core": round(100 * cpu / elapsed, 3),
            "rss_mib": round(rss[name] / 2**20, 1),
        }
    gauge, anchor_, bare = (results[n]["percent_of_one_core"] for n in ("gauge", "anchor", "bare"))
    return {
        "source": source,
        "seconds": round(elapsed, 1),
        "terminal": Terminal.kind,
        "machine": f"{platform.node()} ({os.cpu_count()} CPUs, Python {platform.python_version()})",
        "date": time.strftime("%Y-%m-%d"),
        "results": results,
        "gauge_over_anchor": round(gauge / anchor_, 2) if anchor_ else None,
        "ftui_over_anchor": (
            round(results["ftui"]["percent_of_one_core"] / anchor_, 2)
            if "ftui" in results and anchor_
            else None
        ),
        "gauge_minus_bare_percent": round(gauge - bare, 3),
        "budget_percent": 2.0,
        "within_budget": gauge <= 2.0,
        "screen_changed": first_screen != last_screen,  # the gauge was live, not frozen
        "last_screen": last_screen if Terminal.kind == "tmux" else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", nargs="?", choices=["measure", "anchor"], default="measure")
    parser.add_argument("--source", choices=["fake", "real"], default="fake")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--gpus", type=int, default=2, help="GPUs of the stand-in NVML")
    parser.add_argument("--terminal", choices=["auto", "tmux", "pty"], default="auto")
    parser.add_argument("--out", type=Path, help="also write the result as JSON here")
    args = parser.parse_args()
    if args.mode == "anchor":
        anchor(args.source, args.gpus)
        return
    result = measure(args.source, args.seconds, args.gpus, args.terminal)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "last_screen"}, indent=2))
    if result["last_screen"]:
        print(result["last_screen"])


if __name__ == "__main__":
    main()
