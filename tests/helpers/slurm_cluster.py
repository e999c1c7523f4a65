"""A real one-host Slurm for the tests: munged, slurmctld and slurmd from Debian's packages (`apt-get
install slurm-wlm munge`), each with its own configuration, key, ports, sockets and state in a temporary
folder, so that it touches nothing of the machine's own Slurm, if it has one.

One node (this host, under its short name) with room for two tasks: a job of two tasks on it is two
"machines" to torchrun. The daemons run as root (slurmd starts jobs as their user); where the programs
are missing or this is not root, `start_cluster` says why and the tests skip with that reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "scontrol", "scancel", "sinfo", "squeue")


@dataclass
class SlurmCluster:
    root: Path
    conf: Path
    pid_files: list[Path] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def jobs(self) -> list[str]:
        env = {**os.environ, **self.env}
        out = subprocess.run(
            ["squeue", "-h", "-o", "%i"], capture_output=True, text=True, env=env, timeout=10
        )
        return out.stdout.split() if out.returncode == 0 else []

    def stop(self) -> None:
        """Cancel this cluster's jobs and wait for them to go (slurmd must see its steps end, or their
        srun waits forever), then end the daemons it started, each by the pid it wrote (never by name)."""
        env = {**os.environ, **self.env}
        jobs = self.jobs()
        if jobs:
            subprocess.run(["scancel", *jobs], capture_output=True, env=env, timeout=10)
            deadline = time.monotonic() + 60
            while self.jobs() and time.monotonic() < deadline:
                time.sleep(0.5)
        for pid_file in reversed(self.pid_files):
            try:
                pid = int(pid_file.read_text().strip())
            except (OSError, ValueError):
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)


def why_not() -> str | None:
    missing = [p for p in PROGRAMS if shutil.which(p) is None and not Path("/usr/sbin", p).exists()]
    if missing:
        return (
            f"Slurm is not installed ({', '.join(missing)} missing): `apt-get install -y slurm-wlm munge` "
            "(.ci/run does)"
        )
    if os.geteuid() != 0:
        return "a private slurmd must run as root to start jobs"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _program(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise RuntimeError(f"the test Slurm did not come up: {what}")


def start_cluster(root: Path, *, cpus: int = 4) -> SlurmCluster:
    """Start munged, slurmctld and slurmd under `root`; return once the node is idle. Raises RuntimeError
    with the daemons' own words when one does not start."""
    root.mkdir(parents=True, exist_ok=True)
    key_dir, sock_dir = root / "munge-key", root / "munge"
    key_dir.mkdir(mode=0o700)
    sock_dir.mkdir(mode=0o755)
    (root / "state").mkdir()
    (root / "spool").mkdir()
    key = key_dir / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    socket_path = sock_dir / "munge.sock"
    cluster = SlurmCluster(root=root, conf=root / "slurm.conf")
    munge_pid = sock_dir / "munged.pid"
    done = subprocess.run(
        [
            _program("munged"),
            f"--socket={socket_path}",
            f"--key-file={key}",
            f"--log-file={sock_dir / 'munged.log'}",
            f"--pid-file={munge_pid}",
            f"--seed-file={sock_dir / 'seed'}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if done.returncode != 0:
        raise RuntimeError(f"munged did not start: {done.stderr.strip() or done.stdout.strip()}")
    cluster.pid_files.append(munge_pid)
    host = socket.gethostname().split(".")[0]
    cluster.conf.write_text(
        "\n".join(
            [
                "ClusterName=ftuitest",
                f"SlurmctldHost={host}(127.0.0.1)",
                "AuthType=auth/munge",
                f"AuthInfo=socket={socket_path}",
                "CredType=cred/munge",
                "SlurmUser=root",
                "SlurmdUser=root",
                f"SlurmctldPort={_free_port()}",
                f"SlurmdPort={_free_port()}",
                f"StateSaveLocation={root / 'state'}",
                f"SlurmdSpoolDir={root / 'spool'}",
                f"SlurmctldPidFile={root / 'slurmctld.pid'}",
                f"SlurmdPidFile={root / 'slurmd.pid'}",
                f"SlurmctldLogFile={root / 'slurmctld.log'}",
                f"SlurmdLogFile={root / 'slurmd.log'}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SwitchType=switch/none",
                "MpiDefault=none",
                "ReturnToService=2",
                "SchedulerType=sched/builtin",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_CPU",
                "JobAcctGatherType=jobacct_gather/none",
                "AccountingStorageType=accounting_storage/none",
                "MinJobAge=3600",  # the job's state stays queryable (scontrol) for the test's life
                "SlurmdParameters=config_overrides",  # room for two tasks whatever this machine's cores
                f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN",
                "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        )
    )
    env = {**os.environ, **cluster.env}
    for daemon, pid_file, log in (
        ("slurmctld", root / "slurmctld.pid", root / "slurmctld.log"),
        ("slurmd", root / "slurmd.pid", root / "slurmd.log"),
    ):
        flags = ["-i"] if daemon == "slurmctld" else []
        done = subprocess.run([_program(daemon), *flags], capture_output=True, text=True, timeout=30, env=env)
        cluster.pid_files.append(pid_file)
        if done.returncode != 0:
            cluster.stop()
            said = done.stderr.strip() or (log.read_text()[-500:] if log.exists() else "")
            raise RuntimeError(f"{daemon} did not start: {said}")

    def idle() -> bool:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=env, timeout=10)
        return out.returncode == 0 and out.stdout.strip() == "idle"

    try:
        _wait(idle, 60, f"the node never became idle ({(root / 'slurmctld.log').read_text()[-300:]})")
    except RuntimeError:
        cluster.stop()
        raise
    return cluster
