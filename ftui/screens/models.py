"""Step 5: the models. The advice's ranked shortlist with what fits here, a name decoder, a local model
folder as a choice of its own, and the details of the highlighted model (dims, context, license, whether
it is already in the local HF cache)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Label, Static

from ftui.core.advice import Advice
from ftui.core.fit import METHOD_WORDS
from ftui.screens.base import StepScreen
from ftui.screens.license import hanging
from ftui.widgets.model_table import ModelTable
from ftui.widgets.path_input import PathInput
from ftui.widgets.plain_text import one_line, plain
from ftui.widgets.text_field import TextField


def dims_line(dims) -> str:
    line = (
        f"{dims.layers} layers, hidden {dims.hidden}, {dims.heads} heads ({dims.kv_heads} for keys/values), "
        f"vocabulary {dims.vocab:,}"
    )
    if dims.is_moe:
        line += f", {dims.experts} experts ({dims.experts_per_token} per token)"
    return line


def cache_words(*repos: str) -> str:
    from ftui.core.hub import cached_config_path

    for repo in repos:
        found = cached_config_path(repo)
        if found is not None:
            return f"yes: {repo} is in the local HF cache"
    return "no: training downloads it first"


def candidate_details(candidate) -> RenderableType:
    """Everything about one shortlisted model, from the catalog, the decoder and the local cache."""
    from ftui.core.catalog import load_catalog
    from ftui.core.names import decode

    model = candidate.model
    lic = load_catalog().license(model.license)
    decoded = decode(candidate.recommended_repo)
    context = f"{model.context:,} tokens" if model.context else "not verified"
    rows: list[tuple[str, Text | str]] = [
        (
            "Load",
            Text.assemble((candidate.recommended_repo, "bold"), f" for {METHOD_WORDS[candidate.method]}"),
        ),
        ("Name", decoded.explanation),
        ("Dims", dims_line(model.dims)),
        ("Context", context),
        ("License", f"{lic.name}: {lic.summary}" if lic else model.license),
        ("Cached", cache_words(candidate.recommended_repo, model.hf_id)),
    ]
    rows += [("Why", reason) for reason in candidate.reasons]
    return hanging([(f"{label:<7}", text) for label, text in rows])


def decoded_details(name: str) -> RenderableType:
    """The decoder's reading of any name (a repo, a Hub URL, a local folder)."""
    from ftui.core.names import decode

    decoded = decode(name)
    rows: list[tuple[str, Text | str]] = [
        ("Name", plain(one_line(decoded.name))),
        ("Reads", decoded.explanation),
    ]
    if decoded.trainable is False:
        rows.append(
            (
                "!",
                Text(
                    "Unsloth cannot fine-tune these weights as they are; pick a 16-bit or bnb-4bit repo.",
                    "yellow",
                ),
            )
        )
    rows.append(
        (
            "Cached",
            cache_words(name) if decoded.local_path is None else f"a local folder: {decoded.local_path}",
        )
    )
    return hanging([(f"{label:<7}", text) for label, text in rows])


def dropped_view(advice: Advice) -> RenderableType:
    if not advice.dropped:
        return Text("Every catalog model is on the list.", "dim")
    return hanging(
        [
            ("•", Text.assemble((d.hf_id, "bold"), f" ({d.category.replace('_', ' ')}): {d.reason}"))
            for d in advice.dropped
        ]
    )


