"""The off-policy training loop (DQN, SAC): act -> step -> store -> (sometimes) update -> log -> save.

One *iteration* is one vector env step (``num_envs`` timesteps). Every ``train_freq`` iterations,
once ``learning_starts`` timesteps are collected, the algorithm takes ``gradient_steps`` gradient
steps on batches sampled from the replay buffer. Exploration (epsilon-greedy, random warm-up,
policy sampling) and target-network updates happen inside the algorithm; the runner only passes
it the timestep count.

Callbacks, the run directory, logging backends, checkpoints and evaluation come from
``BaseRunner`` and behave as in ``OnPolicyRunner``. Scalars are logged against the number of env
timesteps.
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn

from legged_train.algorithms.dqn import DQN, DQNConfig, MLPQNetwork
from legged_train.algorithms.sac import SAC, MLPQCritic, SACConfig, SquashedGaussianActor
from legged_train.logger import flatten_extras
from legged_train.replay_buffer import ReplayBuffer, next_observations_from_step
from legged_train.finite import NonFiniteError, check_finite, check_reward_terms
from legged_train.runners.base import BaseRunner, EpisodeStatistics, print_block
from legged_train.runners.registry import register_runner


class OffPolicyRunner(BaseRunner):
    """Trains DQN (``cfg: DQNConfig``) or SAC (``cfg: SACConfig``) on a VecEnv.

    DQN:  ``OffPolicyRunner(env=, cfg=DQNConfig(...), q_network_class=MLPQNetwork, device=)``
    SAC:  ``OffPolicyRunner(env=, cfg=SACConfig(...), actor_class=..., critic_class=..., device=)``
    Network classes default to ``MLPQNetwork`` / ``SquashedGaussianActor`` / ``MLPQCritic``.
    """

    def __init__(
        self,
        env,
        cfg: DQNConfig | SACConfig,
        q_network_class: type[nn.Module] | None = None,
        actor_class: type[nn.Module] | None = None,
        critic_class: type[nn.Module] | None = None,
        log_dir: str | None = None,
        device: str | torch.device | None = None,
        save_dir: str | None = None,
        eval_env=None,
        verbose: bool = True,
    ):
        super().__init__(env, cfg, log_dir=log_dir, device=device, save_dir=save_dir, eval_env=eval_env)
        self.verbose = verbose
        # Same seed, same initial networks and the same exploration noise.
        torch.manual_seed(cfg.seed)
        if isinstance(cfg, DQNConfig):
            if actor_class is not None or critic_class is not None:
                raise ValueError("OffPolicyRunner: actor_class/critic_class are for SAC; DQN takes q_network_class")
            self.algorithm = DQN(env, cfg, q_network_class or MLPQNetwork, device=self.device)
        elif isinstance(cfg, SACConfig):
            if q_network_class is not None:
                raise ValueError("OffPolicyRunner: q_network_class is for DQN; SAC takes actor_class and critic_class")
            self.algorithm = SAC(
                env, cfg, actor_class or SquashedGaussianActor, critic_class or MLPQCritic, device=self.device
            )
        else:
            raise TypeError(
                f"OffPolicyRunner: cfg is a {type(cfg).__name__}; allowed: DQNConfig (DQN) or SACConfig (SAC)"
            )
        self.run_config["algorithm"] = self.algorithm.name

        action_shape, action_dtype = self.algorithm.action_spec()
        self.replay_buffer = ReplayBuffer(
            cfg.buffer_size, self.algorithm.obs_spec(), action_shape, action_dtype, device=self.device
        )
        self.episodes = EpisodeStatistics(env.num_envs, self.device)

    @property
    def alg(self) -> DQN | SAC:
        """The algorithm, under the name OnPolicyRunner (and rsl_rl) use."""
        return self.algorithm

    # --------------------------------------------------------------------------------- the loop
    def learn(self, total_timesteps: int | None = None) -> dict[str, float]:
        """Collect ``total_timesteps`` more env timesteps (default ``cfg.total_timesteps``), training as
        scheduled; returns the last logged stats."""
        cfg = self.cfg
        total_timesteps = cfg.total_timesteps if total_timesteps is None else int(total_timesteps)
        if total_timesteps < 0:
            raise ValueError(f"total_timesteps={total_timesteps!r} must be >= 0")
        self.start_learning()
        self.train_mode()
        obs = self._observation_groups(self.env.get_observations()[1])
        end = self.total_timesteps + total_timesteps
        window = _LogWindow(self.total_timesteps)
        stats: dict[str, float] = {}

        while self.total_timesteps < end:
            self._fire("pre_iteration")
            self._fire("pre_rollout")
            obs = self._collect_step(obs, window)
            self._fire("post_rollout", {"buffer/size": len(self.replay_buffer)})

            self.iteration += 1
            if self.total_timesteps >= cfg.learning_starts and self.iteration % cfg.train_freq == 0:
                self._fire("pre_update")
                update_stats = self._train_round()
                window.add_update(update_stats)
                self._fire("post_update", update_stats)

            log_now = self.iteration % cfg.log_interval == 0 or self.total_timesteps >= end
            eval_now = self.should_eval(self.iteration - 1)
            # The summary costs more than a CartPole step: build it only when someone reads it.
            if log_now or eval_now or self._callbacks["post_iteration"]:
                stats = window.summary(self)
            if log_now:
                self._log(stats)
                window = _LogWindow(self.total_timesteps)
            if eval_now:
                eval_stats = self.eval()
                self.log_scalars(eval_stats, self.total_timesteps)
                stats.update(eval_stats)
            self.save_on_schedule()
            self._fire("post_iteration", stats)
            if self.stop_requested:
                break

        self.finish_learn()
        return stats

    def _collect_step(self, obs: dict[str, torch.Tensor], window: "_LogWindow") -> dict[str, torch.Tensor]:
        """One vector env step, stored in the replay buffer; returns the next observations."""
        actions = self.algorithm.act(obs, self.total_timesteps)
        _, rewards, dones, extras = self.env.step(actions.to(self.env.device))
        rewards, dones = rewards.to(self.device), dones.to(self.device)
        check_reward_terms(self.env, rewards)
        next_obs = self._observation_groups(extras)
        # Finished envs were already reset: their successor state is the final observation.
        true_next_obs = next_observations_from_step(next_obs, dones, extras)
        terminated = extras["terminated"].to(self.device)
        self.replay_buffer.add(obs, actions, rewards, true_next_obs, terminated)
        self.total_timesteps += self.env.num_envs
        self.episodes.add(rewards, dones)
        window.add_extras(episode_log(extras))
        window.add_extras(flatten_extras(extras, self.cfg.extra_log_keys))
        return next_obs

    def _train_round(self) -> dict[str, float]:
        """``gradient_steps`` updates on fresh batches; returns their mean stats."""
        totals: dict[str, float] = {}
        for _ in range(self.cfg.gradient_steps):
            batch = self.replay_buffer.sample(self.cfg.batch_size)
            for name, value in self.algorithm.update(batch).items():
                totals[name] = totals.get(name, 0.0) + value
        means = {name: value / self.cfg.gradient_steps for name, value in totals.items()}
        for name, value in means.items():
            if not math.isfinite(value):
                raise NonFiniteError(
                    f"{name} became {value} at timestep {self.total_timesteps}; lower the learning rate or "
                    "check the env's rewards and observations"
                )
        return means

    def _observation_groups(self, extras: dict) -> dict[str, torch.Tensor]:
        groups = extras["observations"]
        obs = {name: groups[name].to(self.device) for name in self.algorithm.obs_spec()}
        for name, value in obs.items():
            check_finite(value, f"env observations (group {name!r})")
        return obs

    def _log(self, stats: dict[str, float]) -> None:
        self.log_scalars(stats, self.total_timesteps)
        if not self.verbose:
            return
        lines = [f"[{self.algorithm.name}] iteration {self.iteration}, timesteps {self.total_timesteps}"]
        lines += [f"  {name:<28s} {value:.4g}" for name, value in stats.items()]
        print_block(lines)

    # ----------------------------------------------------------------------- BaseRunner hooks
    def policy_module(self) -> nn.Module:
        """Greedy Q (DQN) or the squashed actor mean (SAC)."""
        return self.algorithm.policy

    def train_mode(self) -> None:
        self.algorithm.train_mode()

    def eval_mode(self) -> None:
        self.algorithm.eval_mode()

    def _state_dict(self) -> dict:
        state = {
            "algorithm": self.algorithm.name,
            "algorithm_state": self.algorithm.state_dict(),
            "episode_tracking": self.episodes.state_dict(),
        }
        if self.cfg.save_replay_buffer:
            state["replay_buffer"] = self.replay_buffer.state_dict()
        return state

    def _load_state_dict(self, state: dict, load_optimizer: bool) -> None:
        if state.get("algorithm") != self.algorithm.name:
            raise ValueError(
                f"the checkpoint holds algorithm {state.get('algorithm')!r}, this runner trains {self.algorithm.name!r}"
            )
        self.algorithm.load_state_dict(state["algorithm_state"], load_optimizer=load_optimizer)
        self.episodes.load_state_dict(state["episode_tracking"])
        if "replay_buffer" in state:
            self.replay_buffer.load_state_dict(state["replay_buffer"])


def episode_log(extras: dict) -> dict[str, float]:
    """The env's per-episode figures (``extras["log"]``: reward-term sums...) as ``episode/<name>``,
    named as the on-policy runner names them."""
    return {
        f"episode/{str(name).strip('/')}": torch.as_tensor(value, dtype=torch.float32).mean().item()
        for name, value in extras.get("log", {}).items()
    }


class _LogWindow:
    """Accumulates what happened since the last log line: update stats, extras and throughput."""

    def __init__(self, start_timesteps: int):
        self.start_timesteps = start_timesteps
        self.start_time = time.perf_counter()
        self.update_sums: dict[str, float] = {}
        self.num_updates = 0
        self.extra_sums: dict[str, float] = {}
        self.extra_counts: dict[str, int] = {}

    def add_update(self, stats: dict[str, float]) -> None:
        for name, value in stats.items():
            self.update_sums[name] = self.update_sums.get(name, 0.0) + value
        self.num_updates += 1

    def add_extras(self, flat: dict[str, float]) -> None:
        for name, value in flat.items():
            self.extra_sums[name] = self.extra_sums.get(name, 0.0) + value
            self.extra_counts[name] = self.extra_counts.get(name, 0) + 1

    def summary(self, runner: OffPolicyRunner) -> dict[str, float]:
        stats = {name: value / self.num_updates for name, value in self.update_sums.items()}
        stats.update(runner.algorithm.exploration_stats(runner.total_timesteps))
        stats["buffer/size"] = float(len(runner.replay_buffer))
        stats.update(runner.episodes.means())
        elapsed = max(time.perf_counter() - self.start_time, 1e-9)
        stats["perf/fps"] = (runner.total_timesteps - self.start_timesteps) / elapsed
        stats["perf/total_timesteps"] = float(runner.total_timesteps)
        stats.update({name: value / self.extra_counts[name] for name, value in self.extra_sums.items()})
        return stats


register_runner(DQNConfig, OffPolicyRunner)
register_runner(SACConfig, OffPolicyRunner)
