"""What every runner shares: callbacks, the run directory, logging, checkpoints and evaluation.

Subclasses (``OnPolicyRunner``, ``OffPolicyRunner``) own their training loop and implement these
hooks; everything else lives here once:

- ``_state_dict() -> dict`` and ``_load_state_dict(state, load_optimizer)``: the algorithm's part
  of a checkpoint (networks, optimizers, normalizers, counters the base does not know about);
- ``policy_module() -> nn.Module``: the deterministic policy, obs -> actions, as one module (what
  ``eval()`` and ``get_inference_policy()`` run and play.py exports); ``_act_deterministic(obs)``
  runs it and may be overridden;
- ``train_mode()`` / ``eval_mode()``: switch the algorithm's networks.

The base keeps ``iteration`` (learning iterations done) and ``total_timesteps`` (env steps done)
in every checkpoint, with the resolved config, the RNG states and the schema version.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import os
import statistics
import sys
from collections import deque
from typing import Any, Callable

import torch
import yaml
from torch import nn

from legged_train.checkpoint import (
    SCHEMA_VERSION,
    CheckpointError,
    atomic_torch_save,
    capture_rng_state,
    load_checkpoint_file,
    restore_rng_state,
)
from legged_train.config import RunnerConfig, config_to_dict, resolve_device
from legged_train.git_state import store_code_state
from legged_train.logger import Logger

# The repository this package lives in: archived with every run.
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class NonFiniteError(FloatingPointError):
    """NaN or Inf reached the training loop; the message names where."""


def check_finite(tensor: torch.Tensor, source: str) -> None:
    """Raise NonFiniteError naming ``source`` if ``tensor`` holds NaN or Inf."""
    if not bool(torch.isfinite(tensor).all()):
        bad = ~torch.isfinite(tensor)
        rows = bad.reshape(bad.shape[0], -1).any(dim=1).nonzero().flatten()[:5].tolist() if tensor.dim() > 0 else []
        raise NonFiniteError(f"non-finite values (NaN/Inf) in {source}; first bad rows: {rows}")


class BaseRunner:
    CALLBACK_EVENTS = ("pre_iteration", "post_iteration", "pre_rollout", "post_rollout", "pre_update", "post_update")

    def __init__(
        self,
        env,
        cfg: RunnerConfig,
        log_dir: str | None = None,
        device: str | torch.device | None = None,
        save_dir: str | None = None,
        eval_env=None,
    ):
        self.env = env
        self.cfg = cfg
        self.device = resolve_device(device if device is not None else cfg.device)
        self.log_dir = os.fspath(log_dir) if log_dir is not None else None
        # Checkpoints go next to the event files unless asked otherwise (the spec's save_dir).
        self.save_dir = os.fspath(save_dir) if save_dir is not None else self.log_dir
        self.eval_env = eval_env
        self.iteration = 0
        self.total_timesteps = 0
        self.logger: Logger | None = None
        self.git_repo_paths: list[str] = [PROJECT_ROOT]
        # Written to <log_dir>/config.yaml at learn start; train.py adds the task and env config.
        self.run_config: dict[str, Any] = {"runner": type(self).__name__, "train": config_to_dict(cfg)}
        self._callbacks: dict[str, list[Callable]] = {event: [] for event in self.CALLBACK_EVENTS}

    # ----------------------------------------------------------------------------------- callbacks
    def add_callback(self, event: str, fn: Callable) -> None:
        """Call ``fn(runner, *args)`` on ``event``; post_iteration/post_rollout/post_update pass stats."""
        if event not in self._callbacks:
            raise ValueError(f"unknown callback event {event!r}; allowed: {list(self.CALLBACK_EVENTS)}")
        if not callable(fn):
            raise TypeError(f"callback for {event!r} must be callable, got {type(fn).__name__}")
        self._callbacks[event].append(fn)

    def _fire(self, event: str, *args: Any) -> None:
        # Exceptions propagate on purpose: a broken callback must stop training, not vanish.
        for fn in self._callbacks[event]:
            fn(self, *args)

    # ----------------------------------------------------------------------- run dir and logging
    def add_git_repo_to_log(self, repo_file_path: str) -> None:
        """Also archive the git state of the repo containing ``repo_file_path``."""
        self.git_repo_paths.append(os.fspath(repo_file_path))

    def start_learning(self) -> None:
        """What every learn() does first: set torch's threads, open logging (once)."""
        if self.cfg.torch_threads > 0:
            torch.set_num_threads(self.cfg.torch_threads)
        self.init_logging()

    def init_logging(self) -> None:
        """Open the logger and write the resolved config and git state; once per runner, at learn start.

        Without a ``log_dir`` nothing is written (useful for quick experiments and tests).
        """
        if self.logger is not None or self.log_dir is None:
            return
        os.makedirs(self.log_dir, exist_ok=True)
        self.run_config["train"] = config_to_dict(self.cfg)
        with open(os.path.join(self.log_dir, "config.yaml"), "w", encoding="utf-8") as file:
            yaml.safe_dump(self.run_config, file, sort_keys=False)
        store_code_state(self.log_dir, self.git_repo_paths)
        self.logger = Logger(
            self.log_dir,
            backend=self.cfg.logger_backend,
            backend_kwargs=self.cfg.logger_kwargs,
            config=self.run_config,
        )

    def log_scalars(self, scalars: dict[str, float | torch.Tensor], step: int) -> None:
        if self.logger is not None:
            self.logger.log_scalars(scalars, step)

    def close(self) -> None:
        """Close the logger backends (flushes event files); the runner can still be used after."""
        if self.logger is not None:
            self.logger.close()
            self.logger = None

    # ------------------------------------------------------------------- the end of an iteration
    def save_on_schedule(self) -> None:
        """A checkpoint every ``save_interval`` iterations (when there is a save_dir)."""
        if self.save_dir is not None and self.iteration % self.cfg.save_interval == 0:
            self.save_checkpoint(f"model_{self.iteration}.pt")

    def finish_learn(self) -> None:
        """End of every learn() call: the final checkpoint and the logs flushed to disk."""
        if self.save_dir is not None:
            self.save_checkpoint(f"model_{self.iteration}.pt")
        if self.logger is not None:
            self.logger.flush()

    # ------------------------------------------------------------------------------ checkpoints
    def _state_dict(self) -> dict:
        raise NotImplementedError

    def _load_state_dict(self, state: dict, load_optimizer: bool) -> None:
        raise NotImplementedError

    def save_checkpoint(self, path: str, infos: dict | None = None) -> str:
        """Write a full checkpoint atomically; a file name without a folder goes under ``save_dir``.

        ``infos`` (any picklable dict) is stored as ``checkpoint["infos"]``.
        """
        if not os.path.isabs(path) and self.save_dir is not None and os.path.dirname(path) == "":
            path = os.path.join(self.save_dir, path)
        checkpoint = {
            "schema_version": SCHEMA_VERSION,
            "runner": type(self).__name__,
            "iteration": self.iteration,
            "total_timesteps": self.total_timesteps,
            "config": config_to_dict(self.cfg),
            "rng_state": capture_rng_state(),
            **self._state_dict(),
        }
        if infos is not None:
            checkpoint["infos"] = infos
        atomic_torch_save(checkpoint, path)
        return path

    def load_checkpoint(
        self,
        path: str,
        load_optimizer: bool = True,
        map_location: Any = None,
        ckpt_manipulator: Callable[[dict], dict] | None = None,
    ) -> dict:
        """Restore a checkpoint written by ``save_checkpoint``; returns the loaded dict.

        ``ckpt_manipulator(checkpoint) -> checkpoint`` may rewrite the dict first (rename keys,
        drop a head, convert an old schema). Wrong shapes raise CheckpointError naming the file.
        """
        if ckpt_manipulator is None:
            checkpoint = load_checkpoint_file(path, map_location=map_location)
        else:
            # A manipulator may be what converts an older schema, so check the schema after it runs.
            try:
                raw = torch.load(path, map_location=map_location, weights_only=False)
            except FileNotFoundError:
                raise CheckpointError(f"checkpoint {path!r} does not exist") from None
            except Exception as err:
                raise CheckpointError(f"checkpoint {path!r} is corrupt or not a torch checkpoint: {err}") from err
            checkpoint = ckpt_manipulator(raw)
            if not isinstance(checkpoint, dict) or checkpoint.get("schema_version") != SCHEMA_VERSION:
                raise CheckpointError(
                    f"ckpt_manipulator must return a checkpoint dict with schema_version={SCHEMA_VERSION}"
                )
        try:
            self._load_state_dict(checkpoint, load_optimizer)
        except (RuntimeError, KeyError, ValueError) as err:
            raise CheckpointError(f"checkpoint {path!r} does not fit this runner's model: {err}") from err
        self.iteration = int(checkpoint.get("iteration", 0))
        self.total_timesteps = int(checkpoint.get("total_timesteps", 0))
        if "rng_state" in checkpoint:
            restore_rng_state(checkpoint["rng_state"])
        return checkpoint

    # rsl_rl names for the same two operations.
    def save(self, path: str, infos: dict | None = None) -> str:
        return self.save_checkpoint(path, infos=infos)

    def load(self, path: str, load_optimizer: bool = True, map_location: Any = None, ckpt_manipulator=None) -> dict:
        return self.load_checkpoint(path, load_optimizer, map_location, ckpt_manipulator)

    # -------------------------------------------------------------------------- policy and modes
    def policy_module(self) -> nn.Module:
        raise NotImplementedError

    def train_mode(self) -> None:
        raise NotImplementedError

    def eval_mode(self) -> None:
        raise NotImplementedError

    def _act_deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        return self.policy_module()(obs)

    def get_inference_policy(self, device: str | torch.device | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
        """Deterministic policy in eval mode: observations -> actions on ``device`` (default: the runner's)."""
        self.eval_mode()
        return self._inference_callable(device)

    def _inference_callable(self, device: str | torch.device | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
        device = self.device if device is None else torch.device(device)
        if device == self.device:
            act = self._act_deterministic
        else:
            act = copy.deepcopy(self.policy_module()).to(device)  # leave the training model where it is

        def policy(obs: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():
                return act(obs.to(device))

        return policy

    # ------------------------------------------------------------------------------- evaluation
    def get_eval_env(self):
        """The separate evaluation env: ``eval_env=`` if given, else ``env.make_eval_env()``, made once."""
        if self.eval_env is None:
            make_eval_env = getattr(self.env, "make_eval_env", None)
            if make_eval_env is None:
                raise ValueError(
                    f"{type(self.env).__name__} has no make_eval_env(); pass eval_env= to the runner so "
                    "evaluation never disturbs the training env"
                )
            # No more envs than episodes asked for: a 1024-env eval of 10 episodes would waste 99% of its work.
            self.eval_env = make_eval_env(num_envs=max(1, min(self.env.num_envs, self.cfg.eval_episodes)))
        return self.eval_env

    def should_eval(self, iteration: int) -> bool:
        return self.cfg.eval_interval > 0 and (iteration + 1) % self.cfg.eval_interval == 0

    def eval(self, num_episodes: int | None = None) -> dict[str, float]:
        """Mean/std/min/max return of ``num_episodes`` deterministic episodes on the eval env.

        Legged envs also get the standard evaluation (velocity_rmsd, yaw_rate_rmsd,
        cost_of_transport, fall_rate) under ``eval/``.
        """
        num_episodes = self.cfg.eval_episodes if num_episodes is None else num_episodes
        if num_episodes < 1:
            raise ValueError(f"num_episodes={num_episodes!r} must be >= 1")
        env = self.get_eval_env()
        was_training = self.policy_module().training
        self.eval_mode()
        try:
            returns = self._run_eval_episodes(env, num_episodes)
            stats = {
                "eval/mean_reward": returns.mean().item(),
                "eval/std_reward": returns.std(unbiased=False).item(),
                "eval/min_reward": returns.min().item(),
                "eval/max_reward": returns.max().item(),
            }
            stats.update(self._legged_evaluation())
        finally:
            if was_training:
                self.train_mode()
        return stats

    def _run_eval_episodes(self, env, num_episodes: int) -> torch.Tensor:
        """Returns of ``num_episodes`` episodes, run side by side on the envs of ``env``.

        Each env counts its first episodes up to a quota fixed in advance (the quotas differ by at
        most one and add up to ``num_episodes``), so envs whose episodes end early cannot fill the
        count with short episodes: which episodes count never depends on how long they last.
        """
        quota = torch.full((env.num_envs,), num_episodes // env.num_envs, dtype=torch.long)
        quota[: num_episodes % env.num_envs] += 1
        # Bounded for safety: one round more than the ceil(num_episodes / num_envs) episodes an env needs.
        rounds = math.ceil(num_episodes / env.num_envs) + 1
        max_steps = rounds * int(env.max_episode_length) + 1
        finished: list[torch.Tensor] = []
        num_finished = 0
        # Reset inside inference mode too: env state written here must stay writable on the next eval.
        with torch.inference_mode():
            obs, _ = env.reset()
            device = torch.as_tensor(obs).device
            quota = quota.to(device)
            counted = torch.zeros_like(quota)
            episode_return = torch.zeros(env.num_envs, device=device)
            for _ in range(max_steps):
                actions = self._act_deterministic(obs.to(self.device))
                obs, rewards, dones, _ = env.step(actions.to(device))
                episode_return += rewards.to(episode_return.dtype)
                done_ids = dones.nonzero().flatten()
                if len(done_ids) > 0:
                    done_ids_in_quota = done_ids[counted[done_ids] < quota[done_ids]]
                    finished.append(episode_return[done_ids_in_quota].clone())
                    counted[done_ids_in_quota] += 1
                    num_finished += len(done_ids_in_quota)
                    episode_return[done_ids] = 0.0
                    if num_finished == num_episodes:
                        break
        if num_finished == 0:
            raise RuntimeError(f"no evaluation episode finished within {max_steps} steps of {type(env).__name__}")
        return torch.cat(finished).float().cpu()

    def _legged_evaluation(self) -> dict[str, float]:
        if importlib.util.find_spec("legged_train.evaluation") is None:
            return {}  # only while the legged evaluation module does not exist
        from legged_train.evaluation import is_legged_env, standard_evaluation

        if not is_legged_env(self.env):
            return {}
        metrics = standard_evaluation(self.env, self._inference_callable(), device=self.device)
        return {f"eval/{name}": float(value) for name, value in metrics.items()}


class EpisodeStatistics:
    """Every env's running episode return and length, and a window of the latest finished episodes.

    Kept on the runner, so a later learn() call continues the same episodes.
    """

    def __init__(self, num_envs: int, device: torch.device, window: int = 100):
        self.returns = torch.zeros(num_envs, device=device)
        self.lengths = torch.zeros(num_envs, dtype=torch.long, device=device)
        self.recent_returns: deque[float] = deque(maxlen=window)
        self.recent_lengths: deque[int] = deque(maxlen=window)

    def add(self, rewards: torch.Tensor, dones: torch.Tensor) -> None:
        self.returns += rewards
        self.lengths += 1
        finished = dones.nonzero().flatten()
        if len(finished) > 0:
            self.recent_returns.extend(self.returns[finished].tolist())
            self.recent_lengths.extend(self.lengths[finished].tolist())
            self.returns[finished] = 0.0
            self.lengths[finished] = 0

    def means(self) -> dict[str, float]:
        """episode/mean_reward and episode/mean_length over the window (empty before any episode ended)."""
        if not self.recent_returns:
            return {}
        return {
            "episode/mean_reward": statistics.fmean(self.recent_returns),
            "episode/mean_length": statistics.fmean(self.recent_lengths),
        }

    def state_dict(self) -> dict:
        return {
            "returns": self.returns.cpu(),
            "lengths": self.lengths.cpu(),
            "recent_returns": list(self.recent_returns),
            "recent_lengths": list(self.recent_lengths),
        }

    def load_state_dict(self, state: dict) -> None:
        # Running episodes only carry over to the same number of envs.
        if state["returns"].shape == self.returns.shape:
            self.returns.copy_(state["returns"])
            self.lengths.copy_(state["lengths"])
        self.recent_returns = deque(state["recent_returns"], maxlen=self.recent_returns.maxlen)
        self.recent_lengths = deque(state["recent_lengths"], maxlen=self.recent_lengths.maxlen)


def print_block(lines: list[str]) -> None:
    """Console summary: one block, flushed so it shows up promptly under pipes and nohup."""
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