class ModelsScreen(StepScreen):
    STEP = "models"
    AUTO_FOCUS = "#candidates"
    BINDINGS = [
        Binding("d", "toggle_dropped", "Why not others"),
        Binding("slash", "decode", "Decode a name", key_display="/"),
        Binding("u", "use_decoded", "Use this name"),
        Binding("l", "local_model", "Local model"),
    ]

    def compose_step(self) -> ComposeResult:
        with Vertical(id="body"):
            yield Static(id="chosen", classes="plan-line")
            yield Static("Loading the shortlist…", id="advice-line", classes="hint")
            with Horizontal(id="models-panes"):
                yield ModelTable(id="candidates")
                with VerticalScroll(id="details"):
                    yield Static(id="detail")
            with Horizontal(id="decoder-row", classes="field-row"):
                yield Label("Decode", classes="field-label")
                yield TextField(placeholder="any name: org/model or a Hub URL; Enter reads it", id="decoder")
            with Horizontal(id="local-row", classes="field-row"):
                yield Label("Local model", classes="field-label")
                yield PathInput(
                    placeholder="a folder with config.json; Tab completes, Enter uses it",
                    id="local-model",
                )

    def on_mount(self) -> None:
        self.query_one("#decoder", Input).cursor_blink = False
        self.advice: Advice | None = None
        self.showing_dropped = False
        self.decoded_name: str | None = None

    def show_plan(self) -> None:
        self._show_chosen()
        self.refresh_advice()

    def _show_chosen(self) -> None:
        text = Text(end="")
        if self.plan.model:
            text.append("Chosen: ", "bold")
            text.append(one_line(self.plan.model), "bold")
            if self.plan.repo and self.plan.repo != self.plan.model:
                text.append(f" (loads {one_line(self.plan.repo)})")
            text.append(
                f", {METHOD_WORDS.get(self.plan.settings.method, self.plan.settings.method)}; n: train it."
            )
        else:
            text.append("Enter on a row chooses the model to train; / decodes any other name.", "dim")
        self.query_one("#chosen", Static).update(text)

    def on_advice_ready(self, advice: Advice) -> None:
        from ftui.core.catalog import load_catalog

        self.advice = advice
        classes = {lic.id: lic.license_class for lic in load_catalog().licenses}
        table = self.query_one(ModelTable)
        table.show_candidates(advice.candidates, classes, show_repo=self.size.width >= 160)
        if advice.gpu is None:
            gpu = "(no GPU chosen: sizes only)"
        elif advice.gpu.count > 1:
            gpu = f"on {advice.gpu.count} x {advice.gpu.name} ({advice.gpu.vram_gib:.0f} GiB each)"
        else:
            gpu = f"on the {advice.gpu.name} ({advice.gpu.vram_gib:.0f} GiB)"
        self.query_one("#advice-line", Static).update(
            Text(
                f"{len(advice.candidates)} candidates for {advice.use_case}, {advice.model_kind} models first, "
                f"fit {gpu}; {len(advice.dropped)} others left out (d says why).",
                "dim",
            )
        )
        self._show_details()

    @on(DataTable.RowHighlighted, "#candidates")
    def _row_highlighted(self) -> None:
        if not self.showing_dropped:
            self._show_details()

    @on(DataTable.RowSelected, "#candidates")
    def _row_selected(self) -> None:
        candidate = self.query_one(ModelTable).highlighted
        if candidate is None:
            return
        self.plan.model = candidate.model.hf_id
        self.plan.repo = candidate.recommended_repo
        self.plan.settings.method = candidate.method
        self._show_chosen()

    def _show_details(self) -> None:
        candidate = self.query_one(ModelTable).highlighted
        if candidate is not None:
            self._details(candidate)
        elif self.advice is not None and not self.advice.candidates:
            self.query_one("#detail", Static).update(Text(self.advice.reasons[-1], "yellow"))

    @work(thread=True, exclusive=True, group="details", exit_on_error=False)
    def _details(self, candidate) -> None:
        view = candidate_details(candidate)
        self.app.call_from_thread(self._show_candidate_view, candidate, view)

    def _show_candidate_view(self, candidate, view) -> None:
        # On the event loop: details that arrive after `d` (or after the cursor moved on) are stale.
        if self.showing_dropped or self.query_one(ModelTable).highlighted is not candidate:
            return
        self.query_one("#detail", Static).update(view)

    def action_toggle_dropped(self) -> None:
        self.showing_dropped = not self.showing_dropped
        if self.showing_dropped and self.advice is not None:
            self.query_one("#detail", Static).update(
                Group(Text("Left out, and why", "bold"), dropped_view(self.advice))
            )
        else:
            self._show_details()

    def action_decode(self) -> None:
        self.query_one("#decoder", Input).focus()

    @on(Input.Submitted, "#decoder")
    def _decode_submitted(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        if name:
            self._decode(name)

    @work(thread=True, exclusive=True, group="details", exit_on_error=False)
    def _decode(self, name: str) -> None:
        view = decoded_details(name)
        self.app.call_from_thread(self._decoded, name, view)

    def _decoded(self, name: str, view: RenderableType) -> None:
        self.decoded_name = name
        self.showing_dropped = False
        self.query_one("#detail", Static).update(view)
        self.query_one("#details").focus()  # out of the field: u uses the name, arrows read the details
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "use_decoded":
            return True if getattr(self, "decoded_name", None) else None  # dimmed until a name is read
        return True

    def action_use_decoded(self) -> None:
        from ftui.core.catalog import load_catalog

        if not self.decoded_name:
            return
        model = load_catalog().find(self.decoded_name)
        self.plan.model = model.hf_id if model else self.decoded_name
        self.plan.repo = model.repo_for(self.plan.settings.method) if model else None
        self.decoded_name = None
        self._show_chosen()
        self.refresh_bindings()
        self.query_one(ModelTable).focus()

    def action_local_model(self) -> None:
        self.query_one("#local-model", PathInput).focus()

    @on(Input.Submitted, "#local-model")
    def _local_submitted(self, event: Input.Submitted) -> None:
        folder = event.value.strip()
        if folder:
            self._read_local(folder)

    @work(thread=True, exclusive=True, group="details", exit_on_error=False)
    def _read_local(self, folder: str) -> None:
        from pathlib import Path

        path = Path(folder).expanduser()
        if not (path / "config.json").is_file():
            why = "does not exist" if not path.exists() else "has no config.json"
            problem = Text(f"{folder} {why}; give the folder a Hugging Face model was saved in.", "yellow")
            self.app.call_from_thread(self._local_refused, problem)
            return
        view = decoded_details(str(path.absolute()))
        self.app.call_from_thread(self._local_chosen, str(path.absolute()), view)

    def _local_refused(self, problem: Text) -> None:
        self.query_one("#detail", Static).update(problem)

    def _local_chosen(self, folder: str, view: RenderableType) -> None:
        self.plan.model, self.plan.repo = folder, None
        self.showing_dropped = False
        self.query_one("#detail", Static).update(view)
        self._show_chosen()
        self.query_one(ModelTable).focus()
