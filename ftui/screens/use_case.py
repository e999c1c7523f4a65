"""Step 1: what the fine-tune is for, and whether the result will be used commercially."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Checkbox, RadioButton, RadioSet, Static

from ftui.core.plan import USE_CASES
from ftui.screens.base import StepScreen

# What each use case means to someone choosing a base model; shown as one line per choice.
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "general": ("General text", "chat, writing, summaries, extraction, labels"),
    "code": ("Code", "completing, writing and explaining source code"),
    "vision": ("Images", "questions on images, captions, documents (vision)"),
    "reasoning": ("Reasoning", "step-by-step answers: maths, logic, planning"),
}


class UseCaseScreen(StepScreen):
    STEP = "use_case"
    AUTO_FOCUS = "#use-case"
    BINDINGS = [Binding("c", "toggle_commercial", "Commercial use")]

    def compose_step(self) -> ComposeResult:
        with VerticalScroll(id="body"):
            yield Static("What will the fine-tuned model do?", classes="question")
            with RadioSet(id="use-case"):
                for name in USE_CASES:
                    title, line = DESCRIPTIONS[name]
                    yield RadioButton(f"{title}: {line}", value=name == self.plan.use_case, name=name)
            yield Static("Will the result be used commercially (in a product, or sold)?", classes="question")
            yield Checkbox("Yes, it needs a license that allows commercial use", id="commercial")
            yield Static(
                "Arrows move, Enter or Space selects, Tab goes to the next question, n to the next step.",
                classes="hint",
            )

    def show_plan(self) -> None:
        for button in self.query(RadioButton):
            button.value = button.name == self.plan.use_case
        self.query_one("#commercial", Checkbox).value = self.plan.needs_commercial_use

    @on(RadioSet.Changed, "#use-case")
    def _use_case_chosen(self, event: RadioSet.Changed) -> None:
        if event.pressed.name:
            self.plan.use_case = event.pressed.name

    @on(Checkbox.Changed, "#commercial")
    def _commercial_changed(self, event: Checkbox.Changed) -> None:
        self.plan.needs_commercial_use = event.value  # the advice tightens the license policy from it

    def action_toggle_commercial(self) -> None:
        self.query_one("#commercial", Checkbox).toggle()
