"""Image networks: the CNN depth encoder, the image actors (recurrent protocol, normalization of the
vector columns only, export with the image input and hidden state), the image-layout checks, and
PPO / distillation with an image student on a toy env whose observations hold an image."""

import json

import numpy as np
import pytest
import torch

from legged_train.algorithms.ppo import PPO, PPO_SETS_NETWORK_OPTIONS
from legged_train.image_networks import (
    DepthEncoder,
    ImageMLPActor,
    ImageRecurrentActor,
    check_image_layout,
    parse_image_layout,
)
from legged_train.networks import MLPActor, RecurrentActor, check_network_options
from legged_train.storage import RolloutStorage
from toy_envs import PointMassEnv, small_cfg

# A small group: 3 vector columns, a 1 x 12 x 16 image, 2 more vector columns.
IMAGE = (1, 12, 16)
IMAGE_START = 3
NUM_OBS = 3 + 12 * 16 + 2
SMALL_ENCODER = {"encoder_channels": [4, 8, 8], "encoder_kernel_sizes": [3, 3, 3], "encoder_strides": [2, 1, 1],
                 "encoder_latent_dim": 8}


def small_actor(rnn_type: str | None = "gru", **changes):
    options = {"image_layout": [(IMAGE_START, IMAGE)], "hidden_dims": [16], **SMALL_ENCODER, **changes}
    if rnn_type is None:
        return ImageMLPActor(NUM_OBS, 2, **options)
    return ImageRecurrentActor(NUM_OBS, 2, rnn_type=rnn_type, rnn_hidden_dim=16, **options)


def observations(*batch: int, seed: int = 0) -> torch.Tensor:
    """Vector columns around N(0, 1), pixels in [0, 1] as a scaled depth image."""
    generator = torch.Generator().manual_seed(seed)
    obs = torch.randn(*batch, NUM_OBS, generator=generator)
    obs[..., IMAGE_START : IMAGE_START + 192] = torch.rand(*batch, 192, generator=generator)
    return obs


# ------------------------------------------------------------------------------------ encoder
@pytest.mark.parametrize("shape", [(1, 48, 64), (1, 24, 32), (1, 58, 87), (2, 60, 106)])
def test_depth_encoder_gives_a_128_d_latent_for_common_depth_resolutions(shape):
    encoder = DepthEncoder(shape)
    assert encoder.latent(encoder.convs(torch.zeros(3, *shape))).shape == (3, 128)
    assert len([m for m in encoder.convs if isinstance(m, torch.nn.Conv2d)]) == 3
    if shape == (1, 48, 64):
        assert encoder.conv_output_shape == (32, 8, 12)


def test_depth_encoder_options_and_bad_input():
    encoder = DepthEncoder((1, 24, 32), channels=[8, 8], kernel_sizes=[3, 3], strides=[2, 2], latent_dim=16,
                           activation="relu")
    assert encoder(torch.rand(5, 1, 24, 32)).shape == (5, 16)
    assert isinstance(encoder.convs[1], torch.nn.ReLU)
    with pytest.raises(ValueError, match=r"image_shape=\(1, 8, 8\) is too small for encoder_kernel_sizes=\[5, 4, 3\]"):
        DepthEncoder((1, 8, 8))
    with pytest.raises(ValueError, match=r"encoder_kernel_sizes=\[5, 4\] must be 3 positive ints"):
        DepthEncoder((1, 48, 64), kernel_sizes=[5, 4])
    with pytest.raises(ValueError, match=r"encoder_latent_dim=0 must be a positive int"):
        DepthEncoder((1, 48, 64), latent_dim=0)
    with pytest.raises(ValueError, match=r"activation='swish' is not supported"):
        DepthEncoder((1, 48, 64), activation="swish")


