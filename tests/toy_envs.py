"""A small, fast, real VecEnv for learning-side tests: a batch of 2-D point masses that must reach a target.

It follows envs/vec_env.py exactly (same-step autoreset, terminated / truncated / final_observation,
an optional privileged ``critic`` group, per-term episode sums in ``extras["log"]``) so runner tests
exercise the same code paths as the legged env, in milliseconds. Also here: small PPO / DQN / SAC
configs that train in a blink, a variant of the env whose rewards turn NaN, and a memory task
(``CueMemoryEnv``) for recurrent policies.
"""

from __future__ import annotations

import torch

from legged_train.envs.vec_env import VecEnv


class PointMassEnv(VecEnv):
    """Point mass with force control; obs = (target - position, velocity), critic adds the target itself.

    - reward: progress toward the target minus a small effort cost, +1 on reaching it;
    - terminated: reached the target (within ``goal_radius``) or left the arena (a "fall", -1);
    - truncated: ``max_episode_length`` steps without either.
    """

    def __init__(
        self,
        num_envs: int = 16,
        max_episode_length: int = 40,
        privileged: bool = True,
        seed: int = 0,
        device: str = "cpu",
        dt: float = 0.1,
        arena: float = 3.0,
        goal_radius: float = 0.2,
    ):
        self.num_envs = num_envs
        self.num_obs = 4
        self.num_privileged_obs = 6 if privileged else None
        self.num_actions = 2
        self.max_episode_length = max_episode_length
        self.device = torch.device(device)
        self.dt = dt
        self.arena = arena
        self.goal_radius = goal_radius
        self.seed = seed
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.position = torch.zeros(num_envs, 2, device=self.device)
        self.velocity = torch.zeros(num_envs, 2, device=self.device)
        self.target = torch.zeros(num_envs, 2, device=self.device)
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.episode_sums = {name: torch.zeros(num_envs, device=self.device) for name in ("rew_progress", "rew_effort", "rew_goal")}
        self.reset()

    # VecEnv API ---------------------------------------------------------------------------
    def get_observations(self) -> tuple[torch.Tensor, dict]:
        obs = self._policy_obs()
        return obs, {"observations": self._groups(obs)}

    def reset(self) -> tuple[torch.Tensor, dict]:
        self.reset_idx(torch.arange(self.num_envs, device=self.device))
        return self.get_observations()

    def reset_idx(self, env_ids: torch.Tensor) -> None:
        n = len(env_ids)
        self.position[env_ids] = self._uniform(n, 2, 1.0)
        self.velocity[env_ids] = 0.0
        self.target[env_ids] = self._uniform(n, 2, 1.5)
        self.episode_length_buf[env_ids] = 0
        for sums in self.episode_sums.values():
            sums[env_ids] = 0.0

    def step(self, actions: torch.Tensor):
        force = actions.to(self.device).clamp(-1.0, 1.0)
        distance_before = (self.target - self.position).norm(dim=1)
        self.velocity = 0.9 * self.velocity + force * self.dt
        self.position = self.position + self.velocity * self.dt
        self.episode_length_buf += 1
        distance = (self.target - self.position).norm(dim=1)

        reached = distance < self.goal_radius
        left_arena = self.position.abs().max(dim=1).values > self.arena
        terms = {
            "rew_progress": distance_before - distance,
            "rew_effort": -0.01 * force.square().sum(dim=1),
            "rew_goal": reached.float() - left_arena.float(),
        }
        rewards = sum(terms.values())
        for name, value in terms.items():
            self.episode_sums[name] += value

        terminated = reached | left_arena
        truncated = (self.episode_length_buf >= self.max_episode_length) & ~terminated
        dones = terminated | truncated

        final_obs = torch.zeros(self.num_envs, self.num_obs, device=self.device)
        extras: dict = {"terminated": terminated, "truncated": truncated, "time_outs": truncated}
        done_ids = dones.nonzero().flatten()
        policy_obs_before_reset = self._policy_obs()
        final_obs[done_ids] = policy_obs_before_reset[done_ids]
        extras["final_observation"] = final_obs
        if self.num_privileged_obs is not None:
            final_critic = torch.zeros(self.num_envs, self.num_privileged_obs, device=self.device)
            final_critic[done_ids] = self._critic_obs(policy_obs_before_reset)[done_ids]
            extras["final_critic_observation"] = final_critic
        if len(done_ids) > 0:
            extras["log"] = {name: sums[done_ids].mean() for name, sums in self.episode_sums.items()}
            self.reset_idx(done_ids)

        obs = self._policy_obs()
        extras["observations"] = self._groups(obs)
        return obs, rewards, dones, extras

    def make_eval_env(self, num_envs: int | None = None, seed: int = 0) -> "PointMassEnv":
        return PointMassEnv(
            num_envs=num_envs or self.num_envs,
            max_episode_length=self.max_episode_length,
            privileged=self.num_privileged_obs is not None,
            seed=seed,
            device=str(self.device),
            dt=self.dt,
            arena=self.arena,
            goal_radius=self.goal_radius,
        )

    # helpers ---------------------------------------------------------------------------------
    def _uniform(self, n: int, dim: int, scale: float) -> torch.Tensor:
        return (torch.rand(n, dim, generator=self.generator, device=self.device) * 2.0 - 1.0) * scale

    def _policy_obs(self) -> torch.Tensor:
        return torch.cat([self.target - self.position, self.velocity], dim=1)

    def _critic_obs(self, policy_obs: torch.Tensor) -> torch.Tensor:
        return torch.cat([policy_obs, self.target], dim=1)

    def _groups(self, obs: torch.Tensor) -> dict:
        groups = {"policy": obs}
        if self.num_privileged_obs is not None:
            groups["critic"] = self._critic_obs(obs)
        return groups


