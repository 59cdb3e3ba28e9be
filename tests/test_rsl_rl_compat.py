"""rsl_rl 5 compatibility: rsl-rl-lib's own OnPolicyRunner trains go1_flat through RslRlVecEnv, and our
OnPolicyRunner takes the same rsl_rl 5 config dict (ppo_config_from_dict)."""

import copy
import os

import pytest
import torch
from rsl_rl.env import VecEnv as RslRlVecEnvBase
from rsl_rl.runners import OnPolicyRunner as RslRlOnPolicyRunner
from tensordict import TensorDict

from legged_train.envs.rsl_rl_env import RslRlVecEnv
from legged_train.rsl_rl_config import ppo_config_from_dict
from legged_train.runners.on_policy_runner import OnPolicyRunner
from legged_train.tasks import get_task

NUM_ENVS = 16


def make_go1_env():
    task = get_task("go1_flat")
    cfg = task.env_cfg
    cfg.num_envs = NUM_ENVS
    cfg.sim.num_threads = 1
    return task.make_env(cfg, "cpu")


def rsl_rl5_train_cfg() -> dict:
    """An rsl_rl 5 runner config as its users write it (rsl_rl's docs / Isaac Lab's to_dict), made small."""
    return {
        "seed": 1,
        "device": "cpu",
        "num_steps_per_env": 8,
        "max_iterations": 2,
        "save_interval": 1,
        "experiment_name": "go1_flat_rsl_rl5",
        "run_name": "",
        "logger": "tensorboard",
        "wandb_project": "legged",
        "neptune_project": "legged",
        "resume": False,
        "load_run": ".*",
        "load_checkpoint": "model_.*.pt",
        "check_for_nan": True,
        "obs_groups": {"actor": ["policy"], "critic": ["critic"]},
        "actor": {
            "class_name": "MLPModel",
            "hidden_dims": [32, 32],
            "activation": "elu",
            "obs_normalization": True,
            "distribution_cfg": {"class_name": "GaussianDistribution", "init_std": 0.8, "std_type": "scalar"},
        },
        "critic": {"class_name": "MLPModel", "hidden_dims": [64, 32], "activation": "elu", "obs_normalization": True},
        "algorithm": {
            "class_name": "PPO",
            "optimizer": "adam",
            "learning_rate": 5e-4,
            "num_learning_epochs": 2,
            "num_mini_batches": 2,
            "schedule": "adaptive",
            "desired_kl": 0.02,
            "clip_param": 0.15,
            "gamma": 0.98,
            "lam": 0.9,
            "value_loss_coef": 0.5,
            "entropy_coef": 0.004,
            "max_grad_norm": 0.8,
            "use_clipped_value_loss": False,
            "normalize_advantage_per_mini_batch": False,
            "rnd_cfg": None,
            "symmetry_cfg": None,
        },
    }


def test_adapter_follows_rsl_rl_vec_env():
    env = make_go1_env()
    wrapped = RslRlVecEnv(env)
    assert isinstance(wrapped, RslRlVecEnvBase)
    assert (wrapped.num_envs, wrapped.num_actions, wrapped.max_episode_length) == (NUM_ENVS, 12, env.max_episode_length)
    assert wrapped.cfg is env.cfg and wrapped.unwrapped is env and wrapped.device == torch.device("cpu")

    obs = wrapped.get_observations()
    assert isinstance(obs, TensorDict) and obs.batch_size == torch.Size([NUM_ENVS])
    assert set(obs.keys()) == {"policy", "critic"}
    assert obs["policy"].shape == (NUM_ENVS, env.num_obs) and obs["critic"].shape == (NUM_ENVS, env.num_privileged_obs)

    # rsl_rl's init_at_random_ep_len assigns the buffer outside inference mode: it must reach the env.
    wrapped.episode_length_buf = torch.full((NUM_ENVS,), env.max_episode_length - 1, dtype=torch.long)
    assert torch.equal(env.episode_length_buf, torch.full((NUM_ENVS,), env.max_episode_length - 1))
    with torch.inference_mode():
        obs, rewards, dones, extras = wrapped.step(torch.zeros(NUM_ENVS, 12))
    assert isinstance(obs, TensorDict) and obs["critic"].shape == (NUM_ENVS, env.num_privileged_obs)
    assert rewards.shape == (NUM_ENVS,) and dones.shape == (NUM_ENVS,)
    # Every env hit the time limit (or fell on that very step): all done, the time-outs flagged for rsl_rl.
    assert dones.all() and torch.equal(extras["time_outs"] | extras["terminated"], dones)
    assert extras["time_outs"].any()
    assert "observations" not in extras  # the groups travel in the TensorDict
    assert {"fall_rate", "episode_length_s"} <= set(extras["log"]) and any(k.startswith("rew_") for k in extras["log"])
    assert torch.equal(env.episode_length_buf, torch.zeros(NUM_ENVS, dtype=torch.long))  # reset in the same step
    torch.testing.assert_close(obs["policy"], env.get_observations()[0])

    with pytest.raises(ValueError, match=r"episode_length_buf: shape \(3,\); expected \(16,\)"):
        wrapped.episode_length_buf = torch.zeros(3, dtype=torch.long)
    with pytest.raises(TypeError, match="RslRlVecEnv wraps an envs.vec_env.VecEnv"):
        RslRlVecEnv(object())


