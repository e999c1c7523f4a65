"""The probe against a stand-in NVML (this machine has no GPU), and the no-driver path for real."""

import os

import psutil
import pynvml
import pytest

from ftui.core.hardware import GIB, NvmlSession, nvml_session, probe, sample_gpus, visible_devices
from tests.fakes.nvml import FakeNvml, h200, t4


@pytest.fixture(autouse=True)
def all_gpus_visible(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)


def test_an_h200_is_read_whole(tmp_path):
    nvml = FakeNvml([h200(memory_used=12 * GIB, utilization=37, temperature=44, power_mw=123_400)])
    hardware = probe(nvml, runs_dir=tmp_path / "runs")
    assert hardware.gpu_error is None
    assert hardware.driver_version == "580.159.04"
    assert hardware.cuda_version == "13.0"
    (gpu,) = hardware.gpus
    assert (gpu.index, gpu.nvml_index, gpu.name) == (0, 0, "NVIDIA H200")
    assert gpu.uuid.startswith("GPU-5e1d3a4c")
    assert gpu.memory_total == 143771 * 1024**2
    assert gpu.memory_used == 12 * GIB
    assert gpu.memory_free == gpu.memory_total - 12 * GIB
    assert round(gpu.memory_total_gib, 1) == 140.4
    assert (gpu.utilization, gpu.temperature, gpu.power_w, gpu.power_limit_w) == (37, 44, 123.4, 700.0)
    assert (gpu.compute_capability, gpu.bf16) == ("9.0", True)
    choice = hardware.gpu_choice(0)
    assert choice is not None and choice.detected and choice.bf16 and choice.vram_gib == 140.4
    assert hardware.gpu_choice(1) is None


def test_a_turing_card_has_no_bf16():
    (gpu,) = probe(FakeNvml([t4()])).gpus
    assert (gpu.compute_capability, gpu.bf16) == ("7.5", False)


def test_calls_this_driver_does_not_support_become_none_not_a_crash():
    unsupported = {
        "nvmlDeviceGetUtilizationRates",
        "nvmlDeviceGetTemperature",
        "nvmlDeviceGetPowerUsage",
        "nvmlDeviceGetEnforcedPowerLimit",
        "nvmlDeviceGetCudaComputeCapability",
        "nvmlDeviceGetComputeRunningProcesses",
        "nvmlSystemGetDriverVersion",
    }
    nvml = FakeNvml([h200()], unsupported=unsupported, missing={"nvmlSystemGetCudaDriverVersion_v2"})
    hardware = probe(nvml)
    (gpu,) = hardware.gpus
    assert gpu.memory_total > 0
    assert (gpu.utilization, gpu.temperature, gpu.power_w, gpu.power_limit_w) == (None, None, None, None)
    assert (gpu.compute_capability, gpu.bf16, gpu.processes) == (None, None, ())
    assert (hardware.driver_version, hardware.cuda_version) == (None, None)
    assert hardware.to_dict()["gpus"][0]["bf16"] is None
    (sample,) = sample_gpus(nvml).gpus
    assert sample.memory_used == gpu.memory_used and sample.utilization is None


@pytest.mark.parametrize(
    ("code", "start"),
    [
        (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "No NVIDIA driver found: NVML's library"),
        (
            pynvml.NVML_ERROR_DRIVER_NOT_LOADED,
            "No NVIDIA driver found: the NVIDIA kernel driver is not loaded",
        ),
        (pynvml.NVML_ERROR_NO_PERMISSION, "NVML refused to read the GPUs"),
        (pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH, "The NVIDIA driver and its NVML library differ"),
        (pynvml.NVML_ERROR_UNKNOWN, "NVML could not start (Unknown Error)"),
    ],
)
def test_nvml_that_cannot_start_is_a_clear_state(code, start):
    nvml = FakeNvml(init_error=code)
    hardware = probe(nvml)
    assert hardware.gpus == []
    assert hardware.gpu_error.startswith(start)
    assert hardware.gpu_error.endswith(".")
    assert sample_gpus(nvml).gpu_error == hardware.gpu_error
    assert hardware.ram_total > 0  # the rest of the probe still answers


def test_no_gpu_behind_a_working_driver():
    hardware = probe(FakeNvml([]))
    assert hardware.gpus == [] and hardware.gpu_error.startswith("NVML sees no NVIDIA GPU")
    assert hardware.driver_version == "580.159.04"


def test_without_nvidia_ml_py_the_state_says_how_to_install_it():
    session = NvmlSession(None)
    assert session.devices == [] and "pip install nvidia-ml-py" in session.error


