"""The steps of the flow, in the order a mentor would ask them. Each is a thin screen module, imported
only when first shown so that start-up pays for the first screen alone."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    name: str  # the screen's name in the app
    key: str  # the key that opens it
    title: str
    module: str
    cls: str


STEPS: tuple[Step, ...] = (
    Step("use_case", "1", "Use case", "ftui.screens.use_case", "UseCaseScreen"),
    Step("hardware", "2", "Hardware", "ftui.screens.hardware", "HardwareScreen"),
    Step("license", "3", "License", "ftui.screens.license", "LicenseScreen"),
    Step("data", "4", "Data", "ftui.screens.data", "DataScreen"),
    Step("models", "5", "Models", "ftui.screens.models", "ModelsScreen"),
    Step("train", "6", "Train", "ftui.screens.train", "TrainScreen"),
    Step("runs", "7", "Runs", "ftui.screens.runs", "RunsScreen"),
    Step("try", "8", "Try", "ftui.screens.try_step", "TryScreen"),
)
STEP_NAMES: tuple[str, ...] = tuple(step.name for step in STEPS)


def step_named(name: str) -> Step:
    for step in STEPS:
        if step.name == name:
            return step
    raise KeyError(name)
