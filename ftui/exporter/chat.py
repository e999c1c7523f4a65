"""The model process behind `ftui chat` (and a chat panel): `python -m ftui.exporter.chat RUN_DIR
--base-weights DIR [--with-base]`. It loads the fine-tuned model once and answers requests, streaming.

Protocol: one JSON object per line each way, so any front end can drive it.
  stdin   {"id": 1, "prompt": "text"} or {"id": 1, "messages": [{"role": "user", "content": "..."}]},
          optional "models": ["tuned", "base"] (default ["tuned"]), "temperature" (0 = greedy, the
          default), "max_new_tokens" (default 256); {"op": "quit"} or end of input ends the process.
  stdout  {"event": "loading", "what": ...}; {"event": "ready", "models": [...], "device": ..., "seconds": ...};
          per request and model: {"event": "start", "id", "model", "prompt_tokens"}, then
          {"event": "token", "id", "model", "text"} as text is generated, then {"event": "done", "id",
          "model", "text", "new_tokens", "seconds", "stopped": "eos"|"length"}; a bad request gets
          {"event": "error", "id", "message"} and the process goes on; {"event": "bye"} at the end.
The prompt is put in the run's chat template (the tokenizer saved with the adapter carries it). The base
model's answer comes from the same weights with the adapter switched off (PEFT), so it costs no memory.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

_OUT = sys.stdout


def emit(event: str, **fields: Any) -> None:
    _OUT.write(json.dumps({"event": event, **fields}, ensure_ascii=False) + "\n")
    _OUT.flush()


class _Streamer:
    """transformers' streamer interface: decode what is new and emit it as a token event."""

    def __init__(self, tokenizer: Any, request_id: Any, model: str, prompt_tokens: int) -> None:
        self.tokenizer, self.id, self.model = tokenizer, request_id, model
        self.prompt_tokens, self.seen_prompt = prompt_tokens, False
        self.tokens: list[int] = []
        self.text = ""

    def put(self, value: Any) -> None:
        if not self.seen_prompt:  # generate() hands the prompt over first
            self.seen_prompt = True
            return
        self.tokens.extend(int(t) for t in value.reshape(-1).tolist())
        text = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        if text.endswith("\ufffd"):  # half a character: wait for the rest of its bytes
            return
        if len(text) > len(self.text):
            emit("token", id=self.id, model=self.model, text=text[len(self.text) :])
            self.text = text

    def end(self) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ftui.exporter.chat", description=__doc__)
    parser.add_argument("run_dir")
    parser.add_argument("--base-weights", required=True, help="the base model the adapter goes on")
    parser.add_argument("--with-base", action="store_true", help="full fine-tuning: also load the base")
    args = parser.parse_args(argv)
    # Only this protocol on stdout: libraries' prints go to stderr.
    global _OUT
    _OUT, sys.stdout = sys.stdout, sys.stderr
    try:
        return _serve(Path(args.run_dir), Path(args.base_weights), args.with_base)
    except Exception as error:  # noqa: BLE001 - the front end shows one line
        import traceback

        traceback.print_exc()
        emit("error", id=None, message=f"The model could not be loaded ({type(error).__name__}: {error}).")
        return 1


def _serve(run_dir: Path, base_dir: Path, with_base: bool) -> int:
    from ftui.core.exports import read_run
    from ftui.exporter.models import device, load_causal_lm, load_tokenizer, prepare_torch, target_dtype

    torch = prepare_torch()
    started = time.monotonic()
    run = read_run(str(run_dir))
    where = device()
    # 16-bit on a GPU; float32 on the CPU, where 16-bit matmuls are slow or missing.
    dtype = target_dtype(base_dir) if where == "cuda" else "float32"
    tokenizer = load_tokenizer(run.weights_dir)
    models: dict[str, Any] = {}
    if run.full:
        emit("loading", what=f"the fine-tuned model from {run.weights_dir}")
        models["tuned"] = load_causal_lm(run.weights_dir, dtype, where)
        if with_base:
            emit("loading", what=f"the base model from {base_dir}")
            models["base"] = load_causal_lm(base_dir, dtype, where)
    else:
        from peft import PeftModel

        emit("loading", what=f"the base model from {base_dir} and the adapter from {run.weights_dir}")
        base = load_causal_lm(base_dir, dtype, where)
        if len(tokenizer) > base.get_input_embeddings().weight.shape[0]:
            base.resize_token_embeddings(len(tokenizer))
        models["tuned"] = PeftModel.from_pretrained(base, str(run.weights_dir)).to(where).eval()
        models["base"] = models["tuned"]  # the same weights, adapter switched off
    emit("ready", models=sorted(models), device=where, seconds=round(time.monotonic() - started, 1))
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError:
            emit("error", id=None, message="A request was not JSON; send one JSON object per line.")
            continue
        if request.get("op") == "quit":
            break
        try:
            _answer(request, models, tokenizer, torch, run.full, where)
        except _BadRequest as error:
            emit("error", id=request.get("id"), message=str(error))
    emit("bye")
    return 0


class _BadRequest(ValueError):
    pass


def _answer(
    request: dict[str, Any], models: dict[str, Any], tokenizer: Any, torch: Any, full: bool, where: str
) -> None:
    import contextlib

    messages = request.get("messages") or (
        [{"role": "user", "content": request["prompt"]}] if isinstance(request.get("prompt"), str) else None
    )
    if not messages:
        raise _BadRequest("A request needs a prompt (text) or messages (a list of role/content).")
    wanted = request.get("models") or ["tuned"]
    unknown = [m for m in wanted if m not in models]
    if unknown:
        raise _BadRequest(f"No model {unknown[0]!r} is loaded; this process has {', '.join(sorted(models))}.")
    temperature = float(request.get("temperature") or 0.0)
    max_new = int(request.get("max_new_tokens") or 256)
    if temperature < 0 or max_new < 1:
        raise _BadRequest("temperature must be 0 or more and max_new_tokens at least 1.")
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tokenizer(
        text, add_special_tokens=not (tokenizer.bos_token and text.startswith(tokenizer.bos_token))
    )
    input_ids = torch.tensor([ids.input_ids], device=where)
    for name in wanted:
        model = models[name]
        off = model.disable_adapter() if name == "base" and not full else contextlib.nullcontext()
        emit("start", id=request.get("id"), model=name, prompt_tokens=input_ids.shape[1])
        streamer = _Streamer(tokenizer, request.get("id"), name, input_ids.shape[1])
        started = time.monotonic()
        sampling = (
            {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        )
        with off, torch.inference_mode():
            output = model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                max_new_tokens=max_new,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                eos_token_id=tokenizer.eos_token_id,
                streamer=streamer,
                **sampling,
            )
        new = output[0][input_ids.shape[1] :].tolist()
        stopped = "eos" if new and new[-1] == tokenizer.eos_token_id else "length"
        emit(
            "done",
            id=request.get("id"),
            model=name,
            text=tokenizer.decode(new, skip_special_tokens=True),
            new_tokens=len(new),
            seconds=round(time.monotonic() - started, 2),
            stopped=stopped,
        )


if __name__ == "__main__":
    sys.exit(main())
