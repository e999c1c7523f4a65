"""What this machine has: NVIDIA GPUs through NVML (nvidia-ml-py), CPU, RAM and disk through psutil.

Tolerant as nvitop is: NVML missing, no driver, no GPU, or a call this driver does not support ends in
a clear state (an empty GPU list with `gpu_error`, or a field that is None), never an exception.

Cheap to call once a second: NVML is initialised once per source and kept open, the device handles
and what never changes (name, UUID, total memory, compute capability) are read once; each later call
re-reads only what moves. `probe()` is the whole picture, `sample_gpus()` the light per-tick reading.

The NVML source is the `pynvml` module by default; tests pass a stand-in with the same functions
(tests/fakes/nvml.py) as the `nvml` argument, since this machine has no GPU.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftui.core.hf_env import hub_cache_dir
from ftui.core.plan import GpuChoice

GIB = 1024**3
BF16_MIN_CAPABILITY = 8  # Ampere (sm_80) and later have bf16 tensor cores


def _gib(value: int | None) -> float | None:
    return None if value is None else round(value / GIB, 2)


@dataclass(frozen=True)
class GpuProcess:
    pid: int
    name: str | None  # None where the process is not visible from here (another container)
    memory_used: int | None  # bytes; None where the driver does not say


class _MemoryInGib:
    """The GiB views of a record's memory_total / memory_used bytes (a sample and a full GPU record)."""

    memory_total: int
    memory_used: int | None

    @property
    def memory_total_gib(self) -> float:
        return self.memory_total / GIB

    @property
    def memory_used_gib(self) -> float | None:
        return None if self.memory_used is None else self.memory_used / GIB


@dataclass(frozen=True)
class GpuSample(_MemoryInGib):
    """One GPU's moving numbers at one moment: what the gauge draws each tick."""

    index: int  # CUDA's ordinal, as training will number it (after CUDA_VISIBLE_DEVICES)
    name: str
    memory_total: int  # bytes
    memory_used: int | None  # bytes
    utilization: int | None = None  # percent of time a kernel ran
    temperature: int | None = None  # degrees C
    power_w: float | None = None


@dataclass(frozen=True)
class GpuInfo(_MemoryInGib):
    index: int  # CUDA's ordinal (after CUDA_VISIBLE_DEVICES)
    nvml_index: int  # nvidia-smi's index
    name: str
    uuid: str
    memory_total: int  # bytes
    memory_used: int | None
    memory_free: int | None
    utilization: int | None = None
    temperature: int | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    compute_capability: str | None = None  # "9.0"
    bf16: bool | None = None  # None where the compute capability could not be read
    processes: tuple[GpuProcess, ...] = ()

    @property
    def memory_free_gib(self) -> float | None:
        return None if self.memory_free is None else self.memory_free / GIB

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "nvml_index": self.nvml_index,
            "name": self.name,
            "uuid": self.uuid,
            "memory_total_bytes": self.memory_total,
            "memory_used_bytes": self.memory_used,
            "memory_free_bytes": self.memory_free,
            "memory_total_gib": _gib(self.memory_total),
            "memory_used_gib": _gib(self.memory_used),
            "memory_free_gib": _gib(self.memory_free),
            "utilization_percent": self.utilization,
            "temperature_c": self.temperature,
            "power_w": self.power_w,
            "power_limit_w": self.power_limit_w,
            "compute_capability": self.compute_capability,
            "bf16": self.bf16,
            "processes": [
                {"pid": p.pid, "name": p.name, "memory_used_bytes": p.memory_used} for p in self.processes
            ],
        }


@dataclass(frozen=True)
class GpuSamples:
    gpus: tuple[GpuSample, ...]
    gpu_error: str | None = None  # why there are no GPUs; None when NVML answered


@dataclass(frozen=True)
class DiskSpace:
    purpose: str  # "hf_cache" or "runs"
    path: str  # where that purpose keeps its files (it may not exist yet)
    free: int | None  # bytes free on the filesystem that holds `path`
    total: int | None