def test_rsl_rl_own_runner_trains_go1_flat(tmp_path):
    torch.manual_seed(0)
    env = make_go1_env()
    wrapped = RslRlVecEnv(env)
    runner = RslRlOnPolicyRunner(wrapped, copy.deepcopy(rsl_rl5_train_cfg()), log_dir=str(tmp_path), device="cpu")
    actor, critic = runner.alg.actor, runner.alg.critic
    # The asymmetric actor-critic: the actor sees the policy group, the critic the privileged one.
    assert actor.obs_dim == env.num_obs and critic.obs_dim == env.num_privileged_obs
    before = copy.deepcopy(actor.state_dict())

    runner.learn(num_learning_iterations=2, init_at_random_ep_len=True)

    assert runner.current_learning_iteration == 1  # rsl_rl counts from 0
    assert {"model_0.pt", "model_1.pt"} <= set(os.listdir(tmp_path))
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(tmp_path))
    checkpoint = torch.load(tmp_path / "model_1.pt", weights_only=False)
    assert checkpoint["iter"] == 1
    after = checkpoint["actor_state_dict"]
    assert not torch.equal(before["mlp.0.weight"], after["mlp.0.weight"])  # the update moved the policy
    assert after["obs_normalizer._mean"].abs().sum() > 0  # normalizer statistics were gathered
    policy = runner.get_inference_policy(device="cpu")
    with torch.inference_mode():
        actions = policy(wrapped.get_observations())
    assert actions.shape == (NUM_ENVS, 12) and torch.isfinite(actions).all()


