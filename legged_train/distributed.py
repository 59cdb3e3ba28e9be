"""Data-parallel training over processes (one per GPU, or several on a CPU) with torch.distributed.

Every rank steps its own envs with its own seed and computes gradients on its own rollout; the
ranks stay one model: parameters are broadcast from rank 0 at the start, gradients are averaged
before each optimizer step, the KL that drives the adaptive learning rate is averaged, and the
observation normalizers are updated with the moments of all ranks' data. Rank 0 logs, evaluates and
saves. NCCL on GPUs, gloo on CPUs (rsl_rl hard-codes NCCL; tests here run two gloo ranks).

Outside a process group every function here is the single-process identity, so the algorithms
call them unconditionally.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import NoReturn

import torch
import torch.distributed as dist

LAUNCH_HINT = "launch with: torchrun --nproc_per_node N train.py --task TASK --distributed"


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def init_from_torchrun(device: torch.device) -> torch.device:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT).

    Returns this rank's device: ``cuda:LOCAL_RANK`` when training on CUDA, else the CPU."""
    missing = [name for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT") if name not in os.environ]
    if missing:
        raise ValueError(f"--distributed: {', '.join(missing)} not set, so this is not a torchrun process; {LAUNCH_HINT}")
    if device.type == "cuda":
        local_rank = int(os.environ["LOCAL_RANK"])
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"--distributed: LOCAL_RANK={local_rank} but this machine has {torch.cuda.device_count()} CUDA devices")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return device


def shutdown() -> None:
    """Leave the process group together: a rank tearing down its connections while another still
    uses them (rank 0 saving its last checkpoint) can abort the other's communication threads."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def exit_process(code: int) -> NoReturn:
    """End a rank's process once it has left the process group, skipping the interpreter's
    teardown. There, objects of c10d and gloo that ``destroy_process_group`` left alive are
    destroyed in no set order with their threads, and a rank now and then died of SIGABRT
    ("terminate called without an active exception") after a complete run: everything is saved
    and closed before this is called, so only the exit code has to reach torchrun."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def broadcast_module(module: torch.nn.Module) -> None:
    """Rank 0's parameters and buffers (normalizer statistics included) to every rank."""
    if not is_distributed():
        return
    for tensor in module.state_dict().values():  # views of the parameters and buffers
        dist.broadcast(tensor, src=0)


def average_gradients(parameters: Iterable[torch.nn.Parameter]) -> None:
    """Replace each gradient by its mean over the ranks (one collective for all of them)."""
    if not is_distributed():
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def mean_over_ranks(value: torch.Tensor) -> torch.Tensor:
    if not is_distributed():
        return value
    value = value.detach().clone()
    dist.all_reduce(value)
    return value / world_size()


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when it is True on some rank (a stop request, say)."""
    if not is_distributed():
        return flag
    value = torch.tensor([float(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def batch_moments(x: torch.Tensor) -> tuple[int, torch.Tensor, torch.Tensor]:
    """Count, mean and (biased) variance of the rows of ``x`` over every rank's rows: what one
    process that saw all ranks' data would compute."""
    if not is_distributed():
        return x.shape[0], x.mean(dim=0), x.var(dim=0, unbiased=False)
    stats = torch.cat([x.sum(dim=0), torch.tensor([float(x.shape[0])], device=x.device, dtype=x.dtype)])
    dist.all_reduce(stats)
    count = int(stats[-1].item())
    mean = stats[:-1] / count
    squares = (x - mean).square().sum(dim=0)
    dist.all_reduce(squares)
    return count, mean, squares / count