# ------------------------------------------------------------------------------- image layouts
def test_image_layout_is_checked_against_the_group():
    assert parse_image_layout(10, [[4, [1, 2, 3]], (0, (1, 2, 2))]) == [(0, (1, 2, 2)), (4, (1, 2, 3))]
    with pytest.raises(ValueError, match=r"image_layout=\[\] must be a non-empty list"):
        parse_image_layout(10, [])
    with pytest.raises(ValueError, match=r"ends at column 11, past the group's 10 columns"):
        parse_image_layout(10, [(5, (1, 2, 3))])
    with pytest.raises(ValueError, match=r"the image block at column 3 overlaps the one before it"):
        parse_image_layout(10, [(0, (1, 2, 2)), (3, (1, 1, 2))])
    with pytest.raises(ValueError, match=r"shape=\(1, 2\) must be 3 positive ints"):
        parse_image_layout(10, [(0, (1, 2))])
    with pytest.raises(ValueError, match=r"start=-1 must be a column index >= 0"):
        parse_image_layout(10, [(-1, (1, 2, 2))])


def test_a_flat_vector_network_fed_an_image_group_is_one_line_naming_group_terms_and_classes():
    with pytest.raises(ValueError) as error:
        check_image_layout("student actor", MLPActor, "policy", ["depth_image"])
    assert str(error.value) == (
        "student actor: observation group 'policy' holds image term(s) ['depth_image'] but MLPActor reads flat "
        "vectors only; use ImageRecurrentActor (actor_cfg with rnn_type) or ImageMLPActor"
    )
    with pytest.raises(ValueError, match="but RecurrentActor reads flat vectors only"):
        check_image_layout("actor", RecurrentActor, "policy", ["depth_image"])
    for network in (ImageRecurrentActor, ImageMLPActor):
        check_image_layout("actor", network, "policy", ["depth_image"])
    check_image_layout("actor", MLPActor, "policy", [])  # no images: any network


def test_actor_cfg_options_of_the_image_actors_are_checked_like_the_others():
    options = {"rnn_type": "gru", "rnn_hidden_dim": 16, **SMALL_ENCODER}
    check_network_options("actor_cfg", ImageRecurrentActor, options, PPO_SETS_NETWORK_OPTIONS)
    with pytest.raises(ValueError, match=r"actor_cfg.image_layout: set by the algorithm"):  # from the env's groups
        check_network_options("actor_cfg", ImageRecurrentActor, {"image_layout": [(IMAGE_START, IMAGE)]}, PPO_SETS_NETWORK_OPTIONS)
    with pytest.raises(ValueError, match=r"actor_cfg.encoder_channel: not an option of ImageRecurrentActor"):
        check_network_options("actor_cfg", ImageRecurrentActor, {"encoder_channel": [8]}, PPO_SETS_NETWORK_OPTIONS)


# ------------------------------------------------------------------------------------ the actors
@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_image_recurrent_actor_shapes(rnn_type):
    torch.manual_seed(0)
    actor = small_actor(rnn_type, rnn_num_layers=2)
    assert actor.is_recurrent and len(actor.image_features.encoders) == 1
    assert actor.rnn.input_size == 5 + 8  # the vector columns and the latent
    actions = actor(observations(4))
    assert actions.shape == (4, 2)
    states = actor.get_hidden_states()
    assert len(states) == (1 if rnn_type == "gru" else 2) and states[0].shape == (2, 4, 16)
    assert actor.distribution(observations(4)).sample().shape == (4, 2)
    masks = torch.tensor([[True, True, True], [True, False, True]])
    sequences = actor(observations(2, 3), masks=masks, hidden_states=actor.initial_hidden_states(3))
    assert sequences.shape == (5, 2)
    assert actor.distribution(observations(2, 3), masks=masks, hidden_states=actor.initial_hidden_states(3)).mean.shape == (5, 2)


def test_image_mlp_actor_shapes():
    actor = small_actor(None)
    assert not actor.is_recurrent and actor.get_hidden_states() is None
    assert actor(observations(4)).shape == (4, 2) and actor.distribution(observations(4)).sample().shape == (4, 2)


