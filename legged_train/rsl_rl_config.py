"""rsl_rl-style training-config dicts -> ``PPOConfig``: what ``OnPolicyRunner(env, train_cfg_dict)``
takes, so legged_gym / rsl_rl 2-5 / Isaac Lab configs run unchanged (``envs/rsl_rl_env.py`` adapts the
env side the other way round).

Every key this PPO cannot honour is named in one ValueError with what is allowed, rather than being
silently dropped.
"""

from __future__ import annotations

from typing import Any

from legged_train.algorithms.ppo import PPOConfig
from legged_train.config import apply_overrides
from legged_train.networks import ACTIVATIONS

# rsl_rl-style train_cfg dicts: keys this project has no use for but that such dicts commonly carry.
# Checkpoint selection (our CLI has --resume / --load-run / --checkpoint), Neptune (not a backend here),
# the Isaac Lab wrapper's action clip (our envs clip: LeggedEnvConfig.clip_actions), rsl_rl's NaN
# check (our runner always checks, infinities too) and rsl_rl's multi-GPU settings (one process here).
_IGNORED_RSL_RL_KEYS = {
    "algorithm_class_name", "policy_class_name", "resume", "load_run", "checkpoint", "load_checkpoint",
    "resume_path", "neptune_project", "clip_actions", "store_code_state", "check_for_nan", "multi_gpu",
    "grad_reduce_bucket_mb",
}

# rsl_rl settings that this PPO has one way only: accepted at the value that describes what it does,
# an error otherwise (silently training something else would be worse).
_RSL_RL_FIXED_CHOICES = {
    "optimizer": ("adam",),
    "normalize_advantage_per_mini_batch": (False,),  # advantages are normalized over the whole rollout
    "rnd_cfg": (None,),  # no random network distillation
    "symmetry_cfg": (None,),  # no symmetry augmentation
    "share_cnn_encoders": (False, None),  # MLPs only
    "use_mixed_precision": (False,),
    "torch_compile_mode": (None,),
}

# rsl_rl 5's MLPModel defaults, for the keys an actor / critic section leaves out.
_RSL_RL5_MLP_DEFAULTS = {"hidden_dims": [256, 256, 256], "activation": "elu", "obs_normalization": False}
# rsl_rl's activation names where ours differ.
_RSL_RL_ACTIVATIONS = {"lrelu": "leaky_relu", "swish": "silu"}


def _class_basename(value: Any) -> str:
    """'MLPModel', 'rsl_rl.models.MLPModel', 'rsl_rl.models:MLPModel' or the class itself -> 'MLPModel'."""
    name = getattr(value, "__name__", value)
    return str(name).replace(":", ".").rsplit(".", 1)[-1]


def _check_class_name(value: Any, path: str, expected: str, problems: list[str]) -> None:
    if value is not None and _class_basename(value) != expected:
        problems.append(f"{path}={value!r}: only {expected} is implemented here; allowed: {expected!r}")


def _check_obs_groups(obs_groups: Any, problems: list[str]) -> None:
    # Our runner gives the actor the 'policy' group and the critic the 'critic' group (the 'policy' group
    # on envs without one): rsl_rl's own resolution when obs_groups is left out. rsl_rl 3-4 named the
    # actor's set 'policy'.
    if not obs_groups:
        return
    expected = {"actor": ["policy"], "policy": ["policy"], "critic": ["critic"]}
    if not isinstance(obs_groups, dict) or any(
        not isinstance(groups, (list, tuple)) or list(groups) != expected.get(name) for name, groups in obs_groups.items()
    ):
        problems.append(
            f"obs_groups={obs_groups!r}: the actor reads the 'policy' group and the critic the 'critic' group "
            "(the 'policy' group on envs without one); allowed: {'actor': ['policy'], 'critic': ['critic']}, "
            "or leave obs_groups out"
        )


def _rsl_rl_logger(value: Any, problems: list[str]) -> dict[str, Any]:
    """rsl_rl's ``logger`` -> logger_backend (and the W&B project of rsl_rl 5's dict form)."""
    if not isinstance(value, dict):
        return {"logger_backend": value}  # "tensorboard", "wandb", ...: PPOConfig checks the name
    rest = dict(value)
    backend = {"tensorboard": "tensorboard", "WandbLogWriter": "wandb"}.get(_class_basename(rest.pop("class_name", None)))
    project = rest.pop("project_name", None)
    if backend is None or rest:
        problems.append(
            f"logger={value!r}: allowed: 'tensorboard', 'wandb', 'swanlab', a list of them, "
            "{'class_name': 'tensorboard'} or {'class_name': 'WandbLogWriter', 'project_name': ...}"
        )
        return {}
    return {"logger_backend": backend, **({"logger_kwargs": {"wandb": {"project": project}}} if project else {})}


