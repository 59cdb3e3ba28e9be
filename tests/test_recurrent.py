"""Recurrent PPO: GRU / LSTM networks, hidden states reset on dones, trajectory minibatches with masks,
evaluation and export with the hidden state, exact resume of a recurrent run."""

import json

import numpy as np
import pytest
import torch

from legged_train.algorithms.ppo import PPO, PPOConfig
from legged_train.config import apply_overrides
from legged_train.networks import MLPActor, RecurrentActor, RecurrentCritic
from legged_train.runners.on_policy_runner import OnPolicyRunner
from legged_train.storage import RolloutStorage, split_trajectories
from toy_envs import CueMemoryEnv, PointMassEnv, small_cfg


def rnn_net(rnn_type: str | None, layers: int = 1, hidden: int = 16) -> dict:
    net = {"hidden_dims": [16], "activation": "elu"}
    if rnn_type is not None:
        net.update(rnn_type=rnn_type, rnn_hidden_dim=hidden, rnn_num_layers=layers)
    return net


def memory_cfg(actor_rnn: str | None, critic_rnn: str | None = "same", **overrides) -> PPOConfig:
    critic_rnn = actor_rnn if critic_rnn == "same" else critic_rnn
    settings = {
        "num_steps_per_env": 16, "gamma": 0.9, "num_mini_batches": 4, "max_iterations": 20, "log_interval": 10**6,
        "actor_cfg": {**rnn_net(actor_rnn, hidden=32), "hidden_dims": [32]},
        "critic_cfg": {**rnn_net(critic_rnn, hidden=32), "hidden_dims": [32]},
        **overrides,
    }
    return small_cfg(**settings)


def collect(ppo: PPO, env, num_steps: int | None = None) -> None:
    obs, extras = env.get_observations()
    critic_obs = extras["observations"].get("critic", obs)
    with torch.inference_mode():
        for _ in range(num_steps or ppo.cfg.num_steps_per_env):
            actions = ppo.act(obs, critic_obs)
            obs, rewards, dones, extras = env.step(actions)
            critic_obs = extras["observations"].get("critic", obs)
            ppo.process_env_step(rewards, dones, extras)
        ppo.compute_returns(critic_obs)


# ------------------------------------------------------------------------------------ learning
@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_recurrent_ppo_solves_the_cue_memory_task(rnn_type):
    # The cue is seen at an episode's first step only; later steps pay cue * action. A perfect policy
    # earns (length - 1) per episode: 3.5 on average over lengths 3..6.
    torch.manual_seed(0)
    runner = OnPolicyRunner(env=CueMemoryEnv(num_envs=64), cfg=memory_cfg(rnn_type))
    assert isinstance(runner.alg.actor, RecurrentActor) and isinstance(runner.alg.critic, RecurrentCritic)
    assert abs(runner.eval(256)["eval/mean_reward"]) < 1.0  # untrained: chance
    runner.learn(num_learning_iterations=20)
    assert runner.eval(256)["eval/mean_reward"] > 3.0


def test_feed_forward_policy_stays_at_chance_on_the_cue_memory_task():
    torch.manual_seed(0)
    runner = OnPolicyRunner(env=CueMemoryEnv(num_envs=64), cfg=memory_cfg(None))
    assert isinstance(runner.alg.actor, MLPActor)
    runner.learn(num_learning_iterations=20)
    # Its later observations are the same whatever the cue: nothing to act on.
    assert abs(runner.eval(256)["eval/mean_reward"]) < 1.0


# ------------------------------------------------------------------------------- hidden states
@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_hidden_state_resets_only_for_the_envs_that_are_done(rnn_type):
    torch.manual_seed(1)
    actor = RecurrentActor(3, 2, rnn_type=rnn_type, rnn_hidden_dim=8, rnn_num_layers=2, hidden_dims=[8])
    assert actor.get_hidden_states() is None
    for _ in range(3):
        actor(torch.randn(4, 3))
    before = actor.get_hidden_states()
    assert len(before) == (1 if rnn_type == "gru" else 2) and before[0].shape == (2, 4, 8)
    actor.reset(torch.tensor([True, False, True, False]))
    for old, new in zip(before, actor.get_hidden_states()):
        assert torch.all(new[:, [0, 2]] == 0)
        assert torch.equal(new[:, [1, 3]], old[:, [1, 3]])
        assert torch.all(old[:, [0, 2]] != 0)
    # A reset env's next step equals a first step from zeros.
    obs = torch.randn(4, 3)
    stepped, _ = actor.step(obs, actor.get_hidden_states())
    fresh, _ = actor.step(obs, None)
    torch.testing.assert_close(stepped[[0, 2]], fresh[[0, 2]], rtol=0, atol=0)
    assert not torch.allclose(stepped[[1, 3]], fresh[[1, 3]])
    actor.reset()
    assert actor.get_hidden_states() is None