def test_nvml_is_started_once_and_the_poll_rereads_what_moves():
    gpu = h200(memory_used=2 * GIB)
    nvml = FakeNvml([gpu])
    assert sample_gpus(nvml).gpus[0].memory_used == 2 * GIB
    gpu.memory_used, gpu.utilization = 50 * GIB, 99
    for _ in range(4):
        probe(nvml, processes=False)
        (sample,) = sample_gpus(nvml).gpus
    assert (sample.memory_used, sample.utilization) == (50 * GIB, 99)
    assert nvml.initialised == 1 and nvml.calls["nvmlInit"] == 1
    assert nvml.calls["nvmlDeviceGetName"] == 1  # what never changes is read once
    assert nvml.calls["nvmlDeviceGetMemoryInfo"] == 1 + 1 + 4 * 2  # open, then one per reading
    assert nvml_session(nvml) is nvml_session(nvml)


def test_processes_are_named_where_visible():
    mine = os.getpid()
    gone = max(psutil.pids()) + 100_000
    nvml = FakeNvml([h200(processes=[(mine, 3 * GIB), (gone, None)])])
    (gpu,) = probe(nvml).gpus
    by_pid = {p.pid: p for p in gpu.processes}
    assert by_pid[mine].name == psutil.Process(mine).name() and by_pid[mine].memory_used == 3 * GIB
    assert by_pid[gone].name is None and by_pid[gone].memory_used is None
    assert probe(nvml, processes=False).gpus[0].processes == ()


UUIDS = ["GPU-aaaa1111-0", "GPU-bbbb2222-1", "GPU-aaab3333-2"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, None),
        ("", []),
        ("-1", []),
        ("2,0", [2, 0]),
        (" 1 ", [1]),
        ("0,7,1", [0]),  # CUDA stops at the first entry naming no GPU
        ("1,1", [1]),  # and at a repeat
        ("GPU-bbbb2222-1", [1]),
        ("GPU-bbbb", [1]),  # a unique prefix is enough
        ("bbbb", [1]),  # with or without GPU-
        ("GPU-aaa,0", []),  # an ambiguous prefix names nothing
        ("gpu-AAAB", [2]),
        ("MIG-1234", []),
    ],
)
def test_cuda_visible_devices_as_cuda_reads_it(spec, expected):
    assert visible_devices(spec, UUIDS) == expected


def test_probe_honours_cuda_visible_devices(monkeypatch):
    gpus = [h200(0), h200(1), h200(2)]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", f"2,{gpus[0].uuid}")
    hardware = probe(FakeNvml(gpus))
    assert [(g.index, g.nvml_index, g.uuid) for g in hardware.gpus] == [
        (0, 2, gpus[2].uuid),
        (1, 0, gpus[0].uuid),
    ]
    assert hardware.cuda_visible_devices == f"2,{gpus[0].uuid}"
    assert [s.index for s in sample_gpus(FakeNvml(gpus)).gpus] == [0, 1]


def test_cuda_visible_devices_that_hides_every_gpu_says_so(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    hardware = probe(FakeNvml([h200(0), h200(1)]))
    assert hardware.gpus == []
    assert (
        hardware.gpu_error
        == "CUDA_VISIBLE_DEVICES='' hides every GPU (2 present); unset it or name a GPU index or UUID."
    )


def test_mixed_cards_warn_about_cuda_order():
    hardware = probe(FakeNvml([h200(0), t4(1)]))
    assert [g.name for g in hardware.gpus] == ["NVIDIA H200", "Tesla T4"]
    assert any("CUDA_DEVICE_ORDER=PCI_BUS_ID" in w for w in hardware.warnings)


def test_ram_cpu_and_disk_are_this_machines(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    hardware = probe(FakeNvml([]), runs_dir=tmp_path / "not" / "yet" / "runs")
    assert hardware.ram_total == psutil.virtual_memory().total
    assert 0 < hardware.ram_available <= hardware.ram_total
    assert hardware.cpu_threads == psutil.cpu_count() and 1 <= hardware.cpu_usable <= hardware.cpu_threads
    disks = {d.purpose: d for d in hardware.disks}
    assert disks["hf_cache"].path == str(tmp_path / "hf" / "hub")
    assert disks["runs"].path == str(tmp_path / "not" / "yet" / "runs")  # measured where it will be created
    free = psutil.disk_usage(str(tmp_path)).free
    assert abs(disks["runs"].free - free) < 512 * 1024**2


def test_the_real_nvml_on_a_machine_without_a_driver():
    """No fake: pynvml itself, on this GPU-less machine."""
    hardware = probe()
    if hardware.gpus:
        pytest.skip("this machine has an NVIDIA GPU")
    assert hardware.gpu_error.startswith("No NVIDIA driver found") or "no NVIDIA GPU" in hardware.gpu_error
    assert sample_gpus().gpus == ()
