"""The run view under a flood of log lines, in a real terminal (tmux, 120x40), beside a naive peer.

1. 20,000 lines per second for --seconds (10): benchmarks/tui_run_writer.py appends them to a run's
   train.log (dict lines, tqdm redraws with \\r, colour codes) while the view tails it. Two views, one
   after the other, on the same load:
     runview  ftui's RunView: a worker reads and cleans the new bytes, the LogView flushes every 0.1 s
     naive    a plain Textual Log fed one write_line per line from the same tail (the peer)
   Each reports its event loop's lag (a callback due every 20 ms: how late it fires is how long a key
   press would wait), how many lines it received, and how long after the writer's last line it showed it.
2. A million lines at 50,000 lines/s (20 s), tailed by the RunView: its resident memory at the start and
   at its largest (bounded: the LogView keeps max_lines, its buffer the same, the chart halves its points).

Targets (issue 7): keeps up with 20,000 lines/s without stalling (lag p99 well under 100 ms, the last
line shown within a second); memory bounded on a million lines.

    python benchmarks/tui_log_throughput.py [--seconds 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.tmux_terminal import TmuxTerminal  # noqa: E402

PYTHON = sys.executable


def run_case(term: TmuxTerminal, mode: str, work: Path, writer_args: list[str], timeout: float) -> dict:
    runs = work / mode / "runs"
    run_dir = runs / "run"
    out = work / f"{mode}.json"
    writer = subprocess.Popen(
        [
            PYTHON,
            str(ROOT / "benchmarks/tui_run_writer.py"),
            str(runs),
            "run",
            "--start-delay",
            "1.5",
            *writer_args,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    while not (run_dir / "status.json").exists():
        time.sleep(0.01)
    term.start(
        f"{PYTHON} {ROOT / 'benchmarks/tui_harness.py'} {mode} {run_dir} {out} --timeout {timeout}",
        cwd=str(ROOT),
    )
    stdout, _ = writer.communicate(timeout=timeout + 60)
    written = json.loads(stdout)
    writer_done = (run_dir / "train.log").stat().st_mtime
    deadline = time.monotonic() + timeout + 30
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if not out.exists():
        raise RuntimeError(f"{mode} wrote no results; its screen:\n{term.screen()}")
    time.sleep(0.2)
    result = json.loads(out.read_text())
    term.kill_session()
    result["written_lines"] = written["lines"]
    result["writer_seconds"] = written["seconds"]
    result["caught_up_s"] = round(result["ended_at"] - writer_done, 3) if result.get("ended_at") else None
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--million", type=int, default=1_000_000)
    parser.add_argument("--million-rate", type=int, default=50_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict = {
        "machine": f"{platform.node()}, {platform.machine()}, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
    }
    with tempfile.TemporaryDirectory(prefix="ftui-tui-bench-") as tmp, TmuxTerminal(120, 40) as term:
        work = Path(tmp)
        flood = ["--rate", "20000", "--seconds", str(args.seconds)]
        results["runview"] = run_case(term, "runview", work, flood, timeout=args.seconds + 60)
        results["naive"] = run_case(term, "naive", work, flood, timeout=args.seconds + 60)
        results["million"] = run_case(
            term,
            "runview",
            work / "million",
            ["--rate", str(args.million_rate), "--total", str(args.million)],
            timeout=180,
        )
    ours, peer = results["runview"], results["naive"]
    results["lag_p99_ratio_naive_over_runview"] = round(
        peer["lag_ms"]["p99"] / max(ours["lag_ms"]["p99"], 0.1), 1
    )
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for name in ("runview", "naive", "million"):
            r = results[name]
            print(
                f"{name:8} lines {r['written_lines']:>9,}  lag p50 {r['lag_ms']['p50']:6.1f} ms  p99 "
                f"{r['lag_ms']['p99']:7.1f} ms  max {r['lag_ms']['max']:7.1f} ms  caught up "
                f"{r['caught_up_s'] if r['caught_up_s'] is not None else 'never'} s  RSS {r['rss_mb']['first']} -> "
                f"{r['rss_mb']['max']} MB  received {r['lines_received']:,}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
