"""Left-right symmetry (issue 23 pt 2): the mirror of observation groups and actions, from each
robot's layout; mirroring twice is the identity; the mirrored observation of a state is the
observation of the mirrored state in the simulator."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from legged_train.envs.legged.observations import compute_groups
from legged_train.envs.legged.symmetry import Symmetry, joint_mirror
from legged_train.tasks import get_task


def small_env(name: str, num_envs: int = 2, **changes):
    task = get_task(name)
    cfg = task.env_cfg
    cfg.num_envs, cfg.sim.num_threads = num_envs, 1
    cfg.noise.enabled = False
    cfg.domain_rand.enabled = False
    for key, value in changes.items():
        setattr(cfg, key, value)
    return task.make_env(cfg, "cpu")


@pytest.mark.parametrize("name", ["go1_flat", "go2_flat", "spot_flat", "g1_flat", "g1_full_flat", "berkeley_humanoid_flat"])
def test_every_robot_mirrors_from_its_layout_and_twice_is_the_identity(name):
    env = small_env(name)
    symmetry = Symmetry(env)
    partner, sign = joint_mirror(env.mj_model, env.cfg.robot)
    names = env.cfg.robot.joint_names
    for j, p in enumerate(partner):
        assert p != j or not any(side in names[j].lower() for side in ("left", "right"))  # only centre joints pair themselves
    for group in env.obs_groups:
        mirror = symmetry.observation(group)
        x = torch.randn(5, env.obs_groups[group].stacked_width)
        assert torch.equal(mirror(mirror(x)), x)
        assert not torch.equal(mirror(x), x)
    a = torch.randn(5, env.num_actions)
    assert torch.equal(symmetry.actions(symmetry.actions(a)), a)
    if name == "go1_flat":  # FR <-> FL: hip (abduction) flips, thigh and calf keep their sign
        fr, fl = names.index("FR_hip_joint"), names.index("FL_hip_joint")
        assert partner[fr] == fl and sign[fr] == -1 and sign[names.index("FR_thigh_joint")] == 1


@pytest.mark.parametrize("name", ["go1_flat", "g1_full_flat"])
def test_the_mirrored_observation_of_a_state_is_the_observation_of_the_mirrored_state(name):
    env = small_env(name)
    symmetry = Symmetry(env)
    generator = torch.Generator().manual_seed(0)
    qpos, qvel = env.sim.qpos.clone(), env.sim.qvel.clone()
    # Env 0: a robot off the origin, tilted and turned, legs away from the default pose, moving.
    half = torch.tensor([0.3, 0.1, -0.2, 0.6]) / 2  # roll, pitch, yaw angles -> a quaternion, roughly
    quat = torch.tensor([1.0, half[0], half[1], half[2]], dtype=qpos.dtype)
    qpos[0, :3] = torch.tensor([0.4, 0.3, env.cfg.robot.base_init_height + 0.02])
    qpos[0, 3:7] = quat / quat.norm()
    qpos[0, env.joint_qpos_ids] = env.default_joint_pos.double() + 0.2 * torch.randn(env.num_actions, generator=generator).double()
    qvel[0] = 0.5 * torch.randn(qvel.shape[1], generator=generator).double()
    # Env 1: its mirror image in the world's x-z plane.
    reflect = torch.tensor([1.0, -1.0, 1.0], dtype=qpos.dtype)
    qpos[1, :3] = qpos[0, :3] * reflect
    qpos[1, 3:7] = qpos[0, 3:7] * torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=qpos.dtype)
    qvel[1, :3] = qvel[0, :3] * reflect  # linear velocity: a vector
    qvel[1, 3:6] = qvel[0, 3:6] * -reflect  # angular velocity: a pseudovector
    joints_0, joints_1 = qpos[0, env.joint_qpos_ids], symmetry.actions(qpos[0:1, env.joint_qpos_ids].float()).double()[0]
    qpos[1, env.joint_qpos_ids] = joints_1
    qvel[1, env.joint_qvel_ids] = symmetry.actions(qvel[0:1, env.joint_qvel_ids].float()).double()[0]
    assert not torch.equal(joints_0, joints_1)
    env.sim.set_state(torch.arange(2), qpos, qvel)
    # The controller's state: commands, the last action, the gait clock, swing timers.
    env.commands[0] = torch.tensor([0.6, 0.3, -0.4])
    env.commands[1] = env.commands[0] * torch.tensor([1.0, -1.0, -1.0])
    env.actions[0] = torch.randn(env.num_actions, generator=generator)
    env.actions[1] = symmetry.actions(env.actions[0:1])[0]
    env.gait_phase[0] = 0.1
    offsets = env.foot_phase_offsets
    feet = symmetry.rules["foot_contact"][0]
    shift = float((offsets[feet] - offsets)[0] % 1.0)
    env.gait_phase[1] = (0.1 - shift) % 1.0
    env.feet_air_time[0] = torch.rand(env.num_feet, generator=generator)
    env.feet_air_time[1] = env.feet_air_time[0][feet]
    env._update_state()
    obs = compute_groups(env.obs_groups, env, env.obs_bufs, None)
    for group, value in obs.items():
        mirror = symmetry.observation(group)
        # rtol: the contact solver's forces on a sole of four spheres agree to 0.02% between the two
        # (the mirrored contacts are solved in another order); everything else to float precision.
        assert torch.allclose(mirror(value[0:1])[0], value[1], atol=2e-4, rtol=1e-3), (group, (mirror(value[0:1])[0] - value[1]).abs().max())


def test_the_height_scan_mirrors_its_grid():
    env = small_env("go1_flat")
    symmetry = Symmetry(env)
    points = torch.tensor(env.height_scan_cfg.points())
    partner = torch.as_tensor(symmetry.rules["height_scan"][0])
    assert torch.allclose(points[partner], points * torch.tensor([1.0, -1.0]))


def test_an_asymmetric_gait_table_cannot_be_mirrored():
    env = small_env("go1_flat", gait=[0.0, 0.1, 0.5, 0.6])
    with pytest.raises(ValueError, match=r"^symmetry: gait \[0\.0, 0\.1, 0\.5, 0\.6\] is not left-right symmetric"):
        Symmetry(env)


@pytest.mark.parametrize("changes", [{"symmetry_augmentation": True}, {"symmetry_augmentation": False, "mirror_loss_coef": 1.0},
                                     {"symmetry_augmentation": True, "mirror_loss_coef": 1.0}])
def test_ppo_learns_with_the_mirror_images(changes, tmp_path):
    from legged_train.runners.on_policy_runner import OnPolicyRunner

    task = get_task("go1_flat")
    env = small_env("go1_flat", num_envs=8)
    cfg = dataclasses.replace(task.train_cfg, num_steps_per_env=8, num_mini_batches=2, eval_interval=0, save_interval=1000,
                              actor_cfg={"hidden_dims": [32]}, critic_cfg={"hidden_dims": [32]}, **changes)
    runner = OnPolicyRunner(env, cfg, log_dir=str(tmp_path), device="cpu")
    stats = runner.learn(num_learning_iterations=2)
    assert all(torch.isfinite(torch.tensor(v)) for v in stats.values() if isinstance(v, float))
    if cfg.mirror_loss_coef > 0:
        assert stats["train/mirror_loss"] > 0


def test_go1_flat_learns_mirrored_and_a_recurrent_actor_is_told_to_turn_it_off():
    from legged_train.algorithms.ppo import PPO

    task = get_task("go1_flat")
    assert task.train_cfg.symmetry_augmentation  # the flat quadruped's default (measured faster to a walk)
    env = small_env("go1_flat", num_envs=4)
    recurrent = {"rnn_type": "gru", "rnn_hidden_dim": 8, "hidden_dims": [16]}
    with pytest.raises(ValueError, match=r"needs feed-forward networks .*set symmetry_augmentation=False and mirror_loss_coef=0"):
        PPO(env, dataclasses.replace(task.train_cfg, actor_cfg=recurrent), device="cpu")
    ppo = PPO(env, dataclasses.replace(task.train_cfg, actor_cfg=recurrent, symmetry_augmentation=False), device="cpu")
    assert ppo.is_recurrent and ppo.mirror is None


def test_the_mirror_loss_makes_the_actor_symmetric():
    """Gradient steps on the mirror loss alone bring the actor's mean action for a mirrored
    observation to the mirror of its mean action."""
    from types import SimpleNamespace

    from legged_train.algorithms.ppo import PPO

    env = small_env("go1_flat", num_envs=4)
    task = get_task("go1_flat")
    ppo = PPO(env, dataclasses.replace(task.train_cfg, mirror_loss_coef=1.0, actor_cfg={"hidden_dims": [32]},
                                       critic_cfg={"hidden_dims": [32]}), device="cpu")
    obs = torch.randn(256, env.obs_groups["policy"].stacked_width, generator=torch.Generator().manual_seed(0))
    losses = []
    for _ in range(60):
        loss = ppo._mirror_loss(SimpleNamespace(obs=obs), ppo.actor.distribution(obs), len(obs))
        ppo.optimizer.zero_grad()
        loss.backward()
        ppo.optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0], losses[::10]



def distill(augment: bool, actor_cfg: dict, epochs: int = 1):
    """A student distilled for one rollout from a mirror-symmetric linear teacher; (student, its
    observations, the student group's mirror, the action mirror)."""
    from legged_train.algorithms.distillation import Distillation

    task = get_task("go1_student")
    env = small_env("go1_student", num_envs=8)
    cfg = dataclasses.replace(task.train_cfg, symmetry_augmentation=augment, num_steps_per_env=8, num_mini_batches=2,
                              num_learning_epochs=epochs, actor_cfg=actor_cfg)
    symmetry = Symmetry(env)
    teacher_mirror, action_mirror = symmetry.observation(cfg.teacher_obs_group), symmetry.actions
    weight = torch.randn(env.obs_groups[cfg.teacher_obs_group].stacked_width, env.num_actions,
                         generator=torch.Generator().manual_seed(1))

    class SymmetricTeacher(torch.nn.Module):  # a linear teacher made mirror-symmetric
        def forward(self, obs):
            return 0.5 * (obs @ weight + action_mirror(teacher_mirror(obs) @ weight))

    torch.manual_seed(0)
    distillation = Distillation(env, cfg, teacher=SymmetricTeacher(), device="cpu")
    obs, extras = env.reset()
    with torch.no_grad():  # as the runner collects
        for _ in range(cfg.num_steps_per_env):
            actions = distillation.act(extras["observations"][cfg.student_obs_group], extras["observations"][cfg.teacher_obs_group])
            obs, rewards, dones, extras = env.step(actions)
            distillation.process_env_step(rewards, dones, extras)
    student_obs = distillation.storage.obs.flatten(0, 1).clone()
    stats = distillation.update()
    assert torch.isfinite(torch.tensor(stats["distill/action_loss"]))
    return distillation.student, student_obs, symmetry.observation(cfg.student_obs_group), action_mirror


def test_distillation_with_the_mirror_images_gives_a_symmetric_student():
    errors = {}
    for augment in (False, True):
        student, obs, obs_mirror, action_mirror = distill(augment, {"hidden_dims": [32]}, epochs=40)
        with torch.no_grad():
            errors[augment] = (student(obs_mirror(obs)) - action_mirror(student(obs))).square().mean().item()
    assert errors[True] < 0.5 * errors[False], errors


def test_a_recurrent_student_learns_the_mirror_images_too():
    distill(True, {"rnn_type": "gru", "rnn_hidden_dim": 8, "hidden_dims": [16]})
