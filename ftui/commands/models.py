"""`ftui models`: the catalog, filtered by use case, license policy, modality and kind."""

from __future__ import annotations

import argparse

from ftui.commands._output import add_json_flag, emit
from ftui.core.plan import LICENSE_POLICIES, USE_CASES

ORDER = 10


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "models",
        help="list the models ftui knows (license, size, Unsloth repos)",
        description="List the catalog's models with their size, license, commercial use, gating and Unsloth repos.",
    )
    parser.add_argument(
        "--use-case",
        choices=USE_CASES,
        help="only models made for this use case",
    )
    parser.add_argument(
        "--license",
        choices=LICENSE_POLICIES,
        default="any",
        help="any; commercial: commercial use allowed (with or without conditions); permissive: Apache/MIT only",
    )
    parser.add_argument("--modality", choices=("text", "code", "vision"), help="only this modality")
    parser.add_argument("--kind", choices=("base", "instruct"), help="only base or only instruct models")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def model_json(model, lic) -> dict:
    """One model as `ftui models --json` prints it (field names documented in README.md)."""
    return {
        "hf_id": model.hf_id,
        "name": model.name,
        "family": model.family,
        "params_b": model.params_b,
        "params_active_b": model.params_active_b,
        "modality": model.modality,
        "kind": model.kind,
        "use_cases": list(model.use_cases),
        "license": model.license,
        "license_class": lic.license_class if lic else None,
        "commercial_use": model.commercial_use,
        "license_conditions": model.license_conditions,
        "gated": model.gated,
        "context": model.context,
        "chat_template": model.chat_template,
        "unsloth": {
            "bf16": model.unsloth.bf16,
            "bnb_4bit": model.unsloth.bnb_4bit,
            "unsloth_bnb_4bit": model.unsloth.unsloth_bnb_4bit,
        },
    }


def select(catalog, use_case=None, license_policy="any", modality=None, kind=None) -> list:
    chosen = []
    for model in catalog.models:
        lic = catalog.license(model.license)
        if use_case and use_case not in model.use_cases:
            continue
        if modality and model.modality != modality:
            continue
        if kind and model.kind != kind:
            continue
        if license_policy == "commercial" and model.commercial_use not in ("yes", "yes_with_conditions"):
            continue
        if license_policy == "permissive" and not (lic and lic.is_permissive):
            continue
        chosen.append(model)
    return chosen


def run(args: argparse.Namespace) -> int:
    from ftui.core.catalog import load_catalog

    catalog = load_catalog()
    models = select(catalog, args.use_case, args.license, args.modality, args.kind)
    payload = [model_json(m, catalog.license(m.license)) for m in models]
    emit(args, payload, lambda: _table(models))
    return 0


COMMERCIAL_WORDS = {"yes": "yes", "yes_with_conditions": "conditions", "no": "NO", "unknown": "?"}


def _table(models: list) -> str:
    if not models:
        return "No model matches these filters; try fewer of them."
    rows = [("MODEL", "SIZE", "KIND", "MODALITY", "LICENSE", "COMMERCIAL", "GATED", "QLORA REPO")]
    for m in models:
        size = f"{m.params_b:g}B" + (f" ({m.params_active_b:g}B act.)" if m.params_active_b else "")
        gated = {True: "yes", False: "no", None: "?"}[m.gated]
        qlora = m.repo_for("qlora")
        rows.append(
            (m.hf_id, size, m.kind, m.modality, m.license, COMMERCIAL_WORDS[m.commercial_use], gated, qlora)
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=False)) + "  " + r[-1] for r in rows
    ]
    lines.append(
        f"{len(models)} models. `ftui license MODEL` shows a license's conditions; --json for every field."
    )
    return "\n".join(lines)