@pytest.mark.parametrize("rnn_type", ["gru", None])
def test_the_action_follows_the_pixels_and_each_image_has_its_own_encoder(rnn_type):
    torch.manual_seed(1)
    second = IMAGE_START + 192  # a second image of 1 x 2 x 1 in the last two columns
    actor = small_actor(rnn_type, image_layout=[(IMAGE_START, IMAGE), (second, (1, 2, 1))],
                        encoder_kernel_sizes=[1, 1, 1], encoder_strides=[1, 1, 1])
    encoders = actor.image_features.encoders
    assert len(encoders) == 2 and encoders[0].convs[0].weight.data_ptr() != encoders[1].convs[0].weight.data_ptr()

    def act(obs):
        return actor.step(obs, None)[0] if rnn_type else actor(obs)

    obs = observations(3)
    with torch.no_grad():
        same = act(obs.clone())
        torch.testing.assert_close(act(obs), same, rtol=0, atol=0)  # nothing changed: the same action
        for column in (IMAGE_START + 100, second + 1):  # one pixel of each image, env 1 only
            changed = obs.clone()
            changed[1, column] += 0.5
            action = act(changed)
            assert not torch.allclose(action[1], same[1])
            torch.testing.assert_close(action[[0, 2]], same[[0, 2]], rtol=0, atol=0)


@pytest.mark.parametrize("rnn_type", ["gru", None])
def test_normalization_covers_the_vector_columns_and_leaves_the_pixels_as_they_are(rnn_type):
    torch.manual_seed(2)
    actor = small_actor(rnn_type, obs_normalization=True)
    normalizer = actor.image_features.obs_normalizer
    data = observations(500)
    data[:, :3] = 5.0 + 3.0 * data[:, :3]
    actor.update_normalization(data)
    vector = torch.cat([data[:, :3], data[:, -2:]], dim=1)
    assert normalizer.mean.shape == (5,)
    torch.testing.assert_close(normalizer.mean, vector.mean(0))
    seen = {}
    encoder = actor.image_features.encoders[0]
    encoder.register_forward_hook(lambda module, args, output: seen.update(pixels=args[0]))
    obs = observations(4, seed=3)
    with torch.no_grad():
        features = actor.image_features(obs)
    # The encoder reads the raw pixels; the RNN / MLP reads normalized vector columns, then the latent.
    torch.testing.assert_close(seen["pixels"], obs[:, IMAGE_START : IMAGE_START + 192].reshape(4, *IMAGE), rtol=0, atol=0)
    raw_vector = torch.cat([obs[:, :3], obs[:, -2:]], dim=1)
    torch.testing.assert_close(features[:, :5], (raw_vector - normalizer.mean) / (normalizer.std + normalizer.eps))
    torch.testing.assert_close(features[:, 5:], encoder(seen["pixels"]))


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_trajectories_with_masks_give_the_outputs_of_stepping_one_step_at_a_time_with_resets(rnn_type):
    # The rollout steps the running state (resetting done envs); PPO's minibatches replay the stored
    # trajectories, padded (time, batch) with masks, from their stored first states.
    torch.manual_seed(3)
    actor = small_actor(rnn_type, obs_normalization=True)
    actor.update_normalization(observations(100, seed=9))
    num_steps, num_envs = 6, 4
    hidden_shapes = [tuple(h.shape) for h in actor.initial_hidden_states(num_envs)]
    storage = RolloutStorage(num_envs, num_steps, NUM_OBS, 1, 2, actor_hidden_shapes=hidden_shapes)
    dones = torch.zeros(num_steps, num_envs)
    dones[1, 0] = dones[3, 0] = dones[2, 2] = dones[4, 3] = 1.0
    with torch.no_grad():
        for t in range(num_steps):
            obs = observations(num_envs, seed=t)
            hidden = actor.get_hidden_states() or actor.initial_hidden_states(num_envs)
            mean = actor(obs)
            storage.add(obs, obs[:, :1], mean, mean[:, 0], mean[:, 0], mean, mean, actor_hidden_states=hidden)
            storage.set_step_result(torch.zeros(num_envs), dones[t])
            actor.reset(dones[t])
        storage.returns.zero_()
        storage.advantages.zero_()
        seen = 0
        for batch in storage.recurrent_minibatches(num_mini_batches=2, num_epochs=1):
            replayed = actor(batch.obs, masks=batch.masks, hidden_states=batch.actor_hidden_states)
            torch.testing.assert_close(replayed, batch.old_mean, rtol=1e-5, atol=1e-6)
            seen += len(replayed)
    assert seen == num_steps * num_envs


