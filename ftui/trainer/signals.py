"""The graceful stop: SIGINT / SIGTERM set a flag that the trainer reads at the end of each step.

Installed before the slow imports, so that a stop asked for while the model loads is not lost.
No transformers import here (unsloth must be imported before it).
"""

from __future__ import annotations

import signal
from typing import Any


class GracefulStop:
    def __init__(self) -> None:
        self.requested = False

    def install(self) -> GracefulStop:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.requested:
            print(
                f"[ftui] {name}: already stopping after this step; `ftui kill` ends the run at once.",
                flush=True,
            )
            return
        self.requested = True
        print(
            f"[ftui] {name}: stopping after this step, with a checkpoint and the adapter saved.", flush=True
        )
