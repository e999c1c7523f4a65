"""Models outside the catalog: the local Hugging Face cache, and (online only) the Hub itself.

huggingface_hub is imported only inside the functions that need it, so that `ftui advise` and the TUI
start without it. Where its cache is, and whether the Hub may be used, come from ftui.core.hf_env.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftui.core.errors import UserError
from ftui.core.hf_env import hub_cache_dir, offline_variable

HUB_TIMEOUT_S = 5.0
# The Hub's rule for a repo id: owner/name, each at most 96 of letters, digits, "-", "_" and ".",
# neither starting nor ending with "-" or ".", and no "--" or "..".
_REPO_ID = re.compile(
    r"^[A-Za-z0-9](?:[\w.\-]{0,94}[A-Za-z0-9_])?/[A-Za-z0-9_](?:[\w.\-]{0,94}[A-Za-z0-9_])?$"
)


def looks_like_repo_id(name: str) -> bool:
    name = name.strip()
    return bool(_REPO_ID.match(name)) and "--" not in name and ".." not in name


def cached_config_path(repo_id: str, cache_dir: Path | None = None) -> Path | None:
    """The config.json of `repo_id` in the local HF cache (models--org--name/snapshots/<rev>/), or None.

    The revision refs/main points at wins; otherwise the newest snapshot that has a config.json.
    """
    root = (cache_dir or hub_cache_dir()) / ("models--" + repo_id.strip().replace("/", "--"))
    if not root.is_dir():
        # The cache folder keeps the repo's own case; look for a case-insensitive match.
        parent = root.parent
        wanted = root.name.lower()
        match = (
            next((p for p in parent.glob("models--*") if p.name.lower() == wanted), None)
            if parent.is_dir()
            else None
        )
        if match is None:
            return None
        root = match
    ref = root / "refs" / "main"
    if ref.is_file():
        candidate = root / "snapshots" / ref.read_text().strip() / "config.json"
        if candidate.is_file():
            return candidate
    snapshots = [p / "config.json" for p in (root / "snapshots").glob("*") if (p / "config.json").is_file()]
    return max(snapshots, key=lambda p: p.stat().st_mtime) if snapshots else None


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def require_reachable_hub(repo_id: str, timeout_s: float = HUB_TIMEOUT_S) -> None:
    """One TCP connection to the Hub first: without a network, huggingface_hub retries each request five
    times with back-off (over 20 s of "Retrying in 1s" lines); this fails in under the timeout instead."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(hub_endpoint())
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname or "", port), timeout=min(timeout_s, 3.0)).close()
    except OSError as error:
        raise UserError(
            f"Cannot reach the Hub at {url.hostname} to look up {repo_id} ({error.strerror or error}); "
            "check the network, or use a local model folder (HF_HUB_OFFLINE=1 skips the Hub)."
        ) from None


def fetch_config(repo_id: str, timeout_s: float = HUB_TIMEOUT_S) -> dict[str, Any]:
    """Download config.json from the Hub (online only). Errors become one sentence."""
    if variable := offline_variable():
        raise UserError(
            f"{repo_id} is not available offline ({variable} is set); unset it or download the model first."
        )
    require_reachable_hub(repo_id, timeout_s)
    from huggingface_hub import hf_hub_download

    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", str(int(timeout_s)))
    try:
        path = hf_hub_download(repo_id, "config.json", cache_dir=str(hub_cache_dir()), etag_timeout=timeout_s)
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except Exception as error:  # noqa: BLE001 - every failure of the Hub is one sentence for the user
        raise UserError(_hub_failure(repo_id, error)) from None


@dataclass(frozen=True)
class HubFacts:
    """What the Hub says about a repo outside the catalog. None: the Hub did not say."""

    repo_id: str
    license: str | None
    gated: bool | None
    params_b: float | None
    pipeline_tag: str | None = None


def hub_facts(repo_id: str, timeout_s: float = HUB_TIMEOUT_S) -> HubFacts:
    """License, gating and parameter count from the Hub's model info (online only, short timeout)."""
    if variable := offline_variable():
        raise UserError(
            f"{repo_id} is not in ftui's catalog and {variable} is set, so its license and gating cannot be "
            f"looked up; unset {variable} or check the model card yourself."
        )
    require_reachable_hub(repo_id, timeout_s)
    from huggingface_hub import HfApi

    try:
        info = HfApi().model_info(repo_id, timeout=timeout_s)
    except Exception as error:  # noqa: BLE001
        raise UserError(_hub_failure(repo_id, error)) from None
    card = getattr(info, "card_data", None) or {}
    license_id = card.get("license") if hasattr(card, "get") else None
    if license_id == "other" and hasattr(card, "get") and card.get("license_name"):
        license_id = card.get("license_name")
    gated = getattr(info, "gated", None)
    safetensors = getattr(info, "safetensors", None)
    total = getattr(safetensors, "total", None) if safetensors is not None else None
    return HubFacts(
        repo_id=repo_id,
        license=license_id,
        gated=None if gated is None else bool(gated),
        params_b=round(total / 1e9, 3) if total else None,
        pipeline_tag=getattr(info, "pipeline_tag", None),
    )


def _hub_failure(repo_id: str, error: Exception) -> str:
    kind = type(error).__name__
    if "RepositoryNotFound" in kind:
        return f"The Hub has no repo {repo_id} (or it is private); check the name."
    if "GatedRepo" in kind:
        return f"{repo_id} is gated; accept its license on the Hub and log in with `huggingface-cli login`, then retry."
    if "Timeout" in kind or "Connection" in kind or "Offline" in kind:
        return f"The Hub did not answer about {repo_id} in time; check the network or set HF_HUB_OFFLINE=1 and use a local copy."
    return f"The Hub could not tell ftui about {repo_id} ({kind}); check the name and the network."
