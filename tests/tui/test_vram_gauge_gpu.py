"""The gauge against the real NVML of a machine with an NVIDIA GPU (the H200 of the device machine).

A plain test that drives the loop itself, so it runs where pytest-asyncio is not installed.
"""

import asyncio

import pytest

from ftui.core.hardware import probe
from ftui.widgets.vram_gauge import VramGauge
from tests.fakes.gauge_app import GaugeApp

hardware = probe(processes=False)
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not hardware.gpus, reason="needs an NVIDIA GPU")]


def test_the_gauge_watches_the_real_gpu():
    async def scenario() -> str:
        app = GaugeApp(estimate_gib=48.0, interval=0.2)
        async with app.run_test(size=(80, 24)) as pilot:
            gauge = app.query_one(VramGauge)
            for _ in range(250):
                if len(gauge.history(0)) >= 3:
                    break
                await pilot.pause(0.02)
            assert len(gauge.history(0)) >= 3, "the gauge did not tick"
            assert not gauge.can_focus
            sample = gauge.samples.gpus[0]
            if sample.memory_total_gib > 100 and sample.memory_used_gib < 40:  # an idle H100/H200
                assert gauge.fit_for(0) == "fits"
            return gauge.render().plain

    text = asyncio.run(scenario())
    print(text)  # kept in the device log
    first = hardware.gpus[0]
    assert f"GPU 0 {first.name}" in text
    assert f"/ {first.memory_total_gib:.1f} GiB" in text
    assert "plan ┃ 48.0 GiB:" in text and "memory " in text
