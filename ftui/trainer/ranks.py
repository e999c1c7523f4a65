"""This training process among several: who it is (torchrun's environment), its entry in status.json, and
what its failure means for the others.

No torch import at module level: the trainer imports this before unsloth.
"""

from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass

from ftui.core.members import record_rank
from ftui.core.runs.directory import RunDirectory


@dataclass(frozen=True)
class Rank:
    rank: int
    world: int
    local_rank: int
    node: int  # ftui's machine number (FTUI_NODE, set by ftui.trainer.launch)

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def this_rank() -> Rank:
    rank = int(os.environ.get("RANK", "0"))
    return Rank(
        rank=rank,
        world=int(os.environ.get("WORLD_SIZE", "1")),
        local_rank=int(os.environ.get("LOCAL_RANK", rank)),
        node=int(os.environ.get("FTUI_NODE", "0")),
    )


def register(run: RunDirectory, me: Rank) -> None:
    """This process's entry, written before anything slow: a rank that dies while importing is named."""
    if me.distributed:
        record_rank(
            run,
            me.rank,
            node=me.node,
            local_rank=me.local_rank,
            host=socket.gethostname(),
            pid=os.getpid(),
            state="starting",
            error=None,
            exit_code=None,
            signal=None,
            collective=False,
            failed_at=None,
        )


def update(run: RunDirectory, me: Rank, **changes: object) -> None:
    if me.distributed:
        record_rank(run, me.rank, **changes)


# A collective that failed because another rank or machine went away: torch's distributed errors, gloo's
# and NCCL's words for a peer that is gone. These are not user input: they are how the libraries report a
# peer's death, and only decide which sentence the run gets.
_COLLECTIVE_NAMES = {"DistBackendError", "DistNetworkError", "DistStoreError"}
_COLLECTIVE_WORDS = re.compile(
    r"Connection closed by peer|Connection reset by peer|Broken pipe|NCCL (error|communicator)|"
    r"ProcessGroup(Gloo|NCCL)|gloo/transport|Watchdog caught collective|Socket Timeout|"
    r"TCPStore|store->get|failed to recv|failed to send",
    re.I,
)


def is_collective_error(error: BaseException) -> bool:
    from ftui.core.errors import UserError

    if isinstance(error, UserError):  # ftui's own sentence (the launch check's among them) says it all
        return False
    current: BaseException | None = error
    for _ in range(8):
        if current is None:
            return False
        names = {cls.__name__ for cls in type(current).__mro__}
        if names & _COLLECTIVE_NAMES or _COLLECTIVE_WORDS.search(str(current)):
            return True
        current = current.__cause__ or current.__context__
    return False


def collective_sentence(me: Rank, error: BaseException, step: int | None) -> str:
    """Rank `me` lost the others: say so, and where to look for the one that went first."""
    text = " ".join(str(error).split())[:160].rstrip(".")
    at = f" at step {step}" if step else ""
    return (
        f"Rank {me.rank}'s collective failed{at} because another training process went away ({text}); "
        "the rank that failed first is named in status.json, and each machine's log (train.log, "
        "train-node<K>.log) says why."
    )


def failed(run: RunDirectory, me: Rank, *, state: str, sentence: str, error: BaseException | None) -> None:
    """Record this rank's failure for the launcher's verdict (ftui.core.launch.rank_failure_sentence)."""
    update(
        run,
        me,
        state="oom" if state == "oom" else "failed",
        error=sentence,
        collective=error is not None and is_collective_error(error),
        failed_at=time.time(),
    )