def test_rsl_rl5_config_maps_to_ppo_config_and_trains_our_runner(tmp_path):
    cfg = ppo_config_from_dict(rsl_rl5_train_cfg())
    assert (cfg.seed, cfg.num_steps_per_env, cfg.max_iterations, cfg.save_interval) == (1, 8, 2, 1)
    assert (cfg.experiment_name, cfg.logger_backend) == ("go1_flat_rsl_rl5", "tensorboard")
    assert cfg.logger_kwargs == {"wandb": {"project": "legged"}}
    assert (cfg.learning_rate, cfg.num_learning_epochs, cfg.num_mini_batches, cfg.schedule) == (5e-4, 2, 2, "adaptive")
    assert (cfg.desired_kl, cfg.clip_param, cfg.gamma, cfg.lam) == (0.02, 0.15, 0.98, 0.9)
    assert (cfg.value_loss_coef, cfg.entropy_coef, cfg.max_grad_norm, cfg.use_clipped_value_loss) == (0.5, 0.004, 0.8, False)
    assert cfg.entropy_coef_final is None  # constant, as in rsl_rl's PPO
    assert cfg.actor_cfg == {"hidden_dims": [32, 32], "activation": "elu"}
    assert cfg.critic_cfg == {"hidden_dims": [64, 32], "activation": "elu"}
    assert cfg.init_noise_std == 0.8 and cfg.empirical_normalization is True

    # rsl_rl's YAML layout (everything under `runner:`) and defaults for what a section leaves out.
    nested = ppo_config_from_dict(
        {"runner": {"num_steps_per_env": 24, "save_interval": 100, "algorithm": {"class_name": "PPO"},
                    "actor": {"class_name": "MLPModel", "distribution_cfg": {"class_name": "GaussianDistribution"}},
                    "critic": {"class_name": "rsl_rl.models.MLPModel", "activation": "lrelu"}}}
    )
    assert nested.actor_cfg == {"hidden_dims": [256, 256, 256], "activation": "elu"}
    assert nested.critic_cfg == {"hidden_dims": [256, 256, 256], "activation": "leaky_relu"}
    assert (nested.init_noise_std, nested.empirical_normalization, nested.save_interval) == (1.0, False, 100)

    env = make_go1_env()
    runner = OnPolicyRunner(env, rsl_rl5_train_cfg(), log_dir=str(tmp_path), device="cpu")
    assert runner.alg.actor.mlp[0].in_features == env.num_obs and runner.alg.actor.mlp[0].out_features == 32
    assert runner.alg.critic.mlp[0].in_features == env.num_privileged_obs and runner.alg.critic.mlp[0].out_features == 64
    stats = runner.learn(num_learning_iterations=2, init_at_random_ep_len=True)
    assert runner.current_learning_iteration == 2
    assert {"model_1.pt", "model_2.pt"} <= set(os.listdir(tmp_path))
    assert stats["train/learning_rate"] > 0 and stats["train/entropy_coef"] == 0.004
    runner.close()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["algorithm"].update(rnd_cfg={"weight": 1.0}), r"algorithm\.rnd_cfg=\{'weight': 1\.0\}: not implemented here; allowed: None"),
        (lambda c: c["algorithm"].update(learning_rat=1e-3), r"algorithm\.learning_rat: unknown config field 'learning_rat'"),
        (lambda c: c["algorithm"].update(optimizer="sgd"), r"algorithm\.optimizer='sgd': not implemented here; allowed: 'adam'"),
        (lambda c: c["algorithm"].update(class_name="Distillation"), r"algorithm\.class_name='Distillation'.*allowed: 'PPO'"),
        (lambda c: c["actor"].update(class_name="RNNModel", rnn_type="lstm"), r"actor\.class_name='RNNModel'.*allowed: 'MLPModel'"),
        (lambda c: c["actor"].update(rnn_type="lstm"), r"actor\.rnn_type: not supported; allowed: \['class_name', 'hidden_dims'"),
        (lambda c: c["actor"]["distribution_cfg"].update(class_name="BetaDistribution"), r"allowed: 'GaussianDistribution'"),
        (lambda c: c["actor"].pop("distribution_cfg"), r"actor\.distribution_cfg: missing; PPO needs a stochastic actor"),
        (lambda c: c["critic"].update(obs_normalization=False), r"actor\.obs_normalization=True and critic\.obs_normalization=False"),
        (lambda c: c["critic"].update(activation="mish"), r"critic\.activation='mish': allowed: \["),
        (
            lambda c: c.update(obs_groups={"actor": ["policy"], "critic": ["policy", "critic"]}),
            r"obs_groups=.*allowed: \{'actor': \['policy'\], 'critic': \['critic'\]\}",
        ),
        (lambda c: c.update(policy={"actor_hidden_dims": [8]}), r"policy: give a 'policy' section .* not both"),
        (lambda c: c.pop("critic"), r"critic: missing"),
    ],
)
def test_rsl_rl5_config_errors_name_the_key(change, message):
    train_cfg = rsl_rl5_train_cfg()
    change(train_cfg)
    with pytest.raises(ValueError, match=message) as error:
        ppo_config_from_dict(train_cfg)
    assert "Runner / algorithm keys it takes:" in str(error.value)  # and says what is allowed


def test_every_unsupported_key_is_reported_at_once():
    train_cfg = rsl_rl5_train_cfg()
    train_cfg["algorithm"].update(symmetry_cfg={"use_data_augmentation": True}, normalize_advantage_per_mini_batch=True)
    train_cfg["torch_compile_mode"] = "default"
    with pytest.raises(ValueError) as error:
        ppo_config_from_dict(train_cfg)
    for key in ("algorithm.symmetry_cfg", "algorithm.normalize_advantage_per_mini_batch=True", "torch_compile_mode='default'"):
        assert key in str(error.value)