def _rsl_rl5_model(name: str, section: Any, problems: list[str]) -> tuple[dict, bool, float | None]:
    """An rsl_rl 5 ``actor`` / ``critic`` section -> (network kwargs, obs_normalization, initial action std)."""
    if not isinstance(section, dict):
        problems.append(f"{name}={section!r}: must be a dict such as {{'class_name': 'MLPModel', 'hidden_dims': [256, 256]}}")
        return {}, False, None
    section = {**_RSL_RL5_MLP_DEFAULTS, **section}
    _check_class_name(section.pop("class_name", None), f"{name}.class_name", "MLPModel", problems)
    hidden_dims = section.pop("hidden_dims")
    if not isinstance(hidden_dims, (list, tuple)):
        problems.append(f"{name}.hidden_dims={hidden_dims!r}: must be a list of layer widths such as [256, 256]")
    given_activation = section.pop("activation")
    activation = _RSL_RL_ACTIVATIONS.get(str(given_activation).lower(), str(given_activation).lower())
    if activation not in ACTIVATIONS:
        problems.append(f"{name}.activation={given_activation!r}: allowed: {sorted([*ACTIVATIONS, *_RSL_RL_ACTIVATIONS])}")
    obs_normalization = bool(section.pop("obs_normalization"))
    distribution = section.pop("distribution_cfg", None)
    init_std = section.pop("init_noise_std", None) if name == "actor" else None  # rsl_rl 4.0's name
    if name == "critic":
        if distribution is not None:
            problems.append(f"critic.distribution_cfg={distribution!r}: the critic outputs a value; allowed: None")
    elif distribution is not None and init_std is not None:
        problems.append("actor: give distribution_cfg.init_std (rsl_rl 5) or init_noise_std (rsl_rl 4.0), not both")
    elif distribution is None and init_std is None:
        problems.append(
            "actor.distribution_cfg: missing; PPO needs a stochastic actor, "
            "e.g. {'class_name': 'GaussianDistribution', 'init_std': 1.0}"
        )
    elif distribution is not None:
        init_std = _rsl_rl5_gaussian(distribution, problems)
    allowed = ["class_name", "hidden_dims", "activation", "obs_normalization", "distribution_cfg"]
    allowed += ["init_noise_std"] if name == "actor" else []
    for key in section:
        problems.append(f"{name}.{key}: not supported; allowed: {allowed}")
    hidden_dims = list(hidden_dims) if isinstance(hidden_dims, (list, tuple)) else []
    return {"hidden_dims": hidden_dims, "activation": activation}, obs_normalization, init_std


def _rsl_rl5_gaussian(distribution: Any, problems: list[str]) -> float | None:
    """rsl_rl 5's ``actor.distribution_cfg`` -> the initial action std."""
    if not isinstance(distribution, dict):
        problems.append(f"actor.distribution_cfg={distribution!r}: must be a dict such as {{'class_name': 'GaussianDistribution'}}")
        return None
    distribution = dict(distribution)
    _check_class_name(distribution.pop("class_name", None), "actor.distribution_cfg.class_name", "GaussianDistribution", problems)
    init_std = distribution.pop("init_std", 1.0)
    # Our actor learns log(std) whichever rsl_rl parametrization is named: the same Gaussian policy.
    std_type = distribution.pop("std_type", "scalar")
    if std_type not in ("scalar", "log"):
        problems.append(f"actor.distribution_cfg.std_type={std_type!r}: allowed: 'scalar', 'log'")
    learn_std = distribution.pop("learn_std", True)
    if learn_std is not True:
        problems.append(f"actor.distribution_cfg.learn_std={learn_std!r}: the std is always learned here; allowed: True")
    for key in distribution:
        allowed = ["class_name", "init_std", "std_type", "learn_std"]
        problems.append(f"actor.distribution_cfg.{key}: not supported; allowed: {allowed}")
    return init_std


