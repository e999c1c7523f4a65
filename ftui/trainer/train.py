"""The training process: read config.toml, train with Unsloth + TRL, save, and report through files.

Order matters: unsloth is imported before trl/transformers/peft (it patches them), after
hide_broken_torchvision() (a torchvision that does not load beside this torch would break the import).
Every outcome ends in status.json: completed, stopped (graceful), oom or failed with one sentence.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ftui.core.errors import UserError
from ftui.core.run_config import RunConfig
from ftui.core.runs.directory import RunDirectory
from ftui.core.runs.records import Sample, now_iso
from ftui.trainer import ranks, redact, sharding
from ftui.trainer.faults import FaultContext, classify
from ftui.trainer.signals import GracefulStop

GIB = 1024**3
MODEL_TEMPLATE = "model"  # template = "model": the model's own chat template, from its tokenizer


def _rank() -> tuple[int, int]:
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def log(message: str) -> None:
    print(f"[ftui] {message}", flush=True)


def run_training(run_dir: str | os.PathLike[str], *, resume: bool = False) -> int:
    run = RunDirectory(Path(run_dir).resolve())
    me = ranks.this_rank()
    world = me.world
    main = me.main
    ranks.register(run, me)
    token = redact.known_token()
    secrets = (token,) if token else ()
    redact.install(secrets)

    stop = GracefulStop().install()
    context = FaultContext(model=str(run_dir), token_set=bool(token))
    state: dict[str, Any] = {}
    if main:
        # One training process per run, whatever started it: the lock is ours until this process ends.
        state["trainer_lock"] = run.hold_trainer_lock()
        if state["trainer_lock"] is None:
            holder = run.trainer_holder()
            print(
                f"[ftui] another training process (pid {holder}) is already running {run.run_id}; "
                "this one exits without touching it.",
                file=sys.stderr,
                flush=True,
            )
            return 1
    try:
        config = RunConfig.read(run.config_path)
        context.model, context.settings, context.python = config.load_repo, config.settings, config.python
        if main:
            run.update_status(
                state="starting",
                phase="checking the launch" if me.distributed else "importing unsloth",
                trainer_pid=os.getpid(),
                world_size=world,
                pid=run.read_status().pid or os.getpid(),
            )
        if me.distributed:
            # Seconds, not minutes: every rank is there, has its GPU, and the collectives work.
            from ftui.trainer.launch_check import check_launch

            ranks.update(run, me, state="checking")
            check_launch(
                me,
                collective_timeout_s=config.settings.collective_timeout_s,
                sharded=sharding.is_sharded(),
            )
            ranks.update(run, me, state="running")
            if me.local_rank == 0:  # its machine has joined and passed the check
                from ftui.core.members import record_node

                record_node(run, me.node, state="running")
            if main:
                run.update_status(phase="importing unsloth")
        outcome = _train(
            run, config, resume=resume, stop=stop, context=context, state=state, main=main, token=token
        )
        ranks.update(
            run, me, state=outcome.get("state", "completed"), peak_gpu_gib=outcome.get("peak_gpu_gib")
        )
        if main:
            run.update_status(**{**outcome, "ended_at": now_iso(), "phase": None})
        code = 0
    except BaseException as error:  # every failure becomes a state; the traceback goes to train.log
        traceback.print_exc()
        if isinstance(error, KeyboardInterrupt):
            fault_state, sentence = "stopped", "Stopped before training began; nothing was trained."
        elif me.distributed and ranks.is_collective_error(error):
            fault_state, sentence = "failed", ranks.collective_sentence(me, error, _trained_step(state))
        else:
            fault = classify(error, context)
            fault_state, sentence = fault.state, fault.error
        collective = me.distributed and ranks.is_collective_error(error)
        if me.distributed and not isinstance(error, KeyboardInterrupt):
            ranks.failed(run, me, state=fault_state, sentence=sentence, error=error)
        if main and collective:
            # Another rank went first: the launcher names it once torchrun has seen every rank end.
            if not sharding.is_sharded():
                _save_after_fault(run, state)
            checkpoint = run.last_checkpoint()
            run.update_status(
                phase="a training process went away; stopping",
                last_checkpoint=str(checkpoint) if checkpoint else None,
            )
            print(f"[ftui] {sentence}", file=sys.stderr, flush=True)
        elif main:
            saved = _save_after_fault(run, state) if not sharding.is_sharded() else False
            checkpoint = run.last_checkpoint()
            if checkpoint and fault_state != "stopped":
                sentence += (
                    f" Checkpoints are kept; `ftui resume {run.run_id}` continues from {checkpoint.name}."
                )
            elif saved:
                sentence += " The adapter of the last step is saved."
            run.update_status(
                state=fault_state,
                error=sentence,
                ended_at=now_iso(),
                phase=None,
                last_checkpoint=str(checkpoint) if checkpoint else None,
            )
            print(f"[ftui] {fault_state}: {sentence}", file=sys.stderr, flush=True)
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        if me.local_rank == 0:  # each machine's first rank cleans that machine's log
            from ftui.core.launch import node_log

            redact.scrub_file(str(run.path / node_log(me.node)), secrets)
    return code


def _trained_step(state: dict[str, Any]) -> int | None:
    trainer = state.get("trainer")
    return getattr(getattr(trainer, "state", None), "global_step", None) if trainer is not None else None


def _train(
    run: RunDirectory,
    config: RunConfig,
    *,
    resume: bool,
    stop: GracefulStop,
    context: FaultContext,
    state: dict[str, Any],
    main: bool,
    token: str | None,
) -> dict[str, Any]:
    settings = config.settings
    rank, world = _rank()
    from ftui.trainer.compat import hide_broken_torchvision

    why = hide_broken_torchvision()
    if why:
        log(why)
    # isort: off
    import unsloth  # noqa: F401  (first: it patches transformers, trl and peft)
    from unsloth import FastLanguageModel, is_bfloat16_supported

    import torch
    from transformers import AutoTokenizer

    from ftui.trainer.callbacks import GpuMemory, MetricsCallback, StopCallback, stop_agreed
    # isort: on

    sharded = sharding.is_sharded()
    if sharded:
        sharding.require_native_fsdp2()
    if main:
        run.update_status(stack=sharding.stack_name(sharded))

    if torch.cuda.is_available() and world > 1:
        # One model copy per GPU: this rank's GPU becomes the current one before anything touches CUDA.
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", rank)))
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        context.card_gib = props.total_memory / GIB
        device = f"{props.name} ({context.card_gib:.0f} GiB)"
        if world > 1:
            device += f", rank {rank} of {world} on cuda:{torch.cuda.current_device()}"
    else:
        device = "CPU"
    log(f"device: {device}; model {config.load_repo}; method {settings.method}")
    ranks.update(run, ranks.this_rank(), device=device)
    if main:
        run.update_status(phase="reading data", device=device)

    # 1. The data, converted before the model loads: a bad row fails in seconds, not after a download.
    vision = config.modality == "vision"
    if vision:
        from ftui.trainer import vision as vision_path

        texts = vision_path.read_examples(config)
        template = (
            "the processor's own"
            if (config.template or MODEL_TEMPLATE) == MODEL_TEMPLATE
            else config.template
        )
    else:
        tokenizer = AutoTokenizer.from_pretrained(config.load_repo, token=token)
        template, tokenizer = _apply_template(run, config, tokenizer)
        texts = _training_texts(config, template, tokenizer)
    train_rows, eval_rows, sample_rows = _split(texts, settings.eval_split, config.samples, settings.seed)
    log(
        f"data: {len(train_rows)} training rows, {len(eval_rows)} eval rows, "
        f"{len(sample_rows)} held-out prompts for samples; template {template}"
        + (f"; {sum(len(t.images) for t in texts)} images checked" if vision else "")
    )
    if stop_agreed(stop, run, main):
        return {"state": "stopped", "error": None}

    # 2. The model.
    if main:
        run.update_status(phase="loading model")
    full = settings.method == "full"
    gc = {"unsloth": "unsloth", "plain": True, "none": False}[settings.gradient_checkpointing]
    loader: Any = FastLanguageModel
    if vision:
        model, tokenizer, loader = vision_path.load(config, token)
        template = vision_path.apply_template(run, config, tokenizer)
        if loader is not None:
            loader.for_training(model)
    else:
        model, tokenizer = loader.from_pretrained(
            model_name=config.load_repo,
            max_seq_length=settings.seq,
            dtype=None,
            load_in_4bit=settings.method == "qlora",
            full_finetuning=full,
            token=token,
        )
    context.dims = _dims_of(model)
    if not vision:
        template, tokenizer = _apply_template(run, config, tokenizer)
    if not full and not vision:
        model = loader.get_peft_model(
            model,
            r=settings.rank,
            lora_alpha=settings.alpha,
            lora_dropout=settings.dropout,
            bias="none",
            target_modules=list(settings.target_modules),
            use_gradient_checkpointing=gc,
            random_state=settings.seed,
        )
    state["model"], state["tokenizer"], state["full"] = model, tokenizer, full
    if stop_agreed(stop, run, main):
        return {"state": "stopped", "error": None}

    # 3. The trainer.
    per_step = settings.batch * settings.grad_accum * world
    steps_per_epoch = max(1, math.ceil(len(train_rows) / per_step))
    total_steps = settings.max_steps or max(1, math.ceil(settings.epochs * steps_per_epoch))
    gpu = torch.cuda.is_available()
    bf16 = gpu and is_bfloat16_supported()
    args = sft_config(
        settings,
        output_dir=str(run.checkpoints_dir),
        total_steps=total_steps,
        evaluate=bool(eval_rows),
        bf16=bf16,
        fp16=gpu and not bf16,
        world=world,
        data_args=vision_path.sft_settings() if vision else None,
        ddp_timeout=settings.collective_timeout_s,  # bounded: a rank that stops answering fails the run
    )
    memory = GpuMemory()
    metrics = MetricsCallback(run, memory)
    callbacks = [metrics, StopCallback(stop, run)]
    if vision:  # the collator renders and masks the prompts itself
        from trl import SFTTrainer

        trainer = SFTTrainer(
            model=model,
            processing_class=tokenizer,
            args=args,
            callbacks=callbacks,
            train_dataset=vision_path.vision_dataset(train_rows),
            eval_dataset=vision_path.vision_dataset(eval_rows) if eval_rows else None,
            data_collator=vision_path.collator(model, tokenizer, settings, template),
        )
    else:
        trainer = build_trainer(
            model,
            tokenizer,
            args,
            train_rows,
            eval_rows,
            callbacks=callbacks,
            responses_only_template=template if settings.responses_only else None,
        )
    log(
        f"batches: micro-batch {settings.batch} x accumulation {settings.grad_accum} x {world} GPU(s), "
        f"{'padding-free' if getattr(trainer.args, 'padding_free', False) else 'padded'}"
        f"{', packed' if getattr(trainer.args, 'packing', False) else ''}"
    )
    state["trainer"] = trainer

    checkpoint = run.last_checkpoint() if resume else None
    if resume:
        log(f"resuming from {checkpoint.name}" if checkpoint else "no checkpoint yet: starting from step 0")
    if main:
        run.update_status(phase="training", max_steps=total_steps)
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    stopped = stop.requested
    state["trained"] = True

    # 4. Save: the adapter (or the full model) with the tokenizer, then samples and exports.
    outcome: dict[str, Any] = {
        "step": trainer.state.global_step,
        "max_steps": trainer.state.max_steps,
        "train_loss": getattr(result, "training_loss", None),
        "peak_gpu_gib": memory.read().get("gpu_peak_gib"),
        "error": None,
    }
    if main:
        run.update_status(phase="saving")
    outcome["output"] = _save_output(run, model, tokenizer, full, trainer=trainer, main=main, sharded=sharded)
    if main:
        last = run.last_checkpoint()
        outcome["last_checkpoint"] = str(last) if last else None
    warnings = list(metrics.warnings)
    if stopped:
        outcome["state"] = "stopped"
        log(f"stopped at step {trainer.state.global_step}; adapter saved in {outcome.get('output')}")
    else:
        outcome["state"] = "completed"
        # Sharded, generating and exporting gather the weights: every rank takes part, rank 0 writes.
        if (main or sharded) and sample_rows and not stop.requested:
            if main:
                run.update_status(phase="generating samples")
            if vision and sharded:
                # Generating from a sharded vision model needs every rank in lockstep through the
                # processor's image path, which Unsloth's vision generate does not do; the adapter is saved.
                if main:
                    log(
                        "samples skipped: a vision model sharded over several GPUs; try the run with ftui chat"
                    )
            elif vision:
                if main:
                    vision_path.write_samples(
                        run, model, tokenizer, sample_rows, config.max_new_tokens, loader
                    )
            else:
                _write_samples(run, model, tokenizer, sample_rows, config.max_new_tokens, loader, main=main)
        if (main or sharded) and (settings.save_merged or settings.save_gguf):
            if main:
                run.update_status(phase="exporting")
            from ftui.trainer.export import export

            warnings += export(run, model, tokenizer, settings, full)
    if world > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
    outcome["warnings"] = warnings
    return outcome


def sft_config(
    settings: Any,
    *,
    output_dir: str,
    total_steps: int,
    evaluate: bool,
    bf16: bool,
    fp16: bool,
    world: int = 1,
    data_args: dict[str, Any] | None = None,
    **overrides: Any,
) -> Any:
    """TRL's SFTConfig for the run. padding_free is left unset: Unsloth then turns padding-free batches on
    (rows concatenated with position_ids, no pad tokens, the loss unchanged) wherever it supports them, and
    keeps padded batches where it measured them faster or cannot keep the rows apart (CPU)."""
    from trl import SFTConfig

    if data_args is None:  # text rows; vision rows bring their own (ftui.trainer.vision.sft_settings)
        data_args = {"dataset_text_field": "text", "packing": settings.packing}
    return SFTConfig(
        output_dir=output_dir,
        max_length=settings.seq,  # TRL's default (1024) would silently cut longer rows
        **data_args,
        per_device_train_batch_size=settings.batch,
        per_device_eval_batch_size=settings.batch,
        gradient_accumulation_steps=settings.grad_accum,
        max_steps=settings.max_steps or -1,
        num_train_epochs=settings.epochs,
        learning_rate=settings.learning_rate,
        warmup_steps=settings.warmup_steps,
        weight_decay=settings.weight_decay,
        lr_scheduler_type=settings.lr_scheduler,
        optim=settings.optimizer,
        seed=settings.seed,
        logging_steps=1,
        include_num_input_tokens_seen="non_padding",  # for tokens per second in metrics.jsonl
        report_to="none",
        save_strategy="steps",
        save_steps=settings.save_steps,
        save_total_limit=3,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=max(1, min(settings.save_steps, total_steps // 5 or 1)) if evaluate else None,
        bf16=bf16,
        fp16=fp16,
        dataset_num_proc=1,
        ddp_find_unused_parameters=False if world > 1 else None,
        **overrides,
    )


def build_trainer(
    model: Any,
    tokenizer: Any,
    args: Any,
    train_rows: list[Any],
    eval_rows: list[Any],
    *,
    callbacks: Sequence[Any] = (),
    responses_only_template: str | None = None,
) -> Any:
    """TRL's SFTTrainer on the training texts; with a template, the prompts masked out of the loss
    (Unsloth's train_on_responses_only, with that template's markers)."""
    from datasets import Dataset
    from trl import SFTTrainer

    trainer = SFTTrainer(
        model=model,
        processing_class=tokenizer,
        train_dataset=Dataset.from_dict({"text": [t.text for t in train_rows]}),
        eval_dataset=Dataset.from_dict({"text": [t.text for t in eval_rows]}) if eval_rows else None,
        args=args,
        callbacks=list(callbacks),
    )
    if responses_only_template is not None:
        from unsloth.chat_templates import train_on_responses_only

        from ftui.core.data import template_markers

        instruction, response = template_markers(responses_only_template)
        trainer = train_on_responses_only(trainer, instruction_part=instruction, response_part=response)
    return trainer


def _apply_template(run: RunDirectory, config: RunConfig, tokenizer: Any) -> tuple[str, Any]:
    """Give the tokenizer the run's chat template (so the saved adapter chats as it was trained); return
    the template name or file that the data conversion uses, and the tokenizer."""
    name = config.template or MODEL_TEMPLATE
    if name == MODEL_TEMPLATE:
        own = getattr(tokenizer, "chat_template", None)
        if isinstance(own, dict):
            own = own.get("default")
        if not own:
            log("the model has no chat template of its own: using the Alpaca prompt (a base model's format)")
            from unsloth.chat_templates import get_chat_template

            return "alpaca", get_chat_template(tokenizer, chat_template="alpaca")
        path = run.path / "chat_template.jinja"
        path.write_text(own, encoding="utf-8")
        return str(path), tokenizer
    if name.endswith(".jinja"):
        tokenizer.chat_template = Path(name).expanduser().read_text(encoding="utf-8")
        return name, tokenizer
    from unsloth.chat_templates import get_chat_template

    # It may return a new tokenizer: EOS is mapped to the template's stop word (<|im_end|> for chatml).
    return name, get_chat_template(tokenizer, chat_template=name)


def _training_texts(config: RunConfig, template: str, tokenizer: Any) -> list[Any]:
    from ftui.core.data import training_texts

    # A tokenizer that puts BOS in front by itself gets texts without one (no double BOS).
    bos = tokenizer.bos_token or ""
    if bos and tokenizer("x").input_ids[:1] == [tokenizer.bos_token_id]:
        bos = ""
    texts = list(
        training_texts(
            config.data,
            template=template,
            format=config.format,
            mapping=config.mapping or None,
            bos_token=bos,
            eos_token=tokenizer.eos_token or "",
            skip_bad_rows=config.settings.skip_bad_rows,
        )
    )
    if not texts:
        raise UserError(f"The dataset {config.data} has no rows to train on; check the file.")
    return texts


def _split(
    texts: list[Any], eval_split: float, samples: int, seed: int
) -> tuple[list[Any], list[Any], list[Any]]:
    """(train, eval, sample prompts). Eval rows are held out at random; sample prompts come from the eval
    rows, else from rows held out for them when the data is large enough to spare them."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    n_eval = round(len(texts) * eval_split) if eval_split else 0
    if eval_split and len(texts) >= 2:
        n_eval = max(1, min(n_eval, len(texts) - 1))
    eval_rows = [texts[i] for i in order[:n_eval]]
    rest = order[n_eval:]
    with_prompt = [t for t in eval_rows if t.prompt]
    sample_rows = with_prompt[:samples]
    if not sample_rows and samples and len(rest) > 4 * samples:
        held = [i for i in rest if texts[i].prompt][:samples]
        sample_rows = [texts[i] for i in held]
        rest = [i for i in rest if i not in set(held)]
    train_rows = [texts[i] for i in sorted(rest)]
    return train_rows, eval_rows, sample_rows