class NaNRewardEnv(PointMassEnv):
    """The point mass, but env 1's reward turns NaN from a given step on (a broken reward term)."""

    def __init__(self, nan_from_step: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.nan_from_step = nan_from_step
        self.steps = 0

    def step(self, actions):
        obs, rewards, dones, extras = super().step(actions)
        self.steps += 1
        if self.steps >= self.nan_from_step:
            rewards = rewards.clone()
            rewards[1] = float("nan")
        return obs, rewards, dones, extras


class CueMemoryEnv(VecEnv):
    """A memory task a feed-forward policy cannot solve: recall a cue seen only at an episode's first step.

    - obs = (cue, 1) at the first step of an episode, (0, 0) at every later one; the cue is +1 or -1;
      the privileged critic group (``privileged=True``) adds the cue at every step;
    - reward: 0 at the first step, then ``cue * clip(action, -1, 1)`` at each later step: a policy that
      remembers the cue earns 1 per step, one that does not (an MLP sees the same later observations
      whatever the cue) earns 0 on average;
    - episodes last ``min_length`` to ``max_length`` steps (drawn per episode, so envs drift out of step
      and episodes straddle rollouts) and end ``terminated`` (the task is over: nothing to bootstrap).

    ``state_dict`` / ``load_state_dict`` hold the whole state, so a runner resumes it exactly.
    """

    def __init__(
        self, num_envs: int = 32, min_length: int = 3, max_length: int = 6, privileged: bool = False, seed: int = 0,
        device: str = "cpu",
    ):
        self.num_envs = num_envs
        self.num_obs = 2
        self.num_privileged_obs = 3 if privileged else None
        self.num_actions = 1
        self.min_length, self.max_length = min_length, max_length
        self.max_episode_length = max_length
        self.device = torch.device(device)
        self.seed = seed
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.cue = torch.zeros(num_envs, device=self.device)
        self.length = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.episode_sum = torch.zeros(num_envs, device=self.device)
        self.reset()

    def get_observations(self) -> tuple[torch.Tensor, dict]:
        obs = self._policy_obs()
        return obs, {"observations": self._groups(obs)}

    def reset(self) -> tuple[torch.Tensor, dict]:
        self.reset_idx(torch.arange(self.num_envs, device=self.device))
        return self.get_observations()

    def reset_idx(self, env_ids: torch.Tensor) -> None:
        n = len(env_ids)
        coin = torch.randint(0, 2, (n,), generator=self.generator, device=self.device)
        self.cue[env_ids] = coin.float() * 2.0 - 1.0
        self.length[env_ids] = torch.randint(
            self.min_length, self.max_length + 1, (n,), generator=self.generator, device=self.device
        )
        self.episode_length_buf[env_ids] = 0
        self.episode_sum[env_ids] = 0.0

    def step(self, actions: torch.Tensor):
        later = (self.episode_length_buf > 0).float()
        rewards = later * self.cue * actions.to(self.device)[:, 0].clamp(-1.0, 1.0)
        self.episode_sum += rewards
        self.episode_length_buf += 1
        terminated = self.episode_length_buf >= self.length
        truncated = torch.zeros_like(terminated)
        extras: dict = {"terminated": terminated, "truncated": truncated, "time_outs": truncated}
        obs_before_reset = self._policy_obs()
        extras["final_observation"] = obs_before_reset * terminated.unsqueeze(1)
        if self.num_privileged_obs is not None:
            extras["final_critic_observation"] = self._critic_obs(obs_before_reset) * terminated.unsqueeze(1)
        done_ids = terminated.nonzero().flatten()
        if len(done_ids) > 0:
            extras["log"] = {"rew_match": self.episode_sum[done_ids].mean()}
            self.reset_idx(done_ids)
        obs = self._policy_obs()
        extras["observations"] = self._groups(obs)
        return obs, rewards, terminated, extras

    def make_eval_env(self, num_envs: int | None = None, seed: int = 0) -> "CueMemoryEnv":
        return CueMemoryEnv(
            num_envs=num_envs or self.num_envs, min_length=self.min_length, max_length=self.max_length,
            privileged=self.num_privileged_obs is not None, seed=seed, device=str(self.device),
        )

    def state_dict(self) -> dict:
        return {
            "num_envs": self.num_envs,
            "generator": self.generator.get_state(),
            **{name: getattr(self, name).clone() for name in ("cue", "length", "episode_length_buf", "episode_sum")},
        }

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        for name in ("cue", "length", "episode_length_buf", "episode_sum"):
            getattr(self, name).copy_(state[name])

    def _policy_obs(self) -> torch.Tensor:
        first = (self.episode_length_buf == 0).float()
        return torch.stack([first * self.cue, first], dim=1)

    def _critic_obs(self, policy_obs: torch.Tensor) -> torch.Tensor:
        return torch.cat([policy_obs, self.cue.unsqueeze(1)], dim=1)

    def _groups(self, obs: torch.Tensor) -> dict:
        groups = {"policy": obs}
        if self.num_privileged_obs is not None:
            groups["critic"] = self._critic_obs(obs)
        return groups


SMALL_NETS = {"hidden_dims": [16, 16], "activation": "elu"}
# A short off-policy run: a small buffer, training soon after the start, a log line every 50 iterations.
SHORT_OFF_POLICY_RUN = {"total_timesteps": 2000, "learning_starts": 100, "batch_size": 32, "buffer_size": 1000,
                        "log_interval": 50}


def small_cfg(**overrides):
    """A PPOConfig small enough to train on the toy envs in a blink."""
    from legged_train.algorithms.ppo import PPOConfig

    settings = {"num_steps_per_env": 8, "actor_cfg": dict(SMALL_NETS), "critic_cfg": dict(SMALL_NETS), **overrides}
    return PPOConfig(**settings)


def small_dqn_cfg(**overrides):
    """A DQNConfig with small networks for short runs."""
    from legged_train.algorithms.dqn import DQNConfig

    settings = {**SHORT_OFF_POLICY_RUN, "target_update_interval": 20, "q_network_cfg": dict(SMALL_NETS), **overrides}
    return DQNConfig(**settings)


def small_sac_cfg(**overrides):
    """A SACConfig with small networks for short runs."""
    from legged_train.algorithms.sac import SACConfig

    settings = {**SHORT_OFF_POLICY_RUN, "actor_cfg": dict(SMALL_NETS), "critic_cfg": dict(SMALL_NETS), **overrides}
    return SACConfig(**settings)
