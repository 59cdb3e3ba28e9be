import os

# Headless offscreen rendering; must be set before mujoco is imported anywhere.
os.environ.setdefault("MUJOCO_GL", "egl")
# wandb / SwanLab never reach a server from the tests.
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("SWANLAB_MODE", "offline")


import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def one_torch_thread():
    # Test tensors are tiny: a second intra-op thread only adds synchronization on a shared 2-core machine.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
