"""torch's intra-op thread count, set for a block of code."""

from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def torch_threads(num_threads: int):
    """Run the block with `num_threads` torch threads (0: leave as is), then restore the count.

    Why it matters on a small CPU: idle OpenMP workers spin after each op and take the cores a
    simulator's thread pool needs (measured 1.5x slower env steps on 2 cores), while the env's small
    tensors gain nothing from a second thread. The PPO update, with mjbatch idle, does gain."""
    previous = torch.get_num_threads()
    if num_threads == 0 or num_threads == previous:
        yield
        return
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
