"""The on-policy training loop: collect a rollout -> update -> schedules -> evaluate -> log -> save.

One class serves both call styles of the specs:

    # keyword style
    runner = OnPolicyRunner(env=env, algorithm="ppo", actor_class=MLPActor, critic_class=MLPCritic,
                            actor_cfg={"hidden_dims": [256]}, log_dir="logs/x", save_interval=100)
    runner.learn(total_timesteps=10_000_000)
    runner = OnPolicyRunner(agent=ppo, env=env, cfg=cfg, log_dir="logs/x")
    # recurrent: rnn_type in a network's cfg picks RecurrentActor / RecurrentCritic
    runner = OnPolicyRunner(env=env, actor_cfg={"rnn_type": "gru", "rnn_hidden_dim": 64, "hidden_dims": [64]})

    # rsl_rl style
    runner = OnPolicyRunner(env, train_cfg_dict, log_dir="logs/x", device="cpu")
    runner.learn(num_learning_iterations=1500, init_at_random_ep_len=True)
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections import defaultdict
from typing import Any

import torch
from torch import nn

from legged_train.envs.threads import torch_threads
from legged_train import distributed
from legged_train.algorithms.ppo import PPO, PPOConfig, num_iterations_for
from legged_train.logger import flatten_extras
from legged_train.finite import NonFiniteError, check_finite, check_reward_terms, non_finite_parameters
from legged_train.observation_groups import observation_group
from legged_train.checkpoint import CheckpointError, first_line
from legged_train.runners.base import BaseRunner, EpisodeStatistics, print_block
from legged_train.runners.registry import register_runner
from legged_train.rsl_rl_config import ppo_config_from_dict

ALGORITHMS = ("ppo",)


class OnPolicyRunner(BaseRunner):
    def __init__(
        self,
        env,
        train_cfg: dict | PPOConfig | None = None,
        log_dir: str | None = None,
        device: str | torch.device | None = None,
        *,
        cfg: dict | PPOConfig | None = None,
        agent: PPO | None = None,
        algorithm: str = "ppo",
        actor_class: type[nn.Module] | None = None,
        critic_class: type[nn.Module] | None = None,
        actor_cfg: dict | None = None,
        critic_cfg: dict | None = None,
        save_dir: str | None = None,
        log_interval: int | None = None,
        save_interval: int | None = None,
        eval_env=None,
    ):
        if str(algorithm).lower() not in ALGORITHMS:
            raise ValueError(f"algorithm={algorithm!r} is not an on-policy algorithm; allowed: {list(ALGORITHMS)}")
        if train_cfg is not None and cfg is not None:
            raise ValueError("pass the training config once: either train_cfg (rsl_rl style) or cfg=, not both")
        cfg = _resolve_config(train_cfg if train_cfg is not None else cfg, agent)
        # Keyword arguments win over the config; copy so the caller's config object is untouched.
        changes: dict[str, Any] = {}
        if actor_cfg is not None:
            changes["actor_cfg"] = {**cfg.actor_cfg, **actor_cfg}
        if critic_cfg is not None:
            changes["critic_cfg"] = {**cfg.critic_cfg, **critic_cfg}
        if log_interval is not None:
            changes["log_interval"] = log_interval
        if save_interval is not None:
            changes["save_interval"] = save_interval
        if changes:
            cfg = dataclasses.replace(cfg, **changes)
        if agent is not None:
            device = agent.device if device is None else device
        super().__init__(env, cfg, log_dir=log_dir, device=device, save_dir=save_dir, eval_env=eval_env)

        if agent is None:
            # Classes left out: PPO picks MLPActor / MLPCritic, or the recurrent ones for a cfg with rnn_type.
            agent = PPO(env, cfg, actor_class=actor_class, critic_class=critic_class, device=self.device)
        elif actor_class is not None or critic_class is not None:
            raise ValueError("actor_class/critic_class build a new agent; do not pass them together with agent=")
        self._init_loop(agent)
        if cfg.init_actor_checkpoint:
            self.load_pretrained_actor(cfg.init_actor_checkpoint)
        if cfg.teacher_checkpoint:  # the teacher's pull (teacher_coef); play.py replays without it
            from legged_train.algorithms.distillation import load_teacher

            self.alg.set_teacher(load_teacher(cfg.teacher_checkpoint, env, cfg.teacher_obs_group, self.device,
                                              self.identity().get("robot")))

    def _init_loop(self, agent) -> None:
        """What the loop keeps besides the base's: the algorithm (``alg``) and the episode statistics."""
        self.alg = agent
        self.alg.runner = self
        self.num_steps_per_env = self.cfg.num_steps_per_env
        self.episodes = EpisodeStatistics(self.env.num_envs, self.device)
        self._learn_started = time.time()

    def load_pretrained_actor(self, path: str) -> None:
        """Start the actor from a trained one (``PPOConfig.init_actor_checkpoint``): the weights and
        observation statistics of a PPO run's actor or a distillation run's student, checked as a
        teacher is (robot, observation group and layout); the action std stays init_noise_std's. A
        network of other sizes is a CheckpointError naming the first difference."""
        from legged_train.algorithms.distillation import load_actor

        pretrained = load_actor(path, self.env, self.cfg.actor_obs_group, self.device, self.identity().get("robot"),
                                role="init_actor_checkpoint", group_field="actor_obs_group")
        weights = {key: value for key, value in pretrained.state_dict().items() if key != "log_std"}
        try:
            missing, unexpected = self.alg.actor.load_state_dict(weights, strict=False)
        except RuntimeError as err:
            raise CheckpointError(f"init_actor_checkpoint {path!r}: its actor does not fit this run's actor_cfg "
                                  f"{self.cfg.actor_cfg}: {first_line(err)}") from None
        differ = unexpected + [key for key in missing if key != "log_std"]
        if differ:
            raise CheckpointError(f"init_actor_checkpoint {path!r}: its actor does not fit this run's actor_cfg "
                                  f"{self.cfg.actor_cfg}: parameter {differ[0]!r} is in one, not the other")

    # rsl_rl names
    @property
    def agent(self) -> PPO:
        return self.alg

    @property
    def current_learning_iteration(self) -> int:
        return self.iteration

    @current_learning_iteration.setter
    def current_learning_iteration(self, value: int) -> None:
        self.iteration = value

    # --------------------------------------------------------------------------------- learning
    def learn(
        self,
        num_learning_iterations: int | None = None,
        init_at_random_ep_len: bool = False,
        trial: Any = None,
        total_timesteps: int | None = None,
    ) -> dict[str, float]:
        """Run ``num_learning_iterations`` more iterations (or enough for ``total_timesteps`` more env steps).

        With neither given, runs ``cfg.max_iterations``. Returns the last iteration's stats.
        ``trial`` (Optuna-like: ``report(value, step)``, ``should_prune()``) receives
        ``eval/velocity_rmsd`` (legged envs) or ``eval/mean_reward`` whenever an evaluation ran.
        """
        if num_learning_iterations is not None and total_timesteps is not None:
            raise ValueError("pass num_learning_iterations or total_timesteps, not both")
        if total_timesteps is not None:
            num_learning_iterations = num_iterations_for(total_timesteps, self.cfg, self.env.num_envs)
        if num_learning_iterations is None:
            num_learning_iterations = self.cfg.max_iterations
        if num_learning_iterations < 1:
            raise ValueError(f"num_learning_iterations={num_learning_iterations!r} must be >= 1")
        if getattr(self.cfg, "teacher_coef", 0) > 0 and self.alg.teacher is None:
            raise ValueError(f"teacher_coef={self.cfg.teacher_coef!r} pulls the actor towards a teacher: set "
                             "teacher_checkpoint (train.py --teacher logs/<teacher task>/<run>)")

        self.start_learning()
        if distributed.is_distributed():
            self.alg.broadcast_parameters()  # every rank starts from rank 0's networks
        # The env is only ever driven inside inference mode, so tensors it creates while stepping
        # stay writable for it (inference tensors cannot be modified outside inference mode).
        with torch.inference_mode():
            if init_at_random_ep_len:
                self._randomize_episode_lengths()
            obs, extras = self.env.get_observations()
            obs, critic_obs = self._split_observations(obs, extras)
        self.train_mode()

        start = self.iteration
        end = start + num_learning_iterations
        self._learn_started = time.time()
        steps_per_iteration = self.num_steps_per_env * self.env.num_envs * distributed.world_size()
        stats: dict[str, float] = {}
        for it in range(start, end):
            self._fire("pre_iteration")
            started = time.time()

            self._fire("pre_rollout")
            episode_logs: dict[str, list[torch.Tensor]] = defaultdict(list)
            extra_logs: dict[str, list[float]] = defaultdict(list)
            step_reward_total = torch.zeros((), device=self.device)
            with torch.inference_mode(), torch_threads(self.cfg.rollout_torch_threads):
                for _ in range(self.num_steps_per_env):
                    obs, critic_obs, rewards, dones, extras = self.rollout_step(obs, critic_obs)
                    step_reward_total += rewards.sum()
                    for key, value in extras.get("log", {}).items():
                        episode_logs[str(key).strip("/")].append(torch.as_tensor(value, dtype=torch.float32).mean())
                    if self.cfg.extra_log_keys:
                        for key, value in flatten_extras(extras, self.cfg.extra_log_keys).items():
                            extra_logs[key].append(value)
                rollout_stats = {
                    "rollout/mean_reward": (step_reward_total / steps_per_iteration).item(),
                    **self._finish_rollout(critic_obs),
                }
            self._fire("post_rollout", rollout_stats)
            collection_time = time.time() - started

            learn_started = time.time()
            self._fire("pre_update")
            update_stats = self.update()
            self._fire("post_update", update_stats)
            self.alg.adjust_schedules(it + 1)
            learning_time = time.time() - learn_started

            self.iteration = it + 1
            stats = {**update_stats, **rollout_stats, **self.episodes.means(), **self.iteration_stats()}
            for key, values in episode_logs.items():
                stats[f"episode/{key}"] = torch.stack(values).mean().item()
            for key, values in extra_logs.items():
                stats[key] = statistics.fmean(values)
            iteration_time = collection_time + learning_time
            stats["perf/fps"] = steps_per_iteration / max(iteration_time, 1e-9)
            stats["perf/collection_time"] = collection_time
            stats["perf/learning_time"] = learning_time
            stats["perf/total_timesteps"] = float(self.total_timesteps)

            evaluated = self.should_eval(it)
            if evaluated:
                stats.update(self.eval())
                self._report_to_trial(trial, stats, it)

            if self.rank == 0 and (it % self.cfg.log_interval == 0 or it == end - 1 or evaluated):  # an evaluation is always logged
                self.log_scalars(stats, step=it)
                self._print_summary(stats, it, end, start)
            self.save_on_schedule()
            self._fire("post_iteration", stats)
            # Ranks stop together (a signal may reach one of them only, or at another iteration).
            if distributed.any_rank(self.stop_requested, self.device):
                self.stop_requested = True
                break

        self.finish_learn()
        return stats

    def rollout_step(self, obs: torch.Tensor, critic_obs: torch.Tensor):
        """One env step with the current policy: act, step, check, store. Returns (obs, critic_obs, rewards, dones, extras)."""
        actions = self.alg.act(obs, critic_obs)
        if not bool(torch.isfinite(actions).all()):
            bad = non_finite_parameters(self.alg.actor)
            source = f"network 'actor', parameters {bad[:5]}" if bad else "the actor's output (its parameters are finite)"
            raise NonFiniteError(f"non-finite policy actions (NaN/Inf) from {source}")
        obs, rewards, dones, extras = self.env.step(actions.to(self.env.device))
        obs, critic_obs = self._split_observations(obs, extras)
        rewards, dones = rewards.to(self.device), dones.to(self.device)
        check_reward_terms(self.env, rewards)
        self.alg.process_env_step(rewards, dones, extras)
        self.episodes.add(rewards, dones)
        self.total_timesteps += self.env.num_envs * distributed.world_size()  # every rank's steps
        return obs, critic_obs, rewards, dones, extras

    def update(self) -> dict[str, float]:
        """The learning step of an iteration, on the rollout just stored (subclasses may learn otherwise)."""
        return self.alg.update()

    def _finish_rollout(self, last_critic_obs: torch.Tensor) -> dict[str, float]:
        """After the rollout's last step (under inference mode): PPO's returns; figures for the log."""
        self.alg.compute_returns(last_critic_obs)
        return {"rollout/mean_value": self.alg.storage.values.mean().item()}

    def iteration_stats(self) -> dict[str, float]:
        """More figures for the iteration's log (subclasses add theirs)."""
        return {}

    @property
    def policy_obs_group(self) -> str:
        return self.alg.actor_obs_group

    def _split_observations(self, obs: torch.Tensor, extras: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(actor observations, critic observations) from an env's (obs, extras): the configured groups."""
        actor_group, critic_group = self.alg.actor_obs_group, self.alg.critic_obs_group
        obs = obs.to(self.device)
        actor_obs = observation_group(obs, extras, actor_group).to(self.device)
        # Envs without a critic group give the critic the policy observations.
        critic_obs = observation_group(obs, extras, critic_group).to(self.device) if self.alg.has_critic_group else obs
        check_finite(actor_obs, f"env observations (group {actor_group!r})")
        if critic_obs is not actor_obs:
            check_finite(critic_obs, f"env observations (group {critic_group if self.alg.has_critic_group else 'policy'!r})")
        if self.alg.teacher is not None:  # the teacher's label for the step the actor takes from these observations
            teacher_group = self.cfg.teacher_obs_group
            teacher_obs = observation_group(obs, extras, teacher_group).to(self.device)
            check_finite(teacher_obs, f"env observations (group {teacher_group!r})")
            self.alg.observe_teacher(teacher_obs)
        return actor_obs, critic_obs

    def _randomize_episode_lengths(self) -> None:
        # Spread resets over time so the time-out wave of the first episode does not synchronize envs.
        buffer = getattr(self.env, "episode_length_buf", None)
        if buffer is None:
            raise ValueError(f"init_at_random_ep_len=True needs env.episode_length_buf; {type(self.env).__name__} has none")
        self.env.episode_length_buf = torch.randint_like(buffer, high=int(self.env.max_episode_length))

    def _report_to_trial(self, trial: Any, stats: dict[str, float], it: int) -> None:
        if trial is None:
            return
        value = stats.get("eval/velocity_rmsd", stats.get("eval/mean_reward"))
        trial.report(value, it)
        if trial.should_prune():
            import optuna

            raise optuna.TrialPruned(f"pruned at iteration {it}")

    # ----------------------------------------------------------------------------- console
    def _print_summary(self, stats: dict[str, float], it: int, end: int, start: int) -> None:
        elapsed = time.time() - self._learn_started
        done = it + 1 - start
        eta = elapsed / done * (end - it - 1)
        title = f" iteration {it + 1}/{end} "
        lines = [
            f"{title:#^72}",
            f"  steps/s {stats['perf/fps']:10.0f}   collection {stats['perf/collection_time']:6.2f}s"
            f"   learning {stats['perf/learning_time']:6.2f}s",
            f"  total steps {self.total_timesteps:12d}   elapsed {_hms(elapsed)}   ETA {_hms(eta)}",
        ]
        if "episode/mean_reward" in stats:
            lines.append(
                f"  episode reward {stats['episode/mean_reward']:10.3f}   length {stats['episode/mean_length']:8.1f}"
            )
        lines.extend(self._update_summary(stats))
        # Tracking quality first: the standard evaluation when it ran, and any error the env logs.
        tracking = [
            f"{key} {value:.3f}"
            for key, value in stats.items()
            if (key.startswith("eval/") and any(w in key for w in ("rmsd", "fall", "transport")))
            or (key.startswith("episode/") and "error" in key)
        ]
        if tracking:
            lines.append("  tracking: " + "  ".join(tracking))
        terms = [
            f"{key[8:]} {value:.3f}"
            for key, value in stats.items()
            if key.startswith("episode/") and "mean_" not in key and "error" not in key
        ]
        for i in range(0, min(len(terms), 12), 3):  # at most 4 lines of terms: one screen
            lines.append("  " + "   ".join(terms[i : i + 3]))
        print_block(lines)

    def _update_summary(self, stats: dict[str, float]) -> list[str]:
        """The console lines about the rollout and the update (subclasses with other losses override it)."""
        lines = [
            f"  step reward {stats['rollout/mean_reward']:10.4f}   value {stats['rollout/mean_value']:10.3f}"
            f"   action std {stats['train/action_std']:.3f}"
        ]
        if "train/bc_loss" in stats:  # an update that cloned demonstrations (TwoStageRunner)
            lines.append(
                f"  losses: behaviour cloning {stats['train/bc_loss']:.4f}  value {stats['train/value_loss']:.4f}"
                f"  lr {stats['train/learning_rate']:.2e}"
            )
        else:
            lines.append(
                f"  losses: policy {stats['train/policy_loss']:.4f}  value {stats['train/value_loss']:.4f}"
                f"  entropy {stats['train/entropy']:.3f}  kl {stats['train/approx_kl']:.4f}  lr {stats['train/learning_rate']:.2e}"
            )
        return lines

    # ----------------------------------------------------------------------- BaseRunner hooks
    def policy_module(self) -> nn.Module:
        """The actor: its forward is the deterministic (mean) action, observation normalization included.

        A recurrent actor (``is_recurrent``) is run through its ``step`` by ``get_inference_policy``,
        which keeps its own hidden state, and exported with its state as explicit input / output."""
        return self.alg.actor

    def train_mode(self) -> None:
        self.alg.train_mode()

    def eval_mode(self) -> None:
        self.alg.eval_mode()

    def _state_dict(self) -> dict:
        return {**self.alg.state_dict(), "episode_statistics": self.episodes.state_dict()}

    def _load_state_dict(self, state: dict, load_optimizer: bool) -> None:
        self.alg.load_state_dict(state, load_optimizer)
        if load_optimizer and "episode_statistics" in state:
            self.episodes.load_state_dict(state["episode_statistics"])

    def _check_shapes(self, checkpoint: dict, path: str) -> None:
        # The hidden states of the running episodes are sized by the number of envs, not by the networks:
        # PPO.load_state_dict restores them when they fit and starts fresh episodes from zeros otherwise.
        super()._check_shapes({key: value for key, value in checkpoint.items() if key != "rollout_hidden_states"}, path)


def _resolve_config(given: dict | PPOConfig | None, agent: PPO | None) -> PPOConfig:
    if given is None:
        return agent.cfg if agent is not None else PPOConfig()
    if isinstance(given, PPOConfig):
        return given
    if isinstance(given, dict):
        return ppo_config_from_dict(given)
    raise TypeError(f"train_cfg/cfg must be a PPOConfig or an rsl_rl-style dict, got {type(given).__name__}")


def _hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


# PPO.learn() delegates here; a PPOConfig task trains here.
register_runner(PPO, OnPolicyRunner)
register_runner(PPOConfig, OnPolicyRunner)