def test_ppo_stores_the_state_before_each_step_and_resets_done_envs():
    torch.manual_seed(2)
    env = CueMemoryEnv(num_envs=6)
    ppo = PPO(env, memory_cfg("gru", num_steps_per_env=8))
    collect(ppo, env)
    storage = ppo.storage
    dones = storage.dones.bool()
    assert dones.any() and not dones.all()
    # Step 0 of the first rollout starts from zeros; after a done, the next step does too; and the
    # state stored at t + 1 is what the actor made of step t, for envs that went on.
    assert torch.all(storage.actor_hidden[0][0] == 0)
    for t in range(storage.num_steps - 1):
        h_next = storage.actor_hidden[0][t + 1]  # (layers, envs, hidden)
        assert torch.all(h_next[:, dones[t]] == 0)
        with torch.no_grad():
            _, (expected,) = ppo.actor.step(storage.obs[t], (storage.actor_hidden[0][t],))
        torch.testing.assert_close(h_next[:, ~dones[t]], expected[:, ~dones[t]], rtol=0, atol=0)
        for buffer in storage.critic_hidden:
            assert torch.all(buffer[t + 1][:, dones[t]] == 0)


def test_recurrent_critic_bootstraps_from_its_memory_without_advancing_it():
    torch.manual_seed(7)
    env = PointMassEnv(num_envs=3, privileged=True)
    ppo = PPO(env, small_cfg(gamma=0.5, critic_cfg=rnn_net("gru")))
    obs, extras = env.get_observations()
    with torch.inference_mode():
        ppo.act(obs, extras["observations"]["critic"])
        after_step = ppo.critic.get_hidden_states()
        final_critic = torch.randn(3, env.num_privileged_obs)
        truncated = torch.tensor([True, False, False])
        no = torch.zeros(3, dtype=torch.bool)
        step_extras = {"truncated": truncated, "terminated": no, "final_critic_observation": final_critic}
        ppo.process_env_step(torch.zeros(3), truncated, step_extras)
        # V(final observation) from the memory of the episode that ended, then that env's memory is reset.
        expected = 0.5 * ppo.critic.step(final_critic, after_step)[0][0]
        torch.testing.assert_close(ppo.storage.rewards[0, 0], expected)
        (h,) = ppo.critic.get_hidden_states()
        assert torch.all(h[:, 0] == 0) and torch.equal(h[:, 1:], after_step[0][:, 1:])
        # Nor do the last values of compute_returns move the state the next rollout starts from.
        ppo.compute_returns(torch.randn(3, env.num_privileged_obs))
        assert torch.equal(ppo.critic.get_hidden_states()[0], h)


# ------------------------------------------------------------------------- trajectory minibatches
def test_split_trajectories_by_hand():
    dones = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    start, env, length = split_trajectories(dones)
    assert start.tolist() == [0, 0, 2, 3]
    assert env.tolist() == [0, 1, 0, 1]
    assert length.tolist() == [2, 3, 2, 1]