# ------------------------------------------------------------------------------------------ export
@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_export_takes_the_flat_obs_with_the_image_and_matches_step_with_a_carried_state(rnn_type, tmp_path):
    import onnxruntime

    from legged_train.export import export_policy

    torch.manual_seed(4)
    actor = small_actor(rnn_type, obs_normalization=True)
    actor.update_normalization(observations(100, seed=9))
    info = {"observation_layout": [("base_ang_vel", 3), ("depth_image", 192), ("command", 2)]}
    paths = export_policy(actor, NUM_OBS, str(tmp_path), info)
    exported = json.loads(open(paths["info"]).read())
    names = ["h"] if rnn_type == "gru" else ["h", "c"]
    assert exported["inputs"] == {"obs": [None, NUM_OBS], **{f"{n}_in": [1, None, 16] for n in names}}
    assert exported["outputs"] == {"actions": [None, 2], **{f"{n}_out": [1, None, 16] for n in names}}
    assert exported["image_inputs"] == [{"term": "depth_image", "start": 3, "end": 195, "shape": [1, 12, 16]}]
    assert "row-major" in exported["image_format"] and "scaled depth" in exported["image_format"]

    session = onnxruntime.InferenceSession(paths["onnx"])
    scripted = torch.jit.load(paths["torchscript"])
    batch = 3
    state = None
    onnx_state = [np.zeros((1, batch, 16), np.float32) for _ in names]
    script_state = [torch.zeros(1, batch, 16) for _ in names]
    with torch.no_grad():
        for t in range(5):
            obs = observations(batch, seed=10 + t)
            expected, state = actor.step(obs, state)
            outputs = session.run(None, {"obs": obs.numpy(), **{f"{n}_in": s for n, s in zip(names, onnx_state)}})
            np.testing.assert_allclose(outputs[0], expected.numpy(), rtol=1e-5, atol=1e-5)
            scripted_outputs = scripted(obs, *script_state)
            torch.testing.assert_close(scripted_outputs[0], expected, rtol=1e-5, atol=1e-5)
            onnx_state, script_state = list(outputs[1:]), list(scripted_outputs[1:])
    assert np.abs(onnx_state[0]).sum() > 0  # the state was carried, not zeros


