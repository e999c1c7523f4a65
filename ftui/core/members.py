"""The machines and processes of a run on several: their entries in status.json (RunStatus.nodes, .ranks).

Each writes its own entry, under the status lock, so that any ftui on any machine that sees the run folder
can tell who joined, who is where, and who failed. Plain Python and msgspec only: the training processes
and their launcher write through this module.
"""

from __future__ import annotations

import msgspec

from ftui.core.runs.directory import RunDirectory
from ftui.core.runs.records import NodeStatus, RankStatus, RunStatus


def _upsert(entries: list, key: str, value: int, make, changes: dict[str, object]) -> list:
    found = False
    result = []
    for entry in entries:
        if getattr(entry, key) == value:
            entry = msgspec.structs.replace(entry, **changes)
            found = True
        result.append(entry)
    if not found:
        result.append(make(**{key: value, **changes}))
    return sorted(result, key=lambda e: getattr(e, key))


def record_node(run: RunDirectory, node: int, **changes: object) -> RunStatus:
    """Create or update machine `node`'s entry."""
    with run.locked():
        status = run.read_status()
        nodes = _upsert(status.nodes, "node", node, NodeStatus, changes)
        return run.update_status_locked(nodes=nodes)


def record_rank(run: RunDirectory, rank: int, **changes: object) -> RunStatus:
    """Create or update training process `rank`'s entry."""
    with run.locked():
        status = run.read_status()
        ranks = _upsert(status.ranks, "rank", rank, RankStatus, changes)
        return run.update_status_locked(ranks=ranks)


def reset_members(run: RunDirectory) -> None:
    """A new attempt (start or resume): the machines and ranks of the last one are history."""
    run.update_status(nodes=[], ranks=[], failed_rank=None)