def test_recurrent_minibatches_pad_and_mask_whole_trajectories():
    num_steps, num_envs = 4, 2
    storage = RolloutStorage(num_envs, num_steps, num_obs=1, num_critic_obs=1, num_actions=1,
                             actor_hidden_shapes=[(1, num_envs, 2)])
    dones = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    for t in range(num_steps):
        obs = torch.tensor([[10.0 * t + 1], [10.0 * t + 2]])  # step t of env e reads 10 t + e + 1
        hidden = (torch.stack([torch.full((2,), 100.0 + t), torch.full((2,), 200.0 + t)]).unsqueeze(0),)
        storage.add(obs, obs, obs, obs[:, 0], obs[:, 0], obs, obs, actor_hidden_states=hidden)
        storage.set_step_result(torch.zeros(num_envs), dones[t])
    storage.returns.copy_(storage.values)
    storage.advantages.copy_(storage.values)

    (batch,) = storage.recurrent_minibatches(num_mini_batches=1, num_epochs=1)
    # Trajectories in start order: env 0 steps 0-1, env 1 steps 0-2, env 0 steps 2-3, env 1 step 3.
    expected_obs = torch.tensor([[1.0, 2.0, 21.0, 32.0], [11.0, 12.0, 31.0, 0.0], [0.0, 22.0, 0.0, 0.0]])
    torch.testing.assert_close(batch.obs[..., 0], expected_obs)
    assert batch.masks.tolist() == [[True] * 4, [True, True, True, False], [False, True, False, False]]
    # Flat fields hold the real steps in padded[masks] order, matching the padded observations.
    torch.testing.assert_close(batch.actions[:, 0], batch.obs[batch.masks][:, 0])
    torch.testing.assert_close(batch.old_log_probs, expected_obs[batch.masks.numpy()])
    assert batch.critic_hidden_states is None
    # Each trajectory starts from the state stored at its first step.
    (h0,) = batch.actor_hidden_states
    assert h0.shape == (1, 4, 2)
    torch.testing.assert_close(h0[0, :, 0], torch.tensor([100.0, 200.0, 102.0, 203.0]))

    # Two minibatches: the trajectories of one env each; every step exactly once per epoch.
    batches = list(storage.recurrent_minibatches(num_mini_batches=2, num_epochs=3))
    assert len(batches) == 6
    for epoch in range(3):
        seen = torch.cat([b.actions[:, 0] for b in batches[2 * epoch : 2 * epoch + 2]])
        assert sorted(seen.tolist()) == sorted(storage.obs.flatten().tolist())
    with pytest.raises(ValueError, match=r"num_mini_batches=3 must be in \[1, 2\] \(envs\)"):
        next(storage.recurrent_minibatches(num_mini_batches=3, num_epochs=1))


@pytest.mark.parametrize(
    "actor_rnn, critic_rnn, layers",
    [("gru", "gru", 1), ("lstm", "lstm", 2), ("gru", None, 1), (None, "lstm", 1)],
)
def test_trajectory_evaluation_reproduces_the_rollout_exactly(actor_rnn, critic_rnn, layers):
    # Replaying the stored trajectories from their stored first states must give the rollout's own
    # log-probs and values: the padding, masks and carried hidden states are right. The second
    # rollout's trajectories start mid-episode with the states the first one left.
    torch.manual_seed(3)
    env = CueMemoryEnv(num_envs=12, privileged=True)
    cfg = small_cfg(
        num_steps_per_env=8, num_mini_batches=3, num_learning_epochs=1,
        actor_cfg=rnn_net(actor_rnn, layers), critic_cfg=rnn_net(critic_rnn, layers),
    )
    ppo = PPO(env, cfg)
    collect(ppo, env)
    ppo.update()
    collect(ppo, env)
    assert all(buffer[0].abs().sum() > 0 for buffer in [*ppo.storage.actor_hidden, *ppo.storage.critic_hidden])
    num_samples = 0
    with torch.no_grad():
        for batch in ppo.storage.recurrent_minibatches(cfg.num_mini_batches, num_epochs=1):
            distribution, values = ppo._evaluate_trajectories(batch)
            log_probs = distribution.log_prob(batch.actions).sum(dim=-1)
            torch.testing.assert_close(log_probs, batch.old_log_probs, rtol=1e-6, atol=1e-6)
            torch.testing.assert_close(distribution.mean, batch.old_mean, rtol=1e-6, atol=1e-6)
            torch.testing.assert_close(values, batch.old_values, rtol=1e-6, atol=1e-6)
            num_samples += len(log_probs)
    assert num_samples == cfg.num_steps_per_env * env.num_envs
    stats = ppo.update()
    assert np.isfinite(stats["train/policy_loss"]) and stats["train/approx_kl"] >= 0


# ------------------------------------------------------------------------ inference and export
def test_inference_policy_carries_its_own_state_and_eval_leaves_the_rollout_state_alone():
    torch.manual_seed(4)
    runner = OnPolicyRunner(env=CueMemoryEnv(num_envs=8), cfg=memory_cfg("gru", num_steps_per_env=5))
    runner.learn(num_learning_iterations=1)
    rollout_state = [h.clone() for h in runner.alg.actor.get_hidden_states()]
    runner.eval(16)
    assert all(torch.equal(a, b) for a, b in zip(rollout_state, runner.alg.actor.get_hidden_states()))

    policy = runner.get_inference_policy()
    obs = [torch.randn(3, 2) for _ in range(4)]
    actions = [policy(o) for o in obs]
    state = None
    for o, a in zip(obs, actions):
        expected, state = runner.alg.actor.step(o, state)
        torch.testing.assert_close(a, expected, rtol=0, atol=0)
    # Env 1 finished: only it starts over.
    policy.reset(torch.tensor([False, True, False]))
    after_reset = policy(obs[0])
    fresh = runner.get_inference_policy()(obs[0])  # a new policy starts from zeros
    torch.testing.assert_close(after_reset[1], fresh[1], rtol=0, atol=0)
    assert not torch.allclose(after_reset[[0, 2]], fresh[[0, 2]])
    policy.reset()  # all envs: another batch size is fine afterwards
    assert policy(torch.randn(5, 2)).shape == (5, 1)
    with pytest.raises(ValueError, match="observations of 2 envs, hidden state of 5"):
        policy(torch.randn(2, 2))


