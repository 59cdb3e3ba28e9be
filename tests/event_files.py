"""TensorBoard event files read back with TensorBoard's own reader, as the tests check what a run logged."""

from __future__ import annotations

import os

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def read_scalars(log_dir) -> dict[str, dict[int, float]]:
    """Every scalar in the event files directly in ``log_dir``: ``{tag: {step: value}}``."""
    scalars: dict[str, dict[int, float]] = {}
    for name in sorted(os.listdir(log_dir)):
        if name.startswith("events.out.tfevents"):
            accumulator = EventAccumulator(os.path.join(log_dir, name))
            accumulator.Reload()
            for tag in accumulator.Tags()["scalars"]:
                scalars.setdefault(tag, {}).update({event.step: event.value for event in accumulator.Scalars(tag)})
    return scalars
