"""Short MP4 clips of a policy while it trains (``train.py --video``)."""

from __future__ import annotations

import os

import torch

# A command that shows a gait: forward at a walking pace.
CLIP_COMMAND = (0.5, 0.0, 0.0)
# MUJOCO_GL values that render without a display.
OFFSCREEN_GL = ("egl", "osmesa")


def check_offscreen_rendering() -> None:
    """Render one tiny frame; a RuntimeError that says which MUJOCO_GL works if it cannot.

    mujoco reports a missing GL platform (MUJOCO_GL=glx with no display, EGL drivers absent) as a
    FatalError only when the first renderer is made: deep inside a run or a replay."""
    import warnings

    import mujoco

    model = mujoco.MjModel.from_xml_string("<mujoco><worldbody><geom size='1'/></worldbody></mujoco>")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # glfw's own warnings repeat what the message below says
            mujoco.Renderer(model, height=8, width=8).close()
    except Exception as err:  # noqa: BLE001 (mujoco.FatalError, or the GL binding's own errors)
        gl = os.environ.get("MUJOCO_GL")
        display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        raise RuntimeError(
            f"offscreen rendering failed with MUJOCO_GL={gl if gl is not None else '(unset)'} and "
            f"{'DISPLAY=' + display if display else 'no display (DISPLAY unset)'} "
            f"({' '.join(str(err).split()).split(',')[0]}): set MUJOCO_GL=egl (GPU drivers) or MUJOCO_GL=osmesa (software) "
            "before the command"
        ) from None


def record_clip(
    env, policy, path: str, seconds: float = 4.0, width: int = 480, height: int = 360, fps: float = 25.0,
    obs_group: str | None = None,
) -> str:
    """Film ``policy`` walking on a one-env copy of ``env`` (nominal physics, seed 0) to ``path``.

    The copy is separate from the training env, so recording never changes what training sees.
    ``obs_group``: the observation group fed to ``policy`` (default: its own ``obs_group``, else "policy")."""
    from legged_train.envs.render import OffscreenRenderer, env_frame, write_mp4
    from legged_train.evaluation import policy_obs_group
    from legged_train.observation_groups import observation_group

    obs_group = policy_obs_group(policy, obs_group)

    clip_env = env.make_eval_env(num_envs=1, seed=0)
    renderer = OffscreenRenderer(clip_env.mj_model, width=width, height=height, track_body=clip_env.cfg.robot.base_body)
    # Software GL takes a good part of a second per frame: render every k-th policy step only.
    frame_every = max(1, round(1.0 / (clip_env.step_dt * fps)))
    frames = []
    try:
        with torch.inference_mode():
            obs, extras = clip_env.reset()
            clip_env.set_commands(torch.tensor([CLIP_COMMAND], device=clip_env.device), hold=True)
            for step in range(max(1, round(seconds / clip_env.step_dt))):
                obs, _, dones, extras = clip_env.step(policy(observation_group(obs, extras, obs_group)))
                if hasattr(policy, "reset"):  # a recurrent policy forgets an episode that ended
                    policy.reset(dones)
                if step % frame_every == 0:
                    frames.append(env_frame(renderer, clip_env))
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        write_mp4(frames, path, fps=1.0 / (clip_env.step_dt * frame_every))
    finally:
        renderer.close()
        clip_env.close()
    return path