def test_export_of_the_feed_forward_image_actor_keeps_the_batch_free(tmp_path):
    import onnxruntime

    from legged_train.export import export_policy

    torch.manual_seed(5)
    actor = small_actor(None, obs_normalization=True)
    actor.update_normalization(observations(100, seed=9))
    paths = export_policy(actor, NUM_OBS, str(tmp_path), {})
    assert json.loads(open(paths["info"]).read())["image_inputs"][0]["term"] is None  # no layout given
    session = onnxruntime.InferenceSession(paths["onnx"])
    scripted = torch.jit.load(paths["torchscript"])
    for batch in (1, 5):
        obs = observations(batch, seed=batch)
        with torch.no_grad():
            expected = actor(obs)
        np.testing.assert_allclose(session.run(None, {"obs": obs.numpy()})[0], expected.numpy(), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(scripted(obs), expected, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------- learning
def test_gradient_steps_learn_to_output_the_mean_pixel():
    # PPO-style steps on padded trajectories (log-likelihood of target actions, gradient clipping, Adam):
    # the target is each step's mean pixel, which only the encoder can see.
    torch.manual_seed(6)
    actor = small_actor("gru", init_noise_std=0.5, obs_normalization=True)
    optimizer = torch.optim.Adam(actor.parameters(), lr=3e-3)
    obs = observations(8, 16, seed=11)  # (time, batch)
    obs[..., IMAGE_START : IMAGE_START + 192] *= torch.rand(8, 16, 1) * 2  # mean pixels spread over [0, 1]
    target = obs[..., IMAGE_START : IMAGE_START + 192].mean(-1, keepdim=True).expand(8, 16, 2)
    masks = torch.ones(8, 16, dtype=torch.bool)
    masks[5:, :4] = False
    actor.update_normalization(obs[masks])

    def error() -> float:
        with torch.no_grad():
            mean = actor(obs, masks=masks, hidden_states=actor.initial_hidden_states(16))
            return float((mean - target[masks]).square().mean())

    before = error()
    for _ in range(60):
        distribution = actor.distribution(obs, masks=masks, hidden_states=actor.initial_hidden_states(16))
        loss = -distribution.log_prob(target[masks]).sum(-1).mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(actor.parameters(), 1.0)
        optimizer.step()
    assert error() < 0.2 * before, (before, error())
    # Better than any constant (the target's variance): the action reads the pixels.
    assert error() < 0.25 * float(target[masks][:, 0].var()), (error(), float(target[masks][:, 0].var()))
    assert all(p.grad is not None for p in actor.image_features.encoders[0].parameters())


class ImagePointMassEnv(PointMassEnv):
    """The point mass whose policy observation also holds a 1 x 12 x 16 image of a blob at the target offset."""

    image_shape = (1, 12, 16)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.num_obs = 4 + 12 * 16

    def _policy_obs(self) -> torch.Tensor:
        offset = self.target - self.position  # about [-2.5, 2.5] per axis
        rows = torch.linspace(-2.5, 2.5, 12).view(1, 12, 1)
        columns = torch.linspace(-2.5, 2.5, 16).view(1, 1, 16)
        blob = torch.exp(-((rows - offset[:, 1, None, None]) ** 2 + (columns - offset[:, 0, None, None]) ** 2))
        return torch.cat([self.velocity, blob.flatten(1), self.velocity.square()], dim=1)

    def _critic_obs(self, policy_obs: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.target - self.position, self.velocity, self.target], dim=1)  # the point mass's


def test_ppo_collects_replays_and_updates_with_an_image_actor():
    torch.manual_seed(7)
    env = ImagePointMassEnv(num_envs=8)
    actor_cfg = {"image_layout": [(2, env.image_shape)], "rnn_type": "gru", "rnn_hidden_dim": 16, "hidden_dims": [16],
                 **SMALL_ENCODER}
    ppo = PPO(env, small_cfg(num_mini_batches=2, num_learning_epochs=1, actor_cfg=actor_cfg),
              actor_class=ImageRecurrentActor)
    obs, extras = env.get_observations()
    with torch.inference_mode():
        for _ in range(ppo.cfg.num_steps_per_env):
            actions = ppo.act(obs, extras["observations"]["critic"])
            obs, rewards, dones, extras = env.step(actions)
            ppo.process_env_step(rewards, dones, extras)
        ppo.compute_returns(extras["observations"]["critic"])
    with torch.no_grad():
        for batch in ppo.storage.recurrent_minibatches(2, num_epochs=1):
            distribution, _ = ppo._evaluate_trajectories(batch)
            torch.testing.assert_close(distribution.log_prob(batch.actions).sum(-1), batch.old_log_probs, rtol=1e-5, atol=1e-5)
    stats = ppo.update()
    assert np.isfinite(stats["train/policy_loss"]) and np.isfinite(stats["train/value_loss"])


def test_distillation_trains_an_image_student():
    from legged_train.algorithms.distillation import DistillationConfig
    from legged_train.runners.distillation_runner import DistillationRunner

    class Teacher(torch.nn.Module):  # a PD law on the privileged (target - position, velocity, target)
        def forward(self, obs):
            return (2.0 * obs[:, :2] - 1.5 * obs[:, 2:4]).clamp(-1.0, 1.0)

    torch.manual_seed(8)
    env = ImagePointMassEnv(num_envs=8)
    actor_cfg = {"image_layout": [(2, env.image_shape)], "rnn_type": "gru", "rnn_hidden_dim": 16, "hidden_dims": [16],
                 **SMALL_ENCODER}
    cfg = DistillationConfig(num_steps_per_env=8, num_mini_batches=2, teacher_obs_group="critic", actor_cfg=actor_cfg,
                             log_interval=1000, torch_threads=1)
    runner = DistillationRunner(env, cfg, teacher=Teacher(), student_class=ImageRecurrentActor)
    stats = runner.learn(num_learning_iterations=2)
    assert isinstance(runner.alg.student, ImageRecurrentActor) and np.isfinite(stats["distill/action_loss"])