def _dims_of(model: Any) -> Any:
    try:
        from ftui.core.dims import dims_from_hf_config

        config = getattr(model, "config", None)
        return dims_from_hf_config(config.to_dict()) if config is not None else None
    except Exception:
        return None


def _save_output(
    run: RunDirectory,
    model: Any,
    tokenizer: Any,
    full: bool,
    *,
    trainer: Any = None,
    main: bool = True,
    sharded: bool = False,
) -> str:
    target = run.model_dir if full else run.adapter_dir
    sharding.save_output(trainer, model, tokenizer, str(target), main=main, sharded=sharded)
    if main:
        log(f"saved the {'model' if full else 'LoRA adapter'} and tokenizer in {target}")
    return str(target)


def _save_after_fault(run: RunDirectory, state: dict[str, Any]) -> bool:
    """After a failure mid-training, keep what was learnt: save the adapter if there is one to save."""
    trainer = state.get("trainer")
    if trainer is None or getattr(trainer.state, "global_step", 0) == 0:
        return False
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        _save_output(run, state["model"], state["tokenizer"], state.get("full", False))
        return True
    except BaseException as error:  # saving after an OOM can itself run out of memory
        log(f"could not save the adapter after the failure ({type(error).__name__}: {error})")
        return False


def _write_samples(
    run: RunDirectory,
    model: Any,
    tokenizer: Any,
    rows: list[Any],
    max_new_tokens: int,
    loader: Any,
    *,
    main: bool = True,
) -> None:
    """Generations on held-out prompts, greedy, for the compare screen: prompt, reference, output."""
    from ftui.trainer.generate import greedy_answer

    try:
        loader.for_inference(model)
    except Exception:
        model.eval()
    started = time.monotonic()
    samples = []
    for row in rows:
        # The prompt has a BOS only when the tokenizer does not add one itself (see _training_texts).
        output, new_tokens = greedy_answer(model, tokenizer, row.prompt, max_new_tokens, model.device)
        samples.append(
            Sample(
                line=row.line,
                prompt=row.prompt,
                reference=row.text[len(row.prompt) :],
                output=output,
                new_tokens=new_tokens,
            )
        )
    if not main:
        return
    run.write_samples(samples)
    log(
        f"wrote {len(rows)} sample generations in {time.monotonic() - started:.1f} s to {run.samples_path.name}"
    )
