"""What the runs step does with the highlighted run besides watching and comparing it:
  x  export it: the export sheet (ftui.screens.export_sheet), which follows the export live
  t  try it: the try step (ftui.screens.try_step) with this run, through the app
  v  put its base model beside it: the base model's held-out loss and its answers to the run's held-out
     prompts, computed by the eval process (as `ftui eval`), kept in RUN/base_eval.json and shown in the
     generation table and above it (`base_columns`, `loss_lines`)

A mixin of the runs screen, in a module of its own so that the runs screen stays about listing and
comparing runs. It reads the highlighted run through the screen's `_highlighted_run()`, and selects a run
and refreshes the list through its `selected` and `refresh_runs()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from ftui.widgets.plain_text import one_line

EVAL_POLL_S = 1.0


def read_evaluation(run: Any) -> Any:
    """RUN/base_eval.json, when `v` (or `ftui eval`) computed it (ftui.core.base_eval.BaseEval)."""
    from ftui.core.base_eval import read_base_eval

    return read_base_eval(run.path)


def base_columns(rows: list[Any]) -> list[tuple[str, dict[Any, str]]]:
    """For the generation table: one column per base model of the rows that have its answers, labelled
    with it, mapping each held-out prompt (its line, else its text) to the base model's answer."""
    columns: dict[str, dict[Any, str]] = {}
    for row in rows:
        evaluation = getattr(row, "base", None)
        if evaluation is None or not evaluation.base_samples:
            continue
        label = f"base: {row.summary.model or Path(evaluation.base_model).name}"
        answers = columns.setdefault(one_line(label, 40), {})
        for answer in evaluation.base_samples:
            answers.setdefault(answer.line if answer.line is not None else answer.prompt, answer.output)
    return list(columns.items())


def loss_lines(rows: list[Any]) -> Text | None:
    """Held-out loss, base model against the run, for each row that has it."""
    text = Text()  # ends in a newline: the table starts on the next line
    for row in rows:
        evaluation = getattr(row, "base", None)
        if evaluation is None:
            continue
        if text.plain:
            text.append("\n")
        text.append(row.run.run_id, "bold")
        if evaluation.base_loss is None or evaluation.run_loss is None:
            text.append(": no held-out rows, so no held-out loss; base answers below.", "dim")
            continue
        gain = evaluation.base_loss - evaluation.run_loss
        text.append(f": held-out loss {evaluation.base_loss:.4f} base, {evaluation.run_loss:.4f} fine-tuned ")
        text.append(
            f"({'better' if gain > 0 else 'worse'} by {abs(gain):.4f})", "green" if gain > 0 else "red"
        )
        text.append(f" on {evaluation.rows} rows", "dim")
    return text if text.plain else None


@dataclass
class Evaluation:
    """An eval process this screen started, polled until it ends."""

    run_id: str
    run_path: Path
    process: Any  # subprocess.Popen


class RunActions(Screen):
    BINDINGS = [
        Binding("x", "export_run", "Export"),
        Binding("t", "try_run", "Try"),
        Binding("v", "versus_base", "Vs base"),
    ]

    @dataclass
    class TryRequested(Message):
        """`t` on a run: the app opens the try step with it (and forwards this message there)."""

        run_path: str

    def _action_target(self) -> Any:
        """The highlighted run (a RunDirectory), or None with a word on the screen."""
        run = self._highlighted_run()  # type: ignore[attr-defined]
        if run is None:
            self.notify("No run here yet: train one on step 6.", severity="warning")
        return run

    def action_export_run(self) -> None:
        from ftui.screens.export_sheet import ExportSheet

        run = self._action_target()
        if run is not None:
            self.app.push_screen(ExportSheet(run.path))

    def action_try_run(self) -> None:
        run = self._action_target()
        if run is not None:
            self.post_message(self.TryRequested(str(run.path)))

    # --- v: the base model beside the run ---------------------------------------------------------

    _evaluation: Evaluation | None = None

    def action_versus_base(self) -> None:
        run = self._action_target()
        if run is None:
            return
        if self._evaluation is not None:
            self.notify(
                f"Already evaluating {self._evaluation.run_id} against its base model; wait for it to finish.",
                severity="warning",
            )
            return
        self._start_evaluation(run.path, getattr(self.app, "nvml", None))

    @work(thread=True, exclusive=True, group="versus-base", exit_on_error=False)
    def _start_evaluation(self, run_path: Path, nvml: Any) -> None:
        from ftui.core.base_eval import LOG, check_evaluable, start_evaluation
        from ftui.core.chat import plan_chat
        from ftui.core.errors import UserError
        from ftui.core.exports import read_run

        try:
            run = read_run(str(run_path), purpose="evaluate")
            check_evaluable(run)
            plan = plan_chat(run, with_base=True, tokens=run.seq, nvml=nvml)
            process = start_evaluation(run, plan.base_dir, plan.device, detach=True)
        except UserError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error", timeout=10)
            return
        except OSError as error:
            sentence = (
                f"The eval process could not start ({error.strerror or error}); check the run's Python."
            )
            self.app.call_from_thread(self.notify, sentence, severity="error", timeout=10)
            return
        where = f"on the {plan.device}; its log is {run.path / LOG}"
        self.app.call_from_thread(self._evaluation_started, Evaluation(run.run_id, run.path, process), where)

    def _evaluation_started(self, evaluation: Evaluation, where: str) -> None:
        self._evaluation = evaluation
        self.notify(
            f"Evaluating {evaluation.run_id} against its base model in its own process ({where}); the "
            "generation table shows the base model's answers when it is done.",
            timeout=10,
        )
        self.set_timer(EVAL_POLL_S, self._poll_evaluation)

    def _poll_evaluation(self) -> None:
        """One look a second at our eval process (never a thread blocked on it: quitting ftui leaves it to
        finish, and it writes its result itself)."""
        evaluation = self._evaluation
        if evaluation is None:
            return
        code = evaluation.process.poll()
        if code is None:
            self.set_timer(EVAL_POLL_S, self._poll_evaluation)
            return
        self._evaluation = None
        self._evaluation_ended(evaluation, code)

    @work(thread=True, group="versus-base-read", exit_on_error=False)
    def _evaluation_ended(self, evaluation: Evaluation, code: int) -> None:
        from ftui.core.base_eval import LOG, read_base_eval

        result = read_base_eval(evaluation.run_path) if code == 0 else None
        self.app.call_from_thread(self._show_evaluation, evaluation, result, str(evaluation.run_path / LOG))

    def _show_evaluation(self, evaluation: Evaluation, result: Any, log: str) -> None:
        if result is None:
            self.notify(
                f"Evaluating {evaluation.run_id} against its base model failed; see {log}.",
                severity="error",
                timeout=10,
            )
            return
        if result.base_loss is not None and result.run_loss is not None:
            words = f"held-out loss {result.base_loss:.4f} base, {result.run_loss:.4f} fine-tuned"
        else:
            words = "no held-out rows for a loss"
        self.notify(
            f"{evaluation.run_id} beside its base model: {words}; the base model's answers are below."
        )
        self.selected.add(evaluation.run_id)  # type: ignore[attr-defined]
        self.refresh_runs()  # type: ignore[attr-defined]