@dataclass(frozen=True)
class Hardware:
    gpus: list[GpuInfo]
    gpu_error: str | None
    driver_version: str | None
    cuda_version: str | None  # the newest CUDA the driver supports, "13.0"
    cpu_cores: int | None  # physical
    cpu_threads: int | None  # logical
    cpu_usable: int | None  # what this process may run on (affinity, e.g. a Slurm or container limit)
    ram_total: int  # bytes
    ram_available: int
    disks: list[DiskSpace] = field(default_factory=list)
    cuda_visible_devices: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ram_total_gib(self) -> float:
        return self.ram_total / GIB

    @property
    def ram_available_gib(self) -> float:
        return self.ram_available / GIB

    def gpu_choice(self, index: int = 0) -> GpuChoice | None:
        """The detected card as the Plan holds it, or None without a GPU."""
        for gpu in self.gpus:
            if gpu.index == index:
                return GpuChoice(
                    name=gpu.name, vram_gib=round(gpu.memory_total_gib, 1), bf16=bool(gpu.bf16), detected=True
                )
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "gpus": [gpu.to_dict() for gpu in self.gpus],
            "gpu_error": self.gpu_error,
            "driver_version": self.driver_version,
            "cuda_version": self.cuda_version,
            "cuda_visible_devices": self.cuda_visible_devices,
            "cpu_cores": self.cpu_cores,
            "cpu_threads": self.cpu_threads,
            "cpu_usable": self.cpu_usable,
            "ram_total_bytes": self.ram_total,
            "ram_available_bytes": self.ram_available,
            "ram_total_gib": _gib(self.ram_total),
            "ram_available_gib": _gib(self.ram_available),
            "disks": [
                {
                    "purpose": disk.purpose,
                    "path": disk.path,
                    "free_bytes": disk.free,
                    "total_bytes": disk.total,
                    "free_gib": _gib(disk.free),
                }
                for disk in self.disks
            ],
            "warnings": list(self.warnings),
        }


# --- which GPUs CUDA will use ---------------------------------------------------------------------


def visible_devices(spec: str | None, uuids: list[str]) -> list[int] | None:
    """nvidia-smi indices of the GPUs that CUDA_VISIBLE_DEVICES=`spec` leaves, in CUDA's order.

    None when the variable is unset (every GPU). As CUDA does, an entry is an index or a UUID (a
    unique prefix is enough, with or without "GPU-"), and the list ends at the first entry that
    names no GPU or repeats one; "" and "-1" hide every GPU. MIG instances are not resolved here.
    """
    if spec is None:
        return None
    chosen: list[int] = []
    for raw in spec.split(","):
        token = raw.strip().lower()
        if token.lstrip("-").isdigit():
            number = int(token)
            if not 0 <= number < len(uuids):
                break
            index = number
        else:
            if not token:
                break
            wanted = token if token.startswith("gpu-") else f"gpu-{token}"
            matches = [i for i, uuid in enumerate(uuids) if uuid.lower().startswith(wanted)]
            if len(matches) != 1:
                break
            index = matches[0]
        if index in chosen:
            break
        chosen.append(index)
    return chosen


# --- NVML, kept open ------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _describe_start_failure(error: BaseException) -> str:
    # By class name, so that any NVML module (pynvml, or the tests' stand-in raising pynvml's errors) works.
    kind = type(error).__name__
    if kind == "NVMLError_LibraryNotFound":
        return (
            "No NVIDIA driver found: NVML's library (libnvidia-ml.so.1) is not on this machine; "
            "plan for a card you would rent instead."
        )
    if kind == "NVMLError_DriverNotLoaded":
        return (
            "No NVIDIA driver found: the NVIDIA kernel driver is not loaded (check `nvidia-smi`); "
            "plan for a card you would rent instead."
        )
    if kind == "NVMLError_NoPermission":
        return "NVML refused to read the GPUs (insufficient permissions); run ftui as a user who can run `nvidia-smi`."
    if kind == "NVMLError_LibRmVersionMismatch":
        return (
            "The NVIDIA driver and its NVML library differ in version (updated without a reboot?); "
            "reboot or reinstall the driver."
        )
    return f"NVML could not start ({error}); check that `nvidia-smi` works."


@dataclass
class _Device:
    index: int
    nvml_index: int
    handle: Any
    name: str
    uuid: str
    memory_total: int
    compute_capability: str | None
    bf16: bool | None
    power_limit_w: float | None