def test_runner_eval_resets_the_policy_memory_of_finished_episodes(monkeypatch):
    from legged_train.runners.base import InferencePolicy

    seen = []
    reset = InferencePolicy.reset

    def spy(self, dones=None):
        seen.append(dones.clone())
        reset(self, dones)

    monkeypatch.setattr(InferencePolicy, "reset", spy)
    runner = OnPolicyRunner(env=CueMemoryEnv(num_envs=4), cfg=memory_cfg("gru"))
    runner.eval(8)  # 4 eval envs, 2 episodes each
    assert seen and all(dones.shape == (4,) for dones in seen)
    assert sum(int(dones.sum()) for dones in seen) >= 8


def test_standard_evaluation_and_play_reset_a_recurrent_policy():
    from legged_train.envs.legged.config import LeggedEnvConfig
    from legged_train.envs.legged.env import LeggedVelocityEnv
    from legged_train.evaluation import standard_evaluation
    from legged_train.cli.play import play_commands

    env = LeggedVelocityEnv(LeggedEnvConfig(num_envs=2))
    runner = OnPolicyRunner(env=env, cfg=small_cfg(actor_cfg=rnn_net("gru"), critic_cfg=rnn_net(None)))
    policy = runner.get_inference_policy()
    resets = []

    class Spy:
        def __call__(self, obs):
            return policy(obs)

        def reset(self, dones=None):
            resets.append(dones)
            policy.reset(dones)

    result = standard_evaluation(env, Spy(), num_envs=4)
    assert np.isfinite(result["velocity_rmsd"]) and 0.0 <= result["fall_rate"] <= 1.0
    # A full reset before the first step, then every step's dones.
    assert resets[0] is None and len(resets) == 1 + 500 and all(d.shape == (4,) for d in resets[1:])
    resets.clear()
    # play.py drives one env after the standard evaluation's 4 with the same policy object.
    play_env = env.make_eval_env(num_envs=1)
    tracking = play_commands(play_env, Spy(), [([0.5, 0.0, 0.0], 0.1)], None, 64, 48, False)
    assert len(tracking) == 1 and resets[0] is None and len(resets) == 1 + 5
    play_env.close()
    env.close()


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_exported_recurrent_policy_matches_torch_over_a_sequence(rnn_type, tmp_path):
    import onnxruntime

    from legged_train.export import export_policy

    torch.manual_seed(5)
    runner = OnPolicyRunner(env=CueMemoryEnv(num_envs=8), cfg=memory_cfg(rnn_type, num_steps_per_env=5))
    runner.learn(num_learning_iterations=1)  # normalizer statistics and weights away from init
    paths = export_policy(runner.policy_module(), 2, str(tmp_path), {"task": "cue"})
    info = json.loads(open(paths["info"]).read())
    names = ["h"] if rnn_type == "gru" else ["h", "c"]
    state_shape = [1, None, 32]  # (num_layers, batch, hidden_dim)
    assert info["inputs"] == {"obs": [None, 2], **{f"{n}_in": state_shape for n in names}}
    assert info["outputs"] == {"actions": [None, 1], **{f"{n}_out": state_shape for n in names}}
    assert info["recurrent"]["rnn_type"] == rnn_type and "zeros" in info["recurrent"]["reset"]

    session = onnxruntime.InferenceSession(paths["onnx"])
    scripted = torch.jit.load(paths["torchscript"])
    policy = runner.get_inference_policy()
    batch = 3
    onnx_state = [np.zeros((1, batch, 32), np.float32) for _ in names]
    script_state = [torch.zeros(1, batch, 32) for _ in names]
    for t in range(8):
        obs = torch.randn(batch, 2)
        expected = policy(obs)
        outputs = session.run(None, {"obs": obs.numpy(), **{f"{n}_in": s for n, s in zip(names, onnx_state)}})
        np.testing.assert_allclose(outputs[0], expected.numpy(), rtol=1e-5, atol=1e-5)
        scripted_outputs = scripted(obs, *script_state)
        torch.testing.assert_close(scripted_outputs[0], expected, rtol=1e-6, atol=1e-6)
        onnx_state, script_state = list(outputs[1:]), list(scripted_outputs[1:])
        if t == 4:  # env 2's episode ends: zero its column, as the JSON says
            dones = torch.tensor([False, False, True])
            policy.reset(dones)
            for s in onnx_state:
                s[:, 2] = 0.0
            script_state = [s.masked_fill(dones.view(1, -1, 1), 0.0) for s in script_state]


