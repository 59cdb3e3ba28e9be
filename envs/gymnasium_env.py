"""Gymnasium and Stable-Baselines3 views of our vectorized envs (the legged tasks).

``GymnasiumVectorEnv(env)`` is a ``gymnasium.vector.VectorEnv``: numpy in and out, one batched env
call per step (no loop over envs). ``make_gymnasium_env("go1_flat", num_envs=64)`` builds one from a
registered legged task. ``Sb3VecEnv`` puts Stable-Baselines3's VecEnv API on top.

- **Spaces**: ``single_observation_space`` is ``Box(-inf, inf, (num_obs,), float32)``, the ``policy``
  group; ``single_action_space`` is ``Box(-b, b, (num_actions,), float32)`` with ``b = action_bound``,
  by default the env's ``cfg.clip_actions``: the env clamps actions there, so the box is exactly the
  set of actions that change anything. That default is wide (100 for go1_flat, whose action 1 moves a
  joint target by 0.25 rad); an algorithm that squashes its actions into the box (SAC) wants a tighter
  ``action_bound``, e.g. 4. Actions outside the box are clipped to it. ``observation_space`` and
  ``action_space`` are the batched boxes.
- **Episode ends**: ``terminated`` is a fall (a real end: do not bootstrap), ``truncated`` the time
  limit (bootstrap from the final observation); never both for one env in one step.
- **Autoreset: same step** (the default, ``autoreset_mode=AutoresetMode.SAME_STEP``): an env that
  ends in a step is reset inside that step, so ``obs`` already holds its next episode's first
  observation. What it ended with is in ``info["final_obs"]``, valid in the rows where
  ``info["_final_obs"]`` is True, and the info it ended with in ``info["final_info"]`` (its final
  ``critic`` rows), masked by ``info["_final_info"]``: Gymnasium's keys for this mode. One difference
  from ``SyncVectorEnv``, which stores ``final_obs`` as an object array of per-env arrays: here it is
  one float32 ``(num_envs, num_obs)`` array (zeros in the rows of envs that did not end), so it stays
  vectorized; ``info["final_obs"][i]`` and ``info["final_obs"][info["_final_obs"]]`` read it the same.
  These keys are present only on steps where some env ended, as with ``SyncVectorEnv``.
- **Autoreset: next step** (``autoreset_mode=AutoresetMode.NEXT_STEP``, or ``"NextStep"``), the mode
  Gymnasium's stateful vector wrappers (``NormalizeObservation``, ...) require: the step where an env
  ends returns its final observation in ``obs``; the next step is that env's reset step, with reward
  0 and terminated / truncated False, and its action is ignored. The env underneath still resets
  ended envs inside the ending step (it steps all envs as one batch and cannot hold some back), so
  on the reset step those envs take a zero action and ``obs`` is the observation after it: as the
  agent sees it, a new episode starts one zero-action step after the env's own reset (one step of
  its time limit). That observation is a state of the new episode like any other, so everything
  the agent sees stays consistent.
- **Privileged observations**: ``info["critic"]``, float32 ``(num_envs, num_privileged_obs)``, the
  critic group that goes with ``obs`` (``info["_critic"]`` all True), on every ``reset`` and ``step``,
  for envs that have one. All info values are arrays over envs, so Gymnasium's vector wrappers
  (``RecordEpisodeStatistics``, ``DictInfoToList``) work on top.
- **Seeding**: ``reset(seed=s)`` reseeds the env's generator (commands, randomization, noise), so a
  reset with the same seed repeats the same episodes' start. ``reset(seed=[s0, s1, ...])``, one seed
  per env as Gymnasium's vector API allows, is accepted too: the envs share one generator (they are
  one batched simulation), so it is seeded with the first seed, ``s0``. This matches what
  ``SyncVectorEnv`` makes of ``reset(seed=s)`` (seeds ``s, s + 1, ...``): both forms give the same
  episodes. A first seed of None leaves the generator as it is.
- **Registered ids**: importing this module registers one Gymnasium id per legged task
  (``legged_train/Go1Flat-v0`` for go1_flat; ``GYMNASIUM_IDS`` lists them) and
  ``legged_train/Legged-v0``, which takes ``task=``. They have a vector entry point only:
  ``gymnasium.make_vec("legged_train/Go1Flat-v0", num_envs=64)`` (``vectorization_mode`` left out or
  ``"vector_entry_point"``); keyword arguments go to ``make_gymnasium_env`` (``autoreset_mode=``,
  ``action_bound=``, config fields such as ``sim__num_threads=1``). Without importing this module
  first, ``gymnasium.make_vec("legged_train.envs.gymnasium_env:legged_train/Go1Flat-v0", ...)``
  imports it.

The env is driven inside ``torch.inference_mode``, as our runners drive it: its tensors are then
never updated in place outside that mode (which inference tensors forbid), and no autograd graph is
kept. Arrays handed out are copies, so later steps never change them.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from legged_train.envs.vec_env import VecEnv

try:  # Stable-Baselines3 is optional (the dev extra): only Sb3VecEnv needs it.
    from stable_baselines3.common.vec_env import VecEnv as _Sb3VecEnvBase
except ImportError:  # pragma: no cover - exercised only without SB3
    _Sb3VecEnvBase = object


def _to_numpy(tensor: torch.Tensor) -> np.ndarray:
    # A copy: on the CPU .numpy() shares memory with the env's tensor.
    return tensor.detach().cpu().numpy().copy()


class GymnasiumVectorEnv(VectorEnv):
    """``gymnasium.vector.VectorEnv`` view of one of our envs (see the module docstring for the contract).

    Args:
        env: an env with the ``legged_train.envs.vec_env.VecEnv`` API and continuous actions, e.g. a legged env.
        action_bound: half-width of the action box; ``None`` takes ``env.cfg.clip_actions``.
        autoreset_mode: ``AutoresetMode.SAME_STEP`` (default) or ``AutoresetMode.NEXT_STEP`` (or their
            values, "SameStep" / "NextStep").
    """

    def __init__(self, env: VecEnv, action_bound: float | None = None, autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP):
        if not isinstance(env, VecEnv):
            raise TypeError(f"GymnasiumVectorEnv wraps an envs.vec_env.VecEnv (e.g. a legged env), got {type(env).__name__}")
        if getattr(env, "is_discrete", False):
            raise TypeError(f"GymnasiumVectorEnv needs continuous actions; {type(env).__name__} has discrete ones")
        if action_bound is None:
            action_bound = getattr(getattr(env, "cfg", None), "clip_actions", None)
            if action_bound is None:
                raise ValueError(f"action_bound: {type(env).__name__} has no cfg.clip_actions; pass action_bound (> 0)")
        if not action_bound > 0:
            raise ValueError(f"action_bound={action_bound!r} must be > 0")
        modes = (AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP)
        if autoreset_mode not in modes and autoreset_mode not in [mode.value for mode in modes]:
            raise ValueError(
                f"autoreset_mode={autoreset_mode!r}: the env resets ended envs itself; allowed: "
                + ", ".join(f"AutoresetMode.{mode.name} ({mode.value!r})" for mode in modes)
            )
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        self.env = env
        self.num_envs = env.num_envs
        self.action_bound = float(action_bound)
        self.has_critic = getattr(env, "num_privileged_obs", None) is not None
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, (env.num_obs,), np.float32)
        self.single_action_space = gym.spaces.Box(-self.action_bound, self.action_bound, (env.num_actions,), np.float32)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = {"autoreset_mode": self.autoreset_mode, "render_modes": []}
        self.render_mode = None
        # NEXT_STEP: the envs whose episode ended at the last step; their next step is the reset step.
        self._autoreset = np.zeros(self.num_envs, dtype=bool)

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        if options:
            raise ValueError(f"options={options!r}: the env takes no reset options; allowed: None or {{}}")
        if isinstance(seed, (list, tuple)):
            # One generator for the whole batch: the first env's seed seeds it (see the module docstring).
            if len(seed) != self.num_envs:
                raise ValueError(f"seed: a list of {len(seed)} seeds for {self.num_envs} envs; give one per env, or one int")
            seed = seed[0]
        super().reset(seed=seed)  # seeds self.np_random, Gymnasium's per-vector-env generator
        if seed is not None:
            generator = getattr(self.env, "generator", None)
            if generator is None:
                raise ValueError(f"seed={seed!r}: {type(self.env).__name__} has no torch generator to seed")
            generator.manual_seed(int(seed))
        with torch.inference_mode():
            obs, extras = self.env.reset()
        self._autoreset[:] = False
        return _to_numpy(obs), self._info(extras)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        actions = np.asarray(actions, dtype=np.float32)
        if actions.shape != self.action_space.shape:
            raise ValueError(f"actions has shape {actions.shape}; expected {self.action_space.shape} (num_envs, num_actions)")
        actions = np.clip(actions, -self.action_bound, self.action_bound)
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            return self._step_next_step_autoreset(actions)
        with torch.inference_mode():
            obs, rewards, dones, extras = self.env.step(torch.from_numpy(actions).to(self.env.device))
        info = self._info(extras)
        ended = _to_numpy(dones).astype(bool)
        if ended.any():
            info["final_obs"], info["_final_obs"] = _to_numpy(extras["final_observation"]), ended
            final_info = {}
            if self.has_critic:
                final_info["critic"], final_info["_critic"] = _to_numpy(extras["final_critic_observation"]), ended.copy()
            info["final_info"], info["_final_info"] = final_info, ended.copy()
        terminated = _to_numpy(extras["terminated"]).astype(bool)
        truncated = _to_numpy(extras["truncated"]).astype(bool)
        return _to_numpy(obs), _to_numpy(rewards).astype(np.float32), terminated, truncated, info

    def _step_next_step_autoreset(self, actions: np.ndarray):
        """NEXT_STEP: an ended env reports its final observation now and its reset on the next step."""
        resetting = self._autoreset
        actions = np.where(resetting[:, None], 0.0, actions).astype(np.float32)  # the reset step ignores the action
        with torch.inference_mode():
            obs, rewards, dones, extras = self.env.step(torch.from_numpy(actions).to(self.env.device))
        ended = _to_numpy(dones).astype(bool) & ~resetting
        obs, rewards = _to_numpy(obs), _to_numpy(rewards).astype(np.float32)
        terminated = _to_numpy(extras["terminated"]).astype(bool) & ~resetting
        truncated = _to_numpy(extras["truncated"]).astype(bool) & ~resetting
        rewards[resetting] = 0.0
        info = self._info(extras)
        if ended.any():
            obs[ended] = _to_numpy(extras["final_observation"])[ended]
            if self.has_critic:
                info["critic"][ended] = _to_numpy(extras["final_critic_observation"])[ended]
        self._autoreset = ended
        return obs, rewards, terminated, truncated, info

    def _info(self, extras: dict) -> dict:
        if not self.has_critic:
            return {}
        return {"critic": _to_numpy(extras["observations"]["critic"]), "_critic": np.ones(self.num_envs, dtype=bool)}

    def close_extras(self, **kwargs: Any) -> None:
        self.env.close()


def make_gymnasium_env(
    task_name: str,
    num_envs: int | None = None,
    device: str | torch.device = "cpu",
    action_bound: float | None = None,
    autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP,
    **overrides: Any,
) -> GymnasiumVectorEnv:
    """A registered legged task as a ``GymnasiumVectorEnv`` (``autoreset_mode``: see the module docstring).

    ``num_envs`` (``None``: the task's) and ``overrides`` set fields of the task's ``LeggedEnvConfig``;
    nested fields take ``__`` for the dot: ``make_gymnasium_env("go1_flat", num_envs=64, seed=3,
    episode_length_s=10.0, sim__num_threads=1)``. A wrong field or value is an error naming it.
    """
    from legged_train.envs.legged.config import LeggedEnvConfig
    from legged_train.config import apply_overrides
    from legged_train.tasks import get_task, list_tasks

    task = get_task(task_name)
    if not isinstance(task.env_cfg, LeggedEnvConfig):
        legged = [name for name in list_tasks() if isinstance(get_task(name).env_cfg, LeggedEnvConfig)]
        raise ValueError(
            f"task {task_name!r} is not a legged task (its env is a Gymnasium env already: use gymnasium.make_vec); "
            f"legged tasks: {legged}"
        )
    changes = {key.replace("__", "."): value for key, value in overrides.items()}
    if num_envs is not None:
        changes["num_envs"] = num_envs
    cfg = apply_overrides(task.env_cfg, changes)
    return GymnasiumVectorEnv(task.make_env(cfg, device), action_bound=action_bound, autoreset_mode=autoreset_mode)


# Gymnasium ids of the built-in legged tasks: legged_train/<TaskInCamelCase>-v0.
LEGGED_TASKS = ("go1_flat", "go1_flat_pretrained", "go1_amp", "go1_amp_pace", "go1_teacher", "go1_student", "go1_dagger_student")
GYMNASIUM_IDS = {"legged_train/" + "".join(part.capitalize() for part in task.split("_")) + "-v0": task for task in LEGGED_TASKS}
GENERIC_ID = "legged_train/Legged-v0"


def make_vector_env(num_envs: int = 1, task: str | None = None, **kwargs: Any) -> GymnasiumVectorEnv:
    """The vector entry point of the registered ids: ``gymnasium.make_vec`` calls it with ``num_envs``,
    the id's ``task`` and the caller's keyword arguments (those of ``make_gymnasium_env``)."""
    if task is None:
        raise ValueError(f"{GENERIC_ID} needs task=, the name of a legged task, e.g. task='go1_flat'")
    return make_gymnasium_env(task, num_envs=num_envs, **kwargs)


def register_gymnasium_ids() -> None:
    """Register ``GYMNASIUM_IDS`` and ``GENERIC_ID`` with Gymnasium (vector entry point only: the
    envs are batched simulations, there is no single-env class to vectorize)."""
    entry_point = f"{__name__}:make_vector_env"
    for env_id, task in [*GYMNASIUM_IDS.items(), (GENERIC_ID, None)]:
        if env_id not in gym.registry:
            gym.register(env_id, vector_entry_point=entry_point, kwargs={} if task is None else {"task": task})


register_gymnasium_ids()


class Sb3VecEnv(_Sb3VecEnvBase):
    """Stable-Baselines3 ``VecEnv`` over a ``GymnasiumVectorEnv`` (one of our envs is wrapped in one first).

    SB3 wants ``done = terminated | truncated`` and, per env, an info dict: ``"TimeLimit.truncated"``
    (so that PPO bootstraps time-outs from the value of the final observation) and, for envs that
    ended, ``"terminal_observation"``. Building that list of dicts is the one loop over envs (SB3's
    API is a list); the env itself still steps in one batched call. Wrap in SB3's ``VecMonitor`` for
    episode returns in SB3's logs.

    One env object serves every index, so ``get_attr`` / ``env_method`` answer the same for all,
    and ``set_attr`` / ``env_method`` apply to all envs at once (a subset of indices is an error).
    ``seed(s)`` takes effect at the next ``reset`` as the one seed ``s`` of the batched env.
    """

    def __init__(self, env: GymnasiumVectorEnv | VecEnv, action_bound: float | None = None):
        if _Sb3VecEnvBase is object:
            raise ImportError("Sb3VecEnv needs stable-baselines3: pip install stable-baselines3")
        if not isinstance(env, GymnasiumVectorEnv):
            env = GymnasiumVectorEnv(env, action_bound=action_bound)
        elif action_bound is not None:
            raise ValueError("action_bound: give it to the GymnasiumVectorEnv being wrapped, not to Sb3VecEnv")
        if env.autoreset_mode != AutoresetMode.SAME_STEP:
            raise ValueError(f"Sb3VecEnv needs a GymnasiumVectorEnv with autoreset_mode=SAME_STEP (SB3's own), got {env.autoreset_mode}")
        self.venv = env
        self.render_mode = None
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        # SB3's seed(s) stores s + i per env; the batched env takes one seed: env 0's, i.e. s.
        options = self._options[0] or None
        obs, _ = self.venv.reset(seed=self._seeds[0], options=options)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        obs, rewards, terminated, truncated, info = self.venv.step(self._actions)
        dones = terminated | truncated
        infos = [{"TimeLimit.truncated": timed_out} for timed_out in (truncated & ~terminated).tolist()]
        for i in np.flatnonzero(dones):
            infos[i]["terminal_observation"] = info["final_obs"][i]
        return obs, rewards, dones, infos

    def close(self) -> None:
        self.venv.close()

    def _owner(self, name: str) -> Any:
        # Attributes of the Gymnasium view first, then of the env itself (step_dt, cfg, ...).
        return self.venv if hasattr(self.venv, name) else self.venv.env

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        value = getattr(self._owner(attr_name), attr_name)  # AttributeError when neither has it, as SB3 expects
        return [value] * len(list(self._get_indices(indices)))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        self._require_all(indices, "set_attr")
        setattr(self._owner(attr_name), attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        self._require_all(indices, "env_method")
        result = getattr(self._owner(method_name), method_name)(*method_args, **method_kwargs)
        return [result] * self.num_envs

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(list(self._get_indices(indices)))  # no per-env Gymnasium wrappers here

    def _require_all(self, indices: Any, what: str) -> None:
        if sorted(self._get_indices(indices)) != list(range(self.num_envs)):
            raise ValueError(f"{what}: indices={indices!r}; one batched env serves all envs, so allowed: None (all envs)")
