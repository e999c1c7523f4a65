"""A stand-in for the `pynvml` module (nvidia-ml-py), for a machine with no NVIDIA GPU.

The only fake in the suite: it stands for the NVIDIA driver, which cannot exist here, never for ftui's
code. It has the functions ftui.core.hardware calls, with pynvml's names and return shapes, and raises
pynvml's own error classes, so the code under test handles exactly what it would get from a driver.
Pass an instance where the probe takes `nvml=`.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace

import pynvml

GIB = 1024**3

# Re-exported so that `except nvml.NVMLError` in the code under test catches what this fake raises.
NVMLError = pynvml.NVMLError
NVMLError_NotSupported = pynvml.NVMLError_NotSupported
NVML_TEMPERATURE_GPU = pynvml.NVML_TEMPERATURE_GPU


@dataclass
class FakeGpu:
    name: str = "NVIDIA H200"
    uuid: str = "GPU-5e1d3a4c-0000-4000-8000-000000000000"
    memory_total: int = 143771 * 1024**2  # what nvidia-smi reports for an H200
    memory_used: int = 1 * GIB
    utilization: int = 0
    temperature: int = 31
    power_mw: int = 75_000
    power_limit_mw: int = 700_000
    capability: tuple[int, int] = (9, 0)
    processes: list[tuple[int, int | None]] = field(default_factory=list)  # (pid, used bytes)


def h200(i: int = 0, **changes) -> FakeGpu:
    return FakeGpu(uuid=f"GPU-5e1d3a4c-0000-4000-8000-00000000000{i}", **changes)


def t4(i: int = 0, **changes) -> FakeGpu:
    return FakeGpu(
        name="Tesla T4",
        uuid=f"GPU-7a7a0000-0000-4000-8000-00000000000{i}",
        memory_total=15360 * 1024**2,
        capability=(7, 5),
        power_limit_mw=70_000,
        **changes,
    )


def _error(code: int) -> pynvml.NVMLError:
    return pynvml.NVMLError(code)  # pynvml maps the code to its subclass, e.g. NVMLError_NotSupported


class FakeNvml:
    """The NVML of a machine holding `gpus`.

    init_error: an NVML error code that nvmlInit raises (e.g. pynvml.NVML_ERROR_LIBRARY_NOT_FOUND).
    unsupported: names of calls that raise NVMLError_NotSupported, as on a driver without them.
    missing: names of calls this nvidia-ml-py does not have at all (older releases).
    moving: each memory/utilization read moves the numbers a little, so a live gauge has something to draw.
    `calls` counts every call by name.
    """

    def __init__(
        self,
        gpus: list[FakeGpu] | None = None,
        *,
        init_error: int | None = None,
        unsupported: set[str] = frozenset(),
        missing: set[str] = frozenset(),
        driver: str = "580.159.04",
        cuda: int = 13000,
        moving: bool = False,
    ) -> None:
        self.gpus = list(gpus) if gpus is not None else [h200()]
        self.init_error = init_error
        self.unsupported = set(unsupported)
        self.driver = driver
        self.cuda = cuda
        self.moving = moving
        self.calls: Counter[str] = Counter()
        self.initialised = 0
        self._tick = itertools.count()
        for name in missing:
            setattr(self, name, None)

    def __getattribute__(self, name: str):
        attribute = object.__getattribute__(self, name)
        if name.startswith("nvml") and callable(attribute):
            object.__getattribute__(self, "calls")[name] += 1
            if name in object.__getattribute__(self, "unsupported"):

                def not_supported(*args, **kwargs):
                    raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)

                return not_supported
            if name != "nvmlInit" and not object.__getattribute__(self, "initialised"):

                def uninitialised(*args, **kwargs):
                    raise _error(pynvml.NVML_ERROR_UNINITIALIZED)

                return uninitialised
        return attribute

    NVMLError = NVMLError
    NVMLError_NotSupported = NVMLError_NotSupported
    NVML_TEMPERATURE_GPU = NVML_TEMPERATURE_GPU

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise _error(self.init_error)
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        self.initialised = 0

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.driver

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        return self.cuda

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        if not 0 <= index < len(self.gpus):
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self.gpus[index]

    def nvmlDeviceGetName(self, gpu: FakeGpu) -> str:
        return gpu.name

    def nvmlDeviceGetUUID(self, gpu: FakeGpu) -> str:
        return gpu.uuid

    def _move(self, gpu: FakeGpu) -> None:
        if self.moving:
            step = next(self._tick)
            gpu.utilization = (gpu.utilization + 17) % 101
            gpu.memory_used = int(gpu.memory_total * (0.2 + 0.5 * ((step * 7) % 10) / 10))

    def nvmlDeviceGetMemoryInfo(self, gpu: FakeGpu, version: int | None = None) -> SimpleNamespace:
        self._move(gpu)
        return SimpleNamespace(
            total=gpu.memory_total, used=gpu.memory_used, free=gpu.memory_total - gpu.memory_used
        )

    def nvmlDeviceGetUtilizationRates(self, gpu: FakeGpu) -> SimpleNamespace:
        return SimpleNamespace(gpu=gpu.utilization, memory=gpu.utilization // 2)

    def nvmlDeviceGetTemperature(self, gpu: FakeGpu, sensor: int) -> int:
        if sensor != NVML_TEMPERATURE_GPU:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return gpu.temperature

    def nvmlDeviceGetPowerUsage(self, gpu: FakeGpu) -> int:
        return gpu.power_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, gpu: FakeGpu) -> int:
        return gpu.power_limit_mw

    def nvmlDeviceGetCudaComputeCapability(self, gpu: FakeGpu) -> tuple[int, int]:
        return gpu.capability

    def nvmlDeviceGetComputeRunningProcesses(self, gpu: FakeGpu) -> list[SimpleNamespace]:
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in gpu.processes]

    def nvmlDeviceGetGraphicsRunningProcesses(self, gpu: FakeGpu) -> list[SimpleNamespace]:
        return []
