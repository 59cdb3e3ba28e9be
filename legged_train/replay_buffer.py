"""Replay buffer for off-policy algorithms: a ring of transitions kept on the training device.

Each transition is ``(obs, action, reward, next_obs, terminated)``. Observations are dicts of
named groups (``"policy"``, ``"critic"``, ...), each with its own shape and dtype, so a uint8
camera image and a float32 proprioceptive vector sit side by side without a cast.

Two choices matter for correctness:

- ``terminated`` is stored, not ``dones``: a time-limit truncation is not the end of the MDP, so
  its target still bootstraps from ``next_obs``.
- ``next_obs`` of a finished env is its *final* observation (``extras["final_observation"]``),
  not the first observation of the next episode that autoreset put in ``obs``;
  ``next_observations_from_step`` builds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

ObsSpec = dict[str, tuple[tuple[int, ...], torch.dtype]]


@dataclass
class ReplayBatch:
    obs: dict[str, torch.Tensor]
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: dict[str, torch.Tensor]
    terminated: torch.Tensor


def next_observations_from_step(obs: dict[str, torch.Tensor], dones: torch.Tensor, extras: dict) -> dict[str, torch.Tensor]:
    """The true successor observation of every env after a same-step-autoreset ``env.step``.

    ``obs`` maps group names to what ``step`` returned (already reset on finished rows); the
    finished rows are replaced with ``extras["final_observation"]`` (``"policy"``) or
    ``extras["final_<group>_observation"]`` (other groups, e.g. ``"final_critic_observation"``).
    """
    if not dones.any():
        return obs
    next_obs = {}
    for name, value in obs.items():
        key = "final_observation" if name == "policy" else f"final_{name}_observation"
        if key not in extras:
            raise KeyError(f"next_observations_from_step: extras lack {key!r}, needed for the {name!r} group")
        final = extras[key].to(value.device, value.dtype).view_as(value)
        finished = dones.view(-1, *([1] * (value.dim() - 1)))
        next_obs[name] = torch.where(finished, final, value)
    return next_obs


class ReplayBuffer:
    """Fixed-capacity ring buffer of transitions, all tensors preallocated on ``device``.

    Args:
        capacity: number of transitions kept; the oldest are overwritten first.
        obs_spec: ``{group: (shape, dtype)}`` of one observation, e.g.
            ``{"policy": ((4,), torch.float32)}``.
        action_shape / action_dtype: one action, e.g. ``()`` and ``torch.long`` for a Discrete
            space, ``(act_dim,)`` and ``torch.float32`` for a Box.
    """

    def __init__(
        self,
        capacity: int,
        obs_spec: ObsSpec,
        action_shape: tuple[int, ...],
        action_dtype: torch.dtype,
        device: str | torch.device = "cpu",
    ):
        if capacity < 1:
            raise ValueError(f"ReplayBuffer: capacity={capacity} is invalid; allowed: an integer >= 1")
        if not obs_spec:
            raise ValueError("ReplayBuffer: obs_spec is empty; give at least one observation group")
        self.capacity = int(capacity)
        self.device = torch.device(device)
        self.obs_spec = {name: (tuple(shape), dtype) for name, (shape, dtype) in obs_spec.items()}
        self.action_shape = tuple(action_shape)
        self.action_dtype = action_dtype

        def alloc(shape, dtype):
            return torch.zeros((self.capacity, *shape), dtype=dtype, device=self.device)

        self.obs = {name: alloc(shape, dtype) for name, (shape, dtype) in self.obs_spec.items()}
        self.next_obs = {name: alloc(shape, dtype) for name, (shape, dtype) in self.obs_spec.items()}
        self.actions = alloc(self.action_shape, action_dtype)
        self.rewards = alloc((), torch.float32)
        self.terminated = alloc((), torch.bool)
        self.pos = 0  # next row to write
        self.size = 0  # rows holding real transitions

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        obs: dict[str, torch.Tensor],
        actions: torch.Tensor,
        rewards: torch.Tensor,
        next_obs: dict[str, torch.Tensor],
        terminated: torch.Tensor,
    ) -> None:
        """Store a batch of N transitions (one per env); wraps around the end of the ring."""
        n = rewards.shape[0]
        if set(obs) != set(self.obs_spec) or set(next_obs) != set(self.obs_spec):
            raise KeyError(
                f"ReplayBuffer.add: observation groups {sorted(obs)} / {sorted(next_obs)} do not match "
                f"the buffer's {sorted(self.obs_spec)}"
            )
        if n > self.capacity:
            # Only the last `capacity` transitions would survive anyway.
            keep = slice(n - self.capacity, n)
            obs = {k: v[keep] for k, v in obs.items()}
            next_obs = {k: v[keep] for k, v in next_obs.items()}
            actions, rewards, terminated = actions[keep], rewards[keep], terminated[keep]
            n = self.capacity
        rows = (self.pos + torch.arange(n, device=self.device)) % self.capacity
        for name in self.obs_spec:
            self.obs[name][rows] = obs[name].to(self.device, self.obs[name].dtype).view(n, *self.obs_spec[name][0])
            self.next_obs[name][rows] = next_obs[name].to(self.device, self.obs[name].dtype).view(
                n, *self.obs_spec[name][0]
            )
        self.actions[rows] = actions.to(self.device, self.action_dtype).reshape(n, *self.action_shape)
        self.rewards[rows] = rewards.to(self.device, torch.float32).reshape(n)
        self.terminated[rows] = terminated.to(self.device, torch.bool).reshape(n)
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> ReplayBatch:
        """Uniformly sample ``batch_size`` stored transitions (with replacement).

        Only the ``size`` written rows are eligible, so the zero rows of a buffer that has not
        wrapped yet are never returned.
        """
        if self.size == 0:
            raise RuntimeError("ReplayBuffer.sample: the buffer is empty; add transitions first")
        idx = torch.randint(0, self.size, (batch_size,), device=self.device, generator=generator)
        return ReplayBatch(
            obs={name: value[idx] for name, value in self.obs.items()},
            actions=self.actions[idx],
            rewards=self.rewards[idx],
            next_obs={name: value[idx] for name, value in self.next_obs.items()},
            terminated=self.terminated[idx],
        )

    def state_dict(self) -> dict:
        """The stored rows and ring position (only the ``size`` filled rows, to keep files small)."""
        used = slice(0, self.size)
        return {
            "capacity": self.capacity,
            "pos": self.pos,
            "size": self.size,
            "obs": {name: value[used].cpu() for name, value in self.obs.items()},
            "next_obs": {name: value[used].cpu() for name, value in self.next_obs.items()},
            "actions": self.actions[used].cpu(),
            "rewards": self.rewards[used].cpu(),
            "terminated": self.terminated[used].cpu(),
        }

    def load_state_dict(self, state: dict) -> None:
        if state["capacity"] != self.capacity:
            raise ValueError(
                f"ReplayBuffer.load_state_dict: saved capacity {state['capacity']} != this buffer's {self.capacity}"
            )
        if set(state["obs"]) != set(self.obs_spec):
            raise KeyError(
                f"ReplayBuffer.load_state_dict: saved groups {sorted(state['obs'])} != this buffer's {sorted(self.obs_spec)}"
            )
        size = int(state["size"])
        for name in self.obs_spec:
            self.obs[name][:size] = state["obs"][name].to(self.device)
            self.next_obs[name][:size] = state["next_obs"][name].to(self.device)
        self.actions[:size] = state["actions"].to(self.device)
        self.rewards[:size] = state["rewards"].to(self.device)
        self.terminated[:size] = state["terminated"].to(self.device)
        self.pos = int(state["pos"])
        self.size = size