class NvmlSession:
    """NVML initialised once, with its devices resolved; every read after that is the poll."""

    def __init__(self, nvml: Any) -> None:
        self.nvml = nvml
        self.error: str | None = None
        self.devices: list[_Device] = []
        self.driver_version: str | None = None
        self.cuda_version: str | None = None
        self.warnings: list[str] = []
        self.visible_spec = os.environ.get("CUDA_VISIBLE_DEVICES")
        self._open()

    def read(self, function: str, *args: Any) -> Any:
        """One NVML call; None where this driver or nvidia-ml-py does not have it or it fails (nvitop's N/A)."""
        call = getattr(self.nvml, function, None)
        if call is None:
            return None
        try:
            return call(*args)
        except self.nvml.NVMLError:
            return None

    def _open(self) -> None:
        nvml = self.nvml
        if nvml is None:
            self.error = (
                "nvidia-ml-py is not installed, so ftui cannot read NVIDIA GPUs; "
                "run `pip install nvidia-ml-py`."
            )
            return
        try:
            nvml.nvmlInit()
        except (nvml.NVMLError, OSError) as error:
            self.error = _describe_start_failure(error)
            return
        driver = self.read("nvmlSystemGetDriverVersion")
        self.driver_version = _text(driver) if driver is not None else None
        cuda = self.read("nvmlSystemGetCudaDriverVersion_v2") or self.read("nvmlSystemGetCudaDriverVersion")
        self.cuda_version = f"{cuda // 1000}.{cuda % 1000 // 10}" if cuda else None
        count = self.read("nvmlDeviceGetCount") or 0
        if count == 0:
            self.error = "NVML sees no NVIDIA GPU on this machine; plan for a card you would rent instead."
            return
        handles = [self.read("nvmlDeviceGetHandleByIndex", i) for i in range(count)]
        uuids = [_text(self.read("nvmlDeviceGetUUID", h) or "") if h is not None else "" for h in handles]
        order = visible_devices(self.visible_spec, uuids)
        if order is None:
            order = list(range(count))
        elif not order:
            self.error = (
                f"CUDA_VISIBLE_DEVICES={self.visible_spec!r} hides every GPU ({count} present); "
                "unset it or name a GPU index or UUID."
            )
            return
        for cuda_index, nvml_index in enumerate(order):
            handle = handles[nvml_index]
            if handle is None:
                self.warnings.append(f"GPU {nvml_index} did not answer NVML and is left out.")
                continue
            self.devices.append(self._describe(cuda_index, nvml_index, handle, uuids[nvml_index]))
        names = {device.name for device in self.devices}
        if len(names) > 1 and os.environ.get("CUDA_DEVICE_ORDER") != "PCI_BUS_ID":
            # CUDA numbers fastest-first by default, nvidia-smi by PCI bus: on a mixed box they can differ.
            self.warnings.append(
                "These GPUs differ; set CUDA_DEVICE_ORDER=PCI_BUS_ID so that training "
                "numbers them as shown here."
            )
        if not self.devices:
            self.error = "No NVIDIA GPU answered NVML; check `nvidia-smi`."

    def _describe(self, cuda_index: int, nvml_index: int, handle: Any, uuid: str) -> _Device:
        memory = self.read("nvmlDeviceGetMemoryInfo", handle)
        capability = self.read("nvmlDeviceGetCudaComputeCapability", handle)
        limit = self.read("nvmlDeviceGetEnforcedPowerLimit", handle)
        name = self.read("nvmlDeviceGetName", handle)
        return _Device(
            index=cuda_index,
            nvml_index=nvml_index,
            handle=handle,
            name=_text(name) if name is not None else f"GPU {nvml_index}",
            uuid=uuid,
            memory_total=int(memory.total) if memory is not None else 0,
            compute_capability=f"{capability[0]}.{capability[1]}" if capability else None,
            bf16=capability[0] >= BF16_MIN_CAPABILITY if capability else None,
            power_limit_w=limit / 1000 if limit is not None else None,
        )

    def sample(self, device: _Device) -> tuple[GpuSample, int | None]:
        """The per-tick reading: memory, utilization, temperature, power (four NVML calls)."""
        memory = self.read("nvmlDeviceGetMemoryInfo", device.handle)
        rates = self.read("nvmlDeviceGetUtilizationRates", device.handle)
        temperature = self.read(
            "nvmlDeviceGetTemperature", device.handle, getattr(self.nvml, "NVML_TEMPERATURE_GPU", 0)
        )
        power = self.read("nvmlDeviceGetPowerUsage", device.handle)
        sample = GpuSample(
            index=device.index,
            name=device.name,
            memory_total=int(memory.total) if memory is not None else device.memory_total,
            memory_used=int(memory.used) if memory is not None else None,
            utilization=int(rates.gpu) if rates is not None else None,
            temperature=int(temperature) if temperature is not None else None,
            power_w=round(power / 1000, 1) if power is not None else None,
        )
        return sample, int(memory.free) if memory is not None else None

    def processes(self, device: _Device) -> tuple[GpuProcess, ...]:
        found: dict[int, GpuProcess] = {}
        for function in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
            for process in self.read(function, device.handle) or []:
                pid = int(process.pid)
                used = getattr(process, "usedGpuMemory", None)
                if pid not in found:
                    found[pid] = GpuProcess(
                        pid=pid, name=_process_name(pid), memory_used=int(used) if used is not None else None
                    )
        return tuple(found.values())


