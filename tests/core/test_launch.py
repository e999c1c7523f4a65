"""How runs of several processes and machines start: torchrun's flags, the sharding, the verdicts, sbatch."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys

import pytest

from ftui.core import launch
from ftui.core.errors import UsageError, UserError
from ftui.core.run_config import RunConfig
from ftui.core.runs import create_run
from ftui.core.runs.records import NodeStatus, RankStatus, RunStatus
from ftui.core.slurm import sbatch_script


def config_with(**settings: object) -> RunConfig:
    config = RunConfig(model="Qwen/Qwen2.5-32B-Instruct", data="/d.jsonl")
    config.settings = dataclasses.replace(config.settings, **settings)
    return config


def test_one_machine_is_torchrun_standalone_and_several_meet_at_a_bounded_rendezvous(runs_dir):
    run = create_run(config_with(gpus=(0, 1)), runs_dir)
    one = launch.node_command(run.config(), run)
    assert one[one.index("--") + 1 :] == ["--standalone", "--nproc-per-node=2", "--max-restarts=0"]
    config = config_with(gpus=(0, 1), nodes=3, rdzv_endpoint="head:1234", join_timeout_s=45)
    flags = launch.torchrun_flags(config.settings, run.run_id)
    assert flags == [
        "--nnodes=3",
        "--nproc-per-node=2",
        "--rdzv-backend=c10d",
        "--rdzv-endpoint=head:1234",
        f"--rdzv-id={run.run_id}",
        "--rdzv-conf=join_timeout=45",
        "--max-restarts=0",
    ]
    joined = launch.node_command(
        config, run, node=2, resume=True, log="train-node2.log", endpoint="head:1234"
    )
    assert joined[:7] == [
        config.python or sys.executable,
        "-m",
        "ftui.trainer.launch",
        str(run.path),
        "--node=2",
        "--resume",
        "--log=train-node2.log",
    ]
    # Without --rdzv-endpoint the machines meet at the one that made the run, on a port of the run's own.
    default = launch.torchrun_flags(config_with(nodes=2).settings, run.run_id)
    port = launch.default_port(run.run_id)
    assert f"--rdzv-endpoint={os.uname().nodename}:{port}" in default
    assert launch.DEFAULT_RDZV_PORT <= port < launch.DEFAULT_RDZV_PORT + launch.PORT_SPREAD
    assert launch.join_command(run, 1) == f"ftui train --join {run.path} --node 1"


def test_one_process_is_the_trainer_itself(runs_dir):
    run = create_run(config_with(), runs_dir)
    assert launch.node_command(run.config(), run)[1:] == ["-m", "ftui.trainer", str(run.path)]
    assert launch.plan_launch(run.config()).sharding is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"sharding": "zero3"}, "sharding 'zero3' is not one of auto, ddp, fsdp"),
        ({"nodes": 0}, "nodes must be at least 1"),
        ({"rdzv_endpoint": "head:port"}, "is not HOST:PORT"),
        ({"join_timeout_s": 0}, "join_timeout_s must be at least 1 second"),
        ({"slurm_options": ("partition=gpu",)}, "is not an sbatch option"),
    ],
)
def test_launch_settings_are_checked_with_one_sentence(value, message):
    with pytest.raises(UsageError, match=message):
        config_with(**value).validate()


def test_sharding_is_asked_for_or_decided_by_the_estimate_against_the_gpus():
    asked = launch.plan_launch(config_with(gpus=(0, 1), sharding="fsdp"))
    assert asked.sharding == "fsdp" and "as asked" in asked.reason
    fits = launch.plan_launch(config_with(gpus=(0, 1)), vram_gib=80.0, card="H100")
    assert fits.sharding == "ddp" and "fits" in fits.reason
    big = launch.plan_launch(config_with(gpus=(0, 1), batch=4, seq=4096), vram_gib=23.99, card="RTX 4090")
    assert big.sharding == "fsdp" and "Sharded over 2 GPUs" in big.reason
    unknown = launch.plan_launch(RunConfig(model="someone/unknown-model", data="d", settings=big_settings()))
    assert unknown.sharding == "ddp" and "no dims" in unknown.reason


def big_settings():  # type: ignore[no-untyped-def]
    return config_with(gpus=(0, 1)).settings


def test_the_environment_makes_unsloth_shard_everything_and_checkpoint_shard_by_shard():
    qlora = launch.sharding_environment("fsdp", "qlora")
    assert qlora == {"UNSLOTH_FSDP2": "1", "UNSLOTH_FSDP2_LAYOUT": "sharded", "UNSLOTH_FSDP2_DCP_OPTIM": "1"}
    assert launch.sharding_environment("fsdp", "lora")["UNSLOTH_FSDP2_SHARDED_LOAD"] == "1"
    assert launch.sharding_environment("ddp", "lora") == {}
    env = launch.node_environment(config_with(gpus=(2, 3), sharding="fsdp"), base={})
    assert env["CUDA_VISIBLE_DEVICES"] == "2,3" and env["FTUI_SHARDING"] == "fsdp"


def status_with(ranks: list[RankStatus], **fields: object) -> RunStatus:
    return RunStatus(run_id="r", state="running", ranks=ranks, node_count=2, **fields)


def test_the_rank_that_died_is_named_not_the_ones_that_lost_it():
    ranks = [
        RankStatus(
            rank=0,
            host="a",
            node=0,
            state="failed",
            exit_code=1,
            error="lost it",
            collective=True,
            failed_at=5,
        ),
        RankStatus(rank=1, host="a", node=0, state="failed", exit_code=-15, signal="SIGTERM", failed_at=6),
        RankStatus(
            rank=3, host="b", node=1, pid=77, state="failed", exit_code=-9, signal="SIGKILL", failed_at=9
        ),
    ]
    rank, sentence = launch.rank_failure_sentence(status_with(ranks), resume_hint=" Resume it.", step=12)
    assert rank == 3
    assert sentence.startswith("Training failed: rank 3 on b (node 1), pid 77 was killed (SIGKILL")
    assert "at step 12" in sentence and sentence.endswith(" Resume it.")
    own = [
        *ranks[:2],
        RankStatus(rank=2, host="b", state="oom", error="CUDA ran out of memory at micro-batch 4."),
    ]
    rank, sentence = launch.rank_failure_sentence(status_with(own))
    assert rank == 2 and "CUDA ran out of memory at micro-batch 4" in sentence
    assert launch.rank_failure_sentence(status_with([])) == (None, None)


def test_a_node_that_never_joined_is_named_with_the_command_that_starts_it(runs_dir):
    run = create_run(config_with(nodes=3), runs_dir)
    status = RunStatus(
        run_id=run.run_id, node_count=3, nodes=[NodeStatus(node=0, host="head", state="waiting")]
    )
    sentence = launch.never_joined_sentence(status, "head:29400", 60, run)
    assert sentence.startswith("Node 1 and node 2 never joined the rendezvous at head:29400 within 60 s")
    assert "node 0 on head did" in sentence and f"`ftui train --join {run.path} --node 2`" in sentence


def test_joining_a_run_on_one_machine_or_a_finished_one_is_refused(runs_dir):
    one = create_run(config_with(), runs_dir)
    with pytest.raises(UserError, match="runs on one machine"):
        launch.join(one, 1)
    two = create_run(config_with(nodes=2), runs_dir)
    with pytest.raises(UsageError, match="--node must be 1 to 1"):
        launch.join(two, 2)
    two.update_status(state="completed")
    with pytest.raises(UserError, match="is completed; there is nothing to join"):
        launch.join(two, 1)


def test_the_sbatch_file_starts_torchrun_on_each_node_with_the_runs_environment(runs_dir):
    config = config_with(gpus=(0, 1, 2, 3), nodes=2, sharding="fsdp", slurm_options=("--partition=gpu",))
    run = create_run(config, runs_dir)
    text = sbatch_script(config, run)
    assert "#SBATCH --nodes=2\n" in text and "#SBATCH --ntasks-per-node=1\n" in text
    assert "#SBATCH --gpus-per-node=4\n" in text and "#SBATCH --partition=gpu\n" in text
    assert f"#SBATCH --output={run.path}/slurm-%j.out" in text and f"#SBATCH --chdir={run.path}" in text
    assert "export UNSLOTH_FSDP2=1\n" in text and "export FTUI_SHARDING=fsdp\n" in text
    assert "CUDA_VISIBLE_DEVICES" not in text  # Slurm hands each node its GPUs
    assert "HF_TOKEN" not in text
    assert "srun --kill-on-bad-exit=1 bash -c" in text and "-m ftui.trainer.launch" in text
    assert "--nnodes=2" in text and '--rdzv-endpoint="$endpoint"' in text
    assert 'scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1' in text
    if shutil.which("bash"):  # the script is valid shell
        subprocess.run(["bash", "-n"], input=text, text=True, check=True)
    # The user's own layout wins over ftui's defaults (one machine with two tasks, as the tests run).
    mine = sbatch_script(config_with(nodes=2, slurm_options=("--nodes=1", "--ntasks-per-node=2")), run)
    assert "#SBATCH --nodes=2" not in mine and "#SBATCH --ntasks-per-node=1" not in mine


def test_train_with_slurm_where_there_is_no_sbatch_says_so(tmp_path, runs_dir):
    model = "Qwen/Qwen2.5-0.5B-Instruct"
    data = tmp_path / "d.jsonl"
    data.write_text('{"instruction": "a", "output": "b"}\n')
    bin_dir = os.path.dirname(sys.executable)
    result = subprocess.run(
        [sys.executable, "-m", "ftui", "train", "--model", model, "--data", str(data), "--slurm"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": bin_dir},
    )
    assert result.returncode == 1
    assert "Slurm's sbatch is not on this machine's PATH" in result.stderr
    assert not runs_dir.exists() or not any(runs_dir.iterdir())  # nothing made


def test_a_machine_that_is_already_in_the_run_cannot_join_twice(runs_dir):
    from ftui.core.members import record_node

    run = create_run(config_with(nodes=2), runs_dir)
    run.update_status(state="running", command=["python", "--rdzv-endpoint=head:29400"])
    record_node(run, 1, host=os.uname().nodename, pid=os.getpid(), state="running")
    with pytest.raises(UserError, match=f"Node 1 of run {run.run_id} is already running on"):
        launch.join(run, 1)
