"""`ftui probe`: the GPUs, CPU, RAM and disk that ftui plans with."""

from __future__ import annotations

import argparse

from ftui.commands._output import add_json_flag, emit

ORDER = 50


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "probe",
        help="show this machine's GPUs (memory, bf16, load), CPU, RAM and free disk",
        description="Show this machine's NVIDIA GPUs (through NVML, honouring CUDA_VISIBLE_DEVICES), "
        "CPU cores, RAM, and free disk where the Hugging Face cache and the runs live.",
    )
    parser.add_argument("--no-processes", action="store_true", help="skip the processes using each GPU")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def _gib(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f} GiB"


def _or_na(value: object, unit: str = "") -> str:
    return "n/a" if value is None else f"{value}{unit}"


def describe(hardware) -> str:
    lines: list[str] = []
    if hardware.gpus:
        versions = f"driver {_or_na(hardware.driver_version)}, CUDA {_or_na(hardware.cuda_version)}"
        lines.append(f"GPUs ({versions}):")
        for gpu in hardware.gpus:
            bf16 = {True: "bf16", False: "no bf16 (fp16)", None: "bf16 unknown"}[gpu.bf16]
            lines.append(
                f"  {gpu.index}  {gpu.name}  {_gib(gpu.memory_used_gib)} used of "
                f"{_gib(gpu.memory_total_gib)}, {_gib(gpu.memory_free_gib)} free"
            )
            lines.append(
                f"     compute {_or_na(gpu.compute_capability)} ({bf16}), util "
                f"{_or_na(gpu.utilization, '%')}, {_or_na(gpu.temperature, ' C')}, "
                f"power {_or_na(gpu.power_w, ' W')} of {_or_na(gpu.power_limit_w, ' W')}"
            )
            lines.append(f"     {gpu.uuid}")
            for process in gpu.processes:
                used = "?" if process.memory_used is None else f"{process.memory_used / 1024**3:.1f} GiB"
                lines.append(f"     pid {process.pid} {process.name or '(not visible)'}: {used}")
    else:
        lines.append(f"GPUs: none. {hardware.gpu_error}")
    if hardware.cuda_visible_devices is not None:
        lines.append(f"CUDA_VISIBLE_DEVICES={hardware.cuda_visible_devices!r}")
    lines.append(
        f"CPU: {_or_na(hardware.cpu_cores)} cores, {_or_na(hardware.cpu_threads)} threads, "
        f"{_or_na(hardware.cpu_usable)} usable by ftui"
    )
    lines.append(f"RAM: {_gib(hardware.ram_available_gib)} available of {_gib(hardware.ram_total_gib)}")
    for disk in hardware.disks:
        label = {"hf_cache": "HF cache", "runs": "Runs"}.get(disk.purpose, disk.purpose)
        free = "?" if disk.free is None else _gib(disk.free / 1024**3)
        lines.append(f"{label}: {free} free at {disk.path}")
    lines.extend(f"Note: {warning}" for warning in hardware.warnings)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ftui.core.hardware import probe

    hardware = probe(processes=not args.no_processes)
    emit(args, hardware.to_dict(), lambda: describe(hardware))
    return 0
