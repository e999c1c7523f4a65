"""`ftui license MODEL-OR-LICENSE`: a license in plain words, with the conditions a fine-tuner must know."""

from __future__ import annotations

import argparse

from ftui.commands._output import add_json_flag, emit

ORDER = 13


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "license",
        help="explain a model's license (or a license id): class, commercial use, conditions",
        description="Explain a license by model (hf_id, Unsloth repo) or by license id (e.g. llama3.1, apache-2.0).",
    )
    parser.add_argument(
        "subject", metavar="MODEL-OR-LICENSE", help="e.g. meta-llama/Llama-3.1-8B-Instruct or gemma"
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


def license_json(lic, models: list) -> dict:
    return {
        "id": lic.id,
        "name": lic.name,
        "class": lic.license_class,
        "commercial_use": lic.commercial_use,
        "summary": lic.summary,
        "clauses": [{"id": c.id, "section": c.section, "text": c.text} for c in lic.clauses],
        "url": lic.url,
        "sources": list(lic.sources),
        "models": [m.hf_id for m in models],
    }


def run(args: argparse.Namespace) -> int:
    from ftui.core.catalog import load_catalog
    from ftui.core.errors import UserError

    catalog = load_catalog()
    model = catalog.find(args.subject)
    lic = catalog.license(model.license) if model else catalog.license(args.subject)
    if lic is None:
        from ftui.core import hub

        if hub.looks_like_repo_id(args.subject):  # a repo outside the catalog: ask the Hub (online only)
            return _from_hub(args, catalog)
        ids = ", ".join(sorted(x.id for x in catalog.licenses))
        raise UserError(
            f"{args.subject!r} is neither a catalog model, a Hub repo id nor a license id ({ids}); "
            "check the name with `ftui models`."
        )
    users = [m for m in catalog.models if m.license == lic.id]
    payload = {"model": None, "license": license_json(lic, users)}
    if model is not None:
        payload["model"] = {
            "hf_id": model.hf_id,
            "commercial_use": model.commercial_use,
            "license_conditions": model.license_conditions,
            "gated": model.gated,
            "gated_evidence": model.gated_evidence,
            "license_sources": list(model.license_sources),
            "notes": model.notes,
        }
    emit(args, payload, lambda: _text(lic, model, users))
    return 0


def _from_hub(args: argparse.Namespace, catalog) -> int:
    """A repo outside the catalog: what the Hub says (online only; offline, one sentence)."""
    from ftui.core.hub import hub_facts

    facts = hub_facts(args.subject)
    lic = catalog.license(facts.license) if facts.license else None
    payload = {
        "model": {
            "hf_id": facts.repo_id,
            "source": "hub",
            "license_tag": facts.license,
            "commercial_use": lic.commercial_use if lic else "unknown",
            "gated": facts.gated,
            "params_b": facts.params_b,
        },
        "license": license_json(lic, [m for m in catalog.models if m.license == lic.id]) if lic else None,
    }

    def text() -> str:
        gated = {True: "yes", False: "no", None: "unknown"}[facts.gated]
        size = f"{facts.params_b:g}B" if facts.params_b else "unknown"
        lines = [
            f"{facts.repo_id} (not in ftui's catalog; from the Hub's model card metadata)",
            f"  License tag: {facts.license or 'none given'}    gated: {gated}    parameters: {size}",
        ]
        if lic is not None:
            lines.append(f"  {lic.name}: {CLASS_WORDS[lic.license_class]}. {lic.summary}")
        else:
            lines.append(
                "  ftui has no summary of this license: read the model card and its LICENSE before relying on it."
            )
        return "\n".join(lines)

    emit(args, payload, text)
    return 0


CLASS_WORDS = {
    "permissive": "permissive",
    "open_with_conditions": "open, with conditions",
    "non_commercial": "non-commercial",
}
COMMERCIAL = {
    "yes": "yes",
    "yes_with_conditions": "yes, with conditions",
    "no": "no",
    "unknown": "not verified",
}


def _text(lic, model, users: list) -> str:
    lines = []
    if model is not None:
        gated = {True: "yes (accept the license on the Hub and log in)", False: "no", None: "not verified"}[
            model.gated
        ]
        lines += [
            f"{model.hf_id}",
            f"  Commercial use: {COMMERCIAL[model.commercial_use]}",
            f"  Gated on the Hub: {gated}",
            f"  Conditions: {model.license_conditions}",
            f"  Source: {model.license_source}",
            "",
        ]
    lines += [
        f"{lic.name} [{lic.id}]: {CLASS_WORDS[lic.license_class]}; commercial use: {COMMERCIAL[lic.commercial_use]}",
        f"  {lic.summary}",
    ]
    for clause in lic.clauses:
        where = (
            f" (§{clause.section})"
            if clause.section and clause.section[0].isdigit()
            else (f" ({clause.section})" if clause.section else "")
        )
        lines.append(f"  - {clause.text}{where}")
    if lic.url:
        lines.append(f"  Text: {lic.url}")
    lines.append(f"  {len(users)} catalog models use it.")
    lines.append("A summary to help you choose, not legal advice: the license text is what binds.")
    return "\n".join(lines)