def _process_name(pid: int) -> str | None:
    import psutil

    try:
        return psutil.Process(pid).name()
    except (psutil.Error, OSError):
        return None  # gone, or in another PID namespace


def _import_pynvml() -> Any:
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


_sessions: dict[int, NvmlSession] = {}
_sessions_lock = threading.Lock()


def nvml_session(nvml: Any = None) -> NvmlSession:
    """The open session for this NVML source (pynvml when None), started on first use."""
    source = _import_pynvml() if nvml is None else nvml
    with _sessions_lock:
        session = _sessions.get(id(source))
        if session is None or session.nvml is not source:
            session = _sessions[id(source)] = NvmlSession(source)
        return session


def close_sessions() -> None:
    """Shut NVML down and forget the sessions (a later call starts afresh, e.g. after CUDA_VISIBLE_DEVICES changed)."""
    with _sessions_lock:
        for session in _sessions.values():
            if session.error is None and session.nvml is not None:
                session.read("nvmlShutdown")
        _sessions.clear()


# --- the probe ------------------------------------------------------------------------------------


def sample_gpus(nvml: Any = None) -> GpuSamples:
    """The gauge's per-tick reading: four NVML calls per GPU, nothing else."""
    session = nvml_session(nvml)
    if session.error:
        return GpuSamples(gpus=(), gpu_error=session.error)
    return GpuSamples(gpus=tuple(session.sample(device)[0] for device in session.devices))


def disk_space(purpose: str, path: Path) -> DiskSpace:
    """Free space on the filesystem that holds `path`, or will once it is created."""
    import psutil

    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        usage = psutil.disk_usage(str(existing))
    except OSError:
        return DiskSpace(purpose=purpose, path=str(path), free=None, total=None)
    return DiskSpace(purpose=purpose, path=str(path), free=usage.free, total=usage.total)


def probe(nvml: Any = None, *, runs_dir: Path | None = None, processes: bool = True) -> Hardware:
    """The whole picture: GPUs (through `nvml`, pynvml by default), CPU, RAM, and disk for models and runs."""
    import psutil

    from ftui.core.paths import runs_dir as default_runs_dir

    session = nvml_session(nvml)
    gpus: list[GpuInfo] = []
    if not session.error:
        for device in session.devices:
            sample, free = session.sample(device)
            gpus.append(
                GpuInfo(
                    index=device.index,
                    nvml_index=device.nvml_index,
                    name=device.name,
                    uuid=device.uuid,
                    memory_total=sample.memory_total,
                    memory_used=sample.memory_used,
                    memory_free=free,
                    utilization=sample.utilization,
                    temperature=sample.temperature,
                    power_w=sample.power_w,
                    power_limit_w=device.power_limit_w,
                    compute_capability=device.compute_capability,
                    bf16=device.bf16,
                    processes=session.processes(device) if processes else (),
                )
            )
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on every platform
        usable = psutil.cpu_count(logical=True)
    memory = psutil.virtual_memory()
    return Hardware(
        gpus=gpus,
        gpu_error=session.error,
        driver_version=session.driver_version,
        cuda_version=session.cuda_version,
        cpu_cores=psutil.cpu_count(logical=False),
        cpu_threads=psutil.cpu_count(logical=True),
        cpu_usable=usable,
        ram_total=memory.total,
        ram_available=memory.available,
        disks=[disk_space("hf_cache", hub_cache_dir()), disk_space("runs", runs_dir or default_runs_dir())],
        cuda_visible_devices=session.visible_spec,
        warnings=list(session.warnings),
    )