# --------------------------------------------------------------------------------- checkpoints
def test_recurrent_run_resumes_exactly(tmp_path):
    def make_runner(log_dir=None):
        return OnPolicyRunner(env=CueMemoryEnv(num_envs=8), cfg=memory_cfg("lstm", num_steps_per_env=5), log_dir=log_dir)

    torch.manual_seed(6)
    whole = make_runner()
    whole.learn(num_learning_iterations=2)
    path = whole.save_checkpoint(str(tmp_path / "model_2.pt"))
    whole.learn(num_learning_iterations=2)

    checkpoint = torch.load(path, weights_only=True)
    saved = checkpoint["rollout_hidden_states"]
    assert set(saved) == {"actor", "critic"} and len(saved["actor"]) == 2  # LSTM: h and c
    assert saved["actor"][0].shape == (1, 8, 32) and saved["actor"][0].abs().sum() > 0  # episodes in progress

    resumed = make_runner()
    resumed.load_checkpoint(path)
    resumed.learn(num_learning_iterations=2)
    for a, b in zip(whole.alg.actor.state_dict().values(), resumed.alg.actor.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(whole.alg.critic.state_dict().values(), resumed.alg.critic.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(whole.alg.actor.get_hidden_states(), resumed.alg.actor.get_hidden_states()):
        assert torch.equal(a, b)

    # Replay (no optimizer) and another number of envs: fresh episodes from zeros, no shape error.
    other = OnPolicyRunner(env=CueMemoryEnv(num_envs=3), cfg=memory_cfg("lstm", num_steps_per_env=5))
    other.load_checkpoint(path, load_optimizer=True)
    assert other.alg.actor.get_hidden_states() is None
    other.load_checkpoint(path, load_optimizer=False)
    assert other.alg.actor.get_hidden_states() is None


# ---------------------------------------------------------------------------------- configuration
def test_recurrent_networks_are_picked_from_the_config_and_errors_name_the_field():
    env = PointMassEnv(num_envs=4)
    # As train.py --set train.actor_cfg.rnn_type=gru does it.
    cfg = apply_overrides(small_cfg(), {"actor_cfg.rnn_type": "gru", "actor_cfg.rnn_hidden_dim": "8"})
    ppo = PPO(env, cfg)
    assert isinstance(ppo.actor, RecurrentActor) and ppo.actor.rnn_type == "gru" and ppo.actor.rnn.hidden_size == 8
    assert not ppo.critic_is_recurrent and ppo.is_recurrent
    # Or by class.
    runner = OnPolicyRunner(env=env, cfg=small_cfg(), actor_class=RecurrentActor, critic_class=RecurrentCritic)
    assert runner.alg.actor.rnn_type == "lstm" and runner.alg.critic.is_recurrent

    with pytest.raises(ValueError, match=r"actor_cfg.rnn_type='rnn' is not supported; allowed: 'gru', 'lstm'"):
        small_cfg(actor_cfg={"hidden_dims": [8], "rnn_type": "rnn"})
    with pytest.raises(ValueError, match=r"rnn_type='rnn' is not supported; allowed: 'gru', 'lstm'"):
        RecurrentCritic(3, rnn_type="rnn")
    with pytest.raises(ValueError, match=r"rnn_hidden_dim=0 must be a positive int"):
        RecurrentActor(3, 1, rnn_type="gru", rnn_hidden_dim=0)
    with pytest.raises(ValueError, match=r"critic_cfg.rnn_hidden_dim=8 without critic_cfg.rnn_type"):
        PPO(env, small_cfg(critic_cfg={"hidden_dims": [8], "rnn_hidden_dim": 8}))
    with pytest.raises(ValueError, match=r"actor_cfg has \['rnn_type'\] but actor_class=MLPActor is not recurrent"):
        PPO(env, small_cfg(actor_cfg={"hidden_dims": [8], "rnn_type": "gru"}), actor_class=MLPActor)
    with pytest.raises(ValueError, match=r"num_mini_batches=8 must be in \[1, 4\] \(envs\)"):
        ppo = PPO(env, small_cfg(num_mini_batches=8, actor_cfg=rnn_net("gru")))
        collect(ppo, env)
        ppo.update()
