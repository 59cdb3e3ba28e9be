"""Rollout storage for on-policy learning: fixed-size (steps x envs) tensors, GAE, minibatches.

Feed-forward networks learn from shuffled single steps (``minibatches``); recurrent ones from whole
trajectories (``recurrent_minibatches``): each env's column of the rollout split at its dones,
padded at the end, with masks, and the hidden state each trajectory started from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch


class CompactObservations:
    """(steps, envs, width) observations with some columns (images) kept in float16, half the bytes.

    float16 holds a value in [0, 1] (the ``depth_image`` term's range) to within 2^-12 (2.4e-4: under
    half a millimetre of a 2 m depth range); the other columns stay float32, exact. Reads give float32.
    ``depth_image`` at 64 x 48 for 256 envs x 24 steps: 75.5 MB in float32, 37.7 MB so."""

    def __init__(self, num_steps: int, num_envs: int, half_columns: torch.Tensor, device: torch.device):
        self.shape = (num_steps, num_envs, len(half_columns))
        self.half = half_columns.nonzero().squeeze(1).to(device)
        self.full = (~half_columns).nonzero().squeeze(1).to(device)
        self.full_values = torch.zeros(num_steps, num_envs, len(self.full), device=device)
        self.half_values = torch.zeros(num_steps, num_envs, len(self.half), dtype=torch.float16, device=device)

    def write(self, step: int, obs: torch.Tensor) -> None:
        self.full_values[step] = obs[:, self.full]
        self.half_values[step] = obs[:, self.half]

    def rows(self, index: torch.Tensor) -> torch.Tensor:
        """Rows of the (steps * envs, width) flattened observations: ``index`` of any shape."""
        out = torch.empty(*index.shape, self.shape[2], device=self.full_values.device)
        out[..., self.full] = self.full_values.flatten(0, 1)[index]
        out[..., self.half] = self.half_values.flatten(0, 1)[index].float()
        return out

    def flatten(self, start: int = 0, end: int = 1) -> FlatRows:
        """(steps * envs, width) rows, read as they are indexed (``flat[ids]``), or all at once (``flat[:]``)."""
        return FlatRows(self)


class FlatRows:
    """The flattened view of ``CompactObservations``: ``[index]`` gives float32 rows."""

    def __init__(self, source: CompactObservations):
        self.source = source

    def __getitem__(self, index) -> torch.Tensor:
        if isinstance(index, slice):
            index = torch.arange(self.source.shape[0] * self.source.shape[1], device=self.source.full_values.device)[index]
        return self.source.rows(index)


@dataclass
class Minibatch:
    """Samples for one gradient step.

    Feed-forward: every field is flat, (batch, ...). Recurrent (``masks`` set): ``obs`` and
    ``critic_obs`` are padded trajectories (time, trajectories, dim), ``masks`` (time, trajectories)
    marks their real steps and the ``*_hidden_states`` (num_layers, trajectories, hidden) are the
    states each trajectory started from (None for a feed-forward network); every other field holds
    the real steps only, flat, in the order ``padded[masks]`` lists them.
    """

    obs: torch.Tensor
    critic_obs: torch.Tensor
    actions: torch.Tensor
    old_log_probs: torch.Tensor
    old_values: torch.Tensor
    old_mean: torch.Tensor
    old_std: torch.Tensor
    returns: torch.Tensor
    advantages: torch.Tensor
    masks: torch.Tensor | None = None
    actor_hidden_states: tuple[torch.Tensor, ...] | None = None
    critic_hidden_states: tuple[torch.Tensor, ...] | None = None
    teacher_actions: torch.Tensor | None = None


class RolloutStorage:
    """Holds one rollout of ``num_steps`` transitions from each of ``num_envs`` envs.

    ``dones[t]`` marks the end of an episode at step t (terminated or truncated): GAE does not
    look past it. The value of a truncated step's final observation is folded into its reward
    before it is stored (see ``PPO.process_env_step``), so truncation still bootstraps.

    For recurrent networks, ``actor_hidden_shapes`` / ``critic_hidden_shapes`` give the shapes of a
    network's per-step state tensors, (num_layers, num_envs, hidden) each (one for a GRU, two for an
    LSTM); the storage then also keeps, for every step, the state the network started that step from.

    ``half_obs_columns`` / ``half_critic_obs_columns``: boolean masks over the observation columns to
    keep in float16 (images: ``CompactObservations``); ``obs`` / ``critic_obs`` are then that object.

    ``teacher_actions``: also keep a frozen teacher's action at every step (PPO's ``teacher_coef``).
    """

    def __init__(
        self,
        num_envs: int,
        num_steps: int,
        num_obs: int,
        num_critic_obs: int,
        num_actions: int,
        device: torch.device | str = "cpu",
        actor_hidden_shapes: list[tuple[int, ...]] | None = None,
        critic_hidden_shapes: list[tuple[int, ...]] | None = None,
        half_obs_columns: torch.Tensor | None = None,
        half_critic_obs_columns: torch.Tensor | None = None,
        teacher_actions: bool = False,
    ):
        self.num_envs = num_envs
        self.num_steps = num_steps
        self.device = torch.device(device)

        def zeros(*shape: int) -> torch.Tensor:
            return torch.zeros(num_steps, num_envs, *shape, device=self.device)

        def observations(width: int, half_columns: torch.Tensor | None):
            if half_columns is None or not bool(half_columns.any()):
                return zeros(width)
            return CompactObservations(num_steps, num_envs, half_columns, self.device)

        self.obs = observations(num_obs, half_obs_columns)
        self.critic_obs = observations(num_critic_obs, half_critic_obs_columns)
        self.actions = zeros(num_actions)
        self.rewards = zeros()
        self.dones = zeros()
        self.values = zeros()
        self.log_probs = zeros()
        self.action_mean = zeros(num_actions)
        self.action_std = zeros(num_actions)
        self.returns = zeros()
        self.advantages = zeros()
        self.teacher_actions = zeros(num_actions) if teacher_actions else None
        # (steps, num_layers, envs, hidden) per state tensor: a step's slot takes the network's state as is.
        self.actor_hidden = [torch.zeros(num_steps, *shape, device=self.device) for shape in actor_hidden_shapes or []]
        self.critic_hidden = [torch.zeros(num_steps, *shape, device=self.device) for shape in critic_hidden_shapes or []]
        self.step = 0

    def add(
        self,
        obs: torch.Tensor,
        critic_obs: torch.Tensor,
        actions: torch.Tensor,
        log_probs: torch.Tensor,
        values: torch.Tensor,
        action_mean: torch.Tensor,
        action_std: torch.Tensor,
        actor_hidden_states: tuple[torch.Tensor, ...] | None = None,
        critic_hidden_states: tuple[torch.Tensor, ...] | None = None,
        teacher_actions: torch.Tensor | None = None,
    ) -> None:
        """Record what the policy saw and did; ``set_step_result`` adds reward and done after env.step.

        Recurrent networks: the hidden states are those the networks started this step from (None: zeros).
        """
        if self.step >= self.num_steps:
            raise RuntimeError(f"rollout storage is full ({self.num_steps} steps); call clear() after the update")
        t = self.step
        for buffer, value in ((self.obs, obs), (self.critic_obs, critic_obs)):
            if isinstance(buffer, CompactObservations):
                buffer.write(t, value)
            else:
                buffer[t].copy_(value)
        self.actions[t].copy_(actions)
        self.log_probs[t].copy_(log_probs)
        self.values[t].copy_(values)
        self.action_mean[t].copy_(action_mean)
        self.action_std[t].copy_(action_std)
        if self.teacher_actions is not None:
            if teacher_actions is None:
                raise ValueError("this storage keeps the teacher's actions: give add() teacher_actions")
            self.teacher_actions[t].copy_(teacher_actions)
        for buffers, states in ((self.actor_hidden, actor_hidden_states), (self.critic_hidden, critic_hidden_states)):
            for i, buffer in enumerate(buffers):
                if states is None:
                    buffer[t].zero_()
                else:
                    buffer[t].copy_(states[i])

    def set_step_result(self, rewards: torch.Tensor, dones: torch.Tensor) -> None:
        self.rewards[self.step].copy_(rewards)
        self.dones[self.step].copy_(dones)
        self.step += 1

    def clear(self) -> None:
        self.step = 0

    @property
    def full(self) -> bool:
        return self.step == self.num_steps

    def compute_returns(self, last_values: torch.Tensor, gamma: float, lam: float) -> None:
        """Generalized advantage estimation over the stored rollout."""
        self.advantages.copy_(compute_gae(self.rewards, self.values, self.dones, last_values, gamma, lam))
        self.returns.copy_(self.advantages + self.values)

    def _flat_step_fields(self) -> dict[str, torch.Tensor]:
        """The per-step Minibatch fields besides the observations, as (steps * envs, ...) views."""
        teacher = {} if self.teacher_actions is None else {"teacher_actions": self.teacher_actions.flatten(0, 1)}
        return {
            "actions": self.actions.flatten(0, 1),
            "old_log_probs": self.log_probs.flatten(0, 1),
            "old_values": self.values.flatten(0, 1),
            "old_mean": self.action_mean.flatten(0, 1),
            "old_std": self.action_std.flatten(0, 1),
            "returns": self.returns.flatten(0, 1),
            "advantages": self.advantages.flatten(0, 1),
            **teacher,
        }

    def minibatches(self, num_mini_batches: int, num_epochs: int) -> Iterator[Minibatch]:
        """Shuffled minibatches over all (step, env) samples, a fresh permutation per epoch."""
        batch_size = self.num_steps * self.num_envs
        if num_mini_batches < 1 or num_mini_batches > batch_size:
            raise ValueError(f"num_mini_batches={num_mini_batches} must be in [1, {batch_size}] (steps x envs)")
        mini_batch_size = batch_size // num_mini_batches
        flat = {"obs": self.obs.flatten(0, 1), "critic_obs": self.critic_obs.flatten(0, 1), **self._flat_step_fields()}
        for _ in range(num_epochs):
            permutation = torch.randperm(batch_size, device=self.device)
            for i in range(num_mini_batches):
                ids = permutation[i * mini_batch_size : (i + 1) * mini_batch_size]
                yield Minibatch(**{name: tensor[ids] for name, tensor in flat.items()})

    def recurrent_minibatches(self, num_mini_batches: int, num_epochs: int) -> Iterator[Minibatch]:
        """Minibatches of whole trajectories, for truncated backpropagation through time over the rollout.

        Each env's column is split at its dones into trajectories. A minibatch holds every trajectory
        of ``num_envs / num_mini_batches`` envs (a fresh shuffle of the envs per epoch), so all
        minibatches hold (about) as many real steps. Trajectories are padded at their end to the
        longest among them. The first trajectory of an env usually began in an earlier rollout: it
        starts from the stored state of its first step and gradients stop there (truncated BPTT);
        the others start from zeros, since the networks were reset at the done before them.
        """
        if not self.actor_hidden and not self.critic_hidden:
            raise RuntimeError("recurrent_minibatches needs stored hidden states: give the storage actor/critic_hidden_shapes")
        num_steps, num_envs = self.num_steps, self.num_envs
        if num_mini_batches < 1 or num_mini_batches > num_envs:
            raise ValueError(
                f"num_mini_batches={num_mini_batches} must be in [1, {num_envs}] (envs) for recurrent networks: "
                "a minibatch holds all trajectories of some envs"
            )
        start_step, start_env, lengths = split_trajectories(self.dones)
        obs, critic_obs = self.obs.flatten(0, 1), self.critic_obs.flatten(0, 1)
        flat = self._flat_step_fields()
        for _ in range(num_epochs):
            env_order = torch.randperm(num_envs, device=self.device)
            for env_ids in env_order.tensor_split(num_mini_batches):
                in_batch = torch.zeros(num_envs, dtype=torch.bool, device=self.device)
                in_batch[env_ids] = True
                ids = in_batch[start_env].nonzero().squeeze(1)
                first, env, length = start_step[ids], start_env[ids], lengths[ids]
                time = torch.arange(int(length.max()), device=self.device).unsqueeze(1)
                masks = time < length  # (time, trajectories)
                # Row index into the (steps * envs) flattened tensors of each padded slot; the padding
                # slots are clamped into range and zeroed below.
                index = (first + time).clamp(max=num_steps - 1) * num_envs + env
                valid = index[masks]  # the real steps, in padded[masks] order

                def padded(tensor: torch.Tensor) -> torch.Tensor:
                    return tensor[index].masked_fill(~masks.unsqueeze(-1), 0.0)

                def first_states(buffers: list[torch.Tensor]) -> tuple[torch.Tensor, ...] | None:
                    # buffer[first, :, env] is (trajectories, num_layers, hidden); RNNs take (num_layers, batch, hidden).
                    states = tuple(buffer[first, :, env].transpose(0, 1).contiguous() for buffer in buffers)
                    return states or None

                yield Minibatch(
                    obs=padded(obs),
                    critic_obs=padded(critic_obs),
                    **{name: tensor[valid] for name, tensor in flat.items()},
                    masks=masks,
                    actor_hidden_states=first_states(self.actor_hidden),
                    critic_hidden_states=first_states(self.critic_hidden),
                )


def split_trajectories(dones: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(start step, env, length) of every trajectory in a (steps, envs) rollout, ordered by start step then env.

    A trajectory starts at step 0 and after every done; it ends at its done or with the rollout. E.g.
    dones [[0, 0], [1, 0], [0, 1], [0, 0]] (4 steps, 2 envs) hold env 0's steps 0-1 and 2-3 and env 1's
    steps 0-2 and 3: starts (0, 0, 2, 3), envs (0, 1, 0, 1), lengths (2, 3, 2, 1).
    """
    num_steps = dones.shape[0]
    done = dones.bool()
    starts = torch.ones_like(done)
    starts[1:] = done[:-1]
    ends = done.clone()
    ends[-1] = True
    steps = torch.arange(num_steps, device=dones.device).unsqueeze(1).expand_as(done)
    # The first end at or after each step: a running minimum of the end steps, taken backwards in time.
    end_step = torch.where(ends, steps, num_steps).flip(0).cummin(dim=0).values.flip(0)
    start_step, start_env = starts.nonzero(as_tuple=True)
    return start_step, start_env, end_step[start_step, start_env] - start_step + 1


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    last_values: torch.Tensor,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """Advantages A_t = sum_k (gamma*lam)^k delta_{t+k}, cut at episode ends.

    delta_t = r_t + gamma * V(s_{t+1}) * (1 - done_t) - V(s_t); all tensors are (steps, envs)
    except ``last_values`` (envs,), the value of the observation after the last step.
    """
    num_steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    next_advantage = torch.zeros_like(last_values)
    next_values = last_values
    for t in reversed(range(num_steps)):
        not_done = 1.0 - dones[t].float()
        delta = rewards[t] + gamma * next_values * not_done - values[t]
        next_advantage = delta + gamma * lam * not_done * next_advantage
        advantages[t] = next_advantage
        next_values = values[t]
    return advantages