def ppo_config_from_dict(train_cfg: dict, config_class: type[PPOConfig] = PPOConfig) -> PPOConfig:
    """Build a PPOConfig from an rsl_rl-style ``train_cfg`` dict.

    Layouts:

    - legged_gym / rsl_rl 2-4: ``{"runner": {...}, "algorithm": {...}, "policy": {...}}``, or the runner
      keys at the top level next to ``algorithm`` and ``policy``; ``policy.actor_hidden_dims`` etc.
      map to actor_cfg / critic_cfg.
    - rsl_rl 5: runner keys at the top level (or under ``runner``, as rsl_rl's YAML files nest them)
      with ``algorithm``, ``actor`` and ``critic`` sections, as rsl_rl 5's OnPolicyRunner reads them.
      What a section leaves out takes rsl_rl 5's default (MLPModel: 256x3 ELU layers, no observation
      normalization), the model sections decide the observation normalization, and the entropy
      coefficient stays constant (``entropy_coef_final=None``), as in rsl_rl's PPO.

    Runner and algorithm keys with PPOConfig names map directly (PPOConfig-only fields such as
    ``entropy_coef_final`` too); rsl_rl settings this PPO has one way only (``optimizer``, ``rnd_cfg``,
    ...) pass at that value. Anything else raises one ValueError that lists every key it does not
    take, with what is allowed.
    """
    if not isinstance(train_cfg, dict):
        raise TypeError(f"train_cfg must be a dict, got {type(train_cfg).__name__}")
    # rsl_rl's YAML nests the sections under `runner:`; legged_gym puts algorithm / policy next to it.
    runner = {key: value for key, value in train_cfg.items() if key != "runner"}
    runner.update(train_cfg.get("runner") or {})
    algorithm = dict(runner.pop("algorithm", None) or {})
    policy = runner.pop("policy", None)
    actor, critic = runner.pop("actor", None), runner.pop("critic", None)
    rsl_rl5 = actor is not None or critic is not None

    problems: list[str] = []
    _check_class_name(runner.pop("class_name", None), "class_name", "OnPolicyRunner", problems)
    _check_class_name(algorithm.pop("class_name", None), "algorithm.class_name", "PPO", problems)
    _check_obs_groups(runner.pop("obs_groups", None), problems)

    cfg = config_class()  # a PPOConfig subclass (TwoStagePPOConfig) sets its own fields afterwards
    field_names = set(PPOConfig.__dataclass_fields__)
    overrides: dict[str, Any] = {}
    for prefix, section in (("", runner), ("algorithm.", algorithm)):
        for key, value in section.items():
            if key in _IGNORED_RSL_RL_KEYS:
                continue
            if key in _RSL_RL_FIXED_CHOICES:
                allowed = _RSL_RL_FIXED_CHOICES[key]
                if (value.lower() if isinstance(value, str) else value) not in allowed:
                    problems.append(f"{prefix}{key}={value!r}: not implemented here; allowed: {' or '.join(map(repr, allowed))}")
            elif key == "logger":
                overrides.update(_rsl_rl_logger(value, problems))
            elif key == "wandb_project":
                overrides["logger_kwargs"] = {"wandb": {"project": value}}
            elif key in field_names:
                overrides[key] = value
            else:
                problems.append(f"{prefix}{key}: unknown config field {key!r}")

    actor_cfg = dict(overrides.pop("actor_cfg", cfg.actor_cfg))
    critic_cfg = dict(overrides.pop("critic_cfg", cfg.critic_cfg))
    if rsl_rl5:
        if policy is not None:
            problems.append("policy: give a 'policy' section (rsl_rl <= 4.0) or 'actor' and 'critic' (rsl_rl 5), not both")
        if actor is None or critic is None:
            missing = "critic" if critic is None else "actor"
            problems.append(f"{missing}: missing; rsl_rl 5 configs have both 'actor' and 'critic' sections")
        actor_cfg, actor_norm, init_std = _rsl_rl5_model("actor", actor if actor is not None else {}, problems)
        critic_cfg, critic_norm, _ = _rsl_rl5_model("critic", critic if critic is not None else {}, problems)
        if actor_norm != critic_norm:
            problems.append(
                f"actor.obs_normalization={actor_norm} and critic.obs_normalization={critic_norm}: "
                "both networks normalize their observations or neither does (PPOConfig.empirical_normalization)"
            )
        overrides["empirical_normalization"] = actor_norm
        if init_std is not None:
            overrides["init_noise_std"] = init_std
        overrides.setdefault("entropy_coef_final", None)
    elif policy is not None:
        normalization = {}
        for key, value in dict(policy).items():
            if key == "class_name":
                _check_class_name(value, "policy.class_name", "ActorCritic", problems)
            elif key == "actor_hidden_dims":
                actor_cfg["hidden_dims"] = list(value)
            elif key == "critic_hidden_dims":
                critic_cfg["hidden_dims"] = list(value)
            elif key == "activation":
                actor_cfg["activation"] = critic_cfg["activation"] = value
            elif key == "init_noise_std":
                overrides["init_noise_std"] = value
            elif key in ("actor_obs_normalization", "critic_obs_normalization"):
                normalization[key] = value
            elif key == "noise_std_type" and value in ("scalar", "log"):
                pass  # our actor learns log(std) either way: the same Gaussian policy
            elif key == "state_dependent_std" and value is False:
                pass
            else:
                problems.append(
                    f"policy.{key}={value!r}: not supported; allowed: actor_hidden_dims, critic_hidden_dims, activation, "
                    "init_noise_std, actor_obs_normalization, critic_obs_normalization, class_name='ActorCritic', "
                    "noise_std_type='scalar'|'log', state_dependent_std=False"
                )
        if len(set(normalization.values())) > 1:
            problems.append(f"policy: {normalization}: both networks normalize their observations or neither does")
        elif normalization:
            overrides["empirical_normalization"] = next(iter(normalization.values()))

    if problems:
        known = sorted(field_names | set(_RSL_RL_FIXED_CHOICES) | {"logger", "wandb_project", "obs_groups", "class_name"})
        raise ValueError(
            "train_cfg has settings legged_train's PPO does not take:\n  - " + "\n  - ".join(problems)
            + f"\nRunner / algorithm keys it takes: {known}; ignored: {sorted(_IGNORED_RSL_RL_KEYS)}"
        )
    overrides["actor_cfg"] = actor_cfg
    overrides["critic_cfg"] = critic_cfg
    return apply_overrides(cfg, overrides)
