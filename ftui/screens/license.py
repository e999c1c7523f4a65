"""Step 3: the license policy, the licenses of the remaining candidates with their conditions, and what
the filter removed and why. The advice decides; this screen shows it."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import RadioButton, RadioSet, Static

from ftui.core.advice import CLASS_WORDS, Advice
from ftui.core.plan import LICENSE_POLICIES
from ftui.screens.base import StepScreen

POLICY_WORDS: dict[str, str] = {
    "any": "Any license: every model stays, each with its conditions",
    "commercial": "Commercial use: drop non-commercial and unverified licenses",
    "permissive": "Permissive only: Apache 2.0, MIT; no use policies or user caps",
}
COMMERCIAL_WORDS = {
    "yes": "commercial use allowed",
    "yes_with_conditions": "commercial use with conditions",
    "no": "no commercial use",
    "unknown": "commercial use not verified",
}


def hanging(rows: list[tuple[str, Text | str]]) -> Table:
    """Lines with a marker column, wrapped under their own text rather than under the marker."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    for marker, line in rows:
        grid.add_row(marker, line)
    return grid


def licenses_view(advice: Advice) -> RenderableType:
    """Each license of the shortlist once: its class, what it allows, each condition on a line, its models."""
    from ftui.core.catalog import load_catalog

    catalog = load_catalog()
    seen: dict[str, list[str]] = {}
    for candidate in advice.candidates:
        seen.setdefault(candidate.model.license, []).append(candidate.model.name)
    if not seen:
        return Text("No candidate is left; relax the policy, or go back a step.", "yellow")
    parts: list[RenderableType] = []
    for license_id, models in seen.items():
        lic = catalog.license(license_id)
        if lic is None:
            parts.append(Text(f"{license_id}: not in ftui's license list; read the model card.", "yellow"))
            continue
        title = Text(lic.name, "bold")
        title.append(
            f"  {CLASS_WORDS.get(lic.license_class, lic.license_class)}, "
            f"{COMMERCIAL_WORDS.get(lic.commercial_use, lic.commercial_use)}",
            "dim",
        )
        parts.append(title)
        rows: list[tuple[str, Text | str]] = [(" ", lic.summary)]
        rows += [(" •", clause.text) for clause in lic.clauses]
        rows.append((" ", Text(f"Models: {', '.join(models)}", "dim")))
        parts.append(hanging(rows))
    return Group(*parts)


def removed_view(advice: Advice) -> RenderableType:
    removed = [d for d in advice.dropped if d.category == "license"]
    if not removed:
        return Text("The policy removed no model.", "dim")
    return hanging([("•", Text.assemble((d.hf_id, "bold"), f": {d.reason}")) for d in removed])


class LicenseScreen(StepScreen):
    STEP = "license"
    AUTO_FOCUS = "#policy"

    def compose_step(self) -> ComposeResult:
        with VerticalScroll(id="body"):
            yield Static("Which licenses may the model have?", classes="question")
            with RadioSet(id="policy"):
                for policy in LICENSE_POLICIES:
                    yield RadioButton(
                        POLICY_WORDS[policy], value=policy == self.plan.license_policy, name=policy
                    )
            yield Static(id="policy-note", classes="hint")
            yield Static("Licenses of the candidates", classes="section")
            yield Static(id="licenses")
            yield Static("Removed by the license policy", classes="section")
            yield Static(id="removed")

    def show_plan(self) -> None:
        for button in self.query(RadioButton):
            button.value = button.name == self.plan.license_policy
        note = ""
        if self.plan.needs_commercial_use and self.plan.license_policy == "any":
            note = (
                'You said the result needs commercial use (step 1), so "any" keeps commercial licenses only.'
            )
        self.query_one("#policy-note", Static).update(note)
        self.query_one("#policy-note", Static).display = bool(note)
        self.refresh_advice()

    def on_advice_ready(self, advice: Advice) -> None:
        self.query_one("#licenses", Static).update(licenses_view(advice))
        self.query_one("#removed", Static).update(removed_view(advice))

    @on(RadioSet.Changed, "#policy")
    def _policy_chosen(self, event: RadioSet.Changed) -> None:
        if event.pressed.name and event.pressed.name != self.plan.license_policy:
            self.plan.license_policy = event.pressed.name
            self.show_plan()
