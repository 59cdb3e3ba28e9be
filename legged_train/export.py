"""Policy export for deployment: TorchScript and ONNX of the deterministic policy, with a JSON that
says what to feed it (observation group, layout, scales, history), what it returns, and on legged
envs the joint order, default pose, action scale and PD gains (``env.deployment_info()``).

A recurrent policy is exported with its hidden state as explicit input and output:
``obs, h_in -> actions, h_out`` (GRU) or ``obs, h_in, c_in -> actions, h_out, c_out`` (LSTM).
A policy that reads images (``image_layout``, e.g. ``ImageRecurrentActor``) still takes the flat
``obs`` the env gives; the JSON's ``image_inputs`` says which columns hold which image.
"""

from __future__ import annotations

import json
import os


def policy_input(env, obs_group: str) -> tuple[int, dict]:
    """(width, deployment fields) of the observation group a policy reads: what a robot must feed it.

    On legged envs the fields replace ``deployment_info()``'s, which describe the ``policy`` group."""
    from legged_train.observation_groups import observation_group

    obs, extras = env.get_observations()
    width = int(observation_group(obs, extras, obs_group).shape[-1])
    fields: dict = {"observation_group": obs_group, "num_obs": width}
    if hasattr(env, "observation_layout"):
        fields["observation_layout"] = env.observation_layout()[obs_group]
        fields["observation_history_length"] = env.observation_history()[obs_group]
        if hasattr(env, "obs_groups"):
            fields["observation_scales"] = env.obs_groups[obs_group].scales
    return width, fields


def export_policy(policy_module, num_obs: int, export_dir: str, info: dict) -> dict[str, str]:
    """TorchScript + ONNX of a CPU copy of the deterministic policy (obs -> actions) and a JSON of ``info``.

    A recurrent policy (``is_recurrent``) is exported with its hidden state as explicit input and
    output: ``obs, h_in -> actions, h_out`` (GRU) or ``obs, h_in, c_in -> actions, h_out, c_out``
    (LSTM), states of shape (num_layers, batch, hidden_dim).
    """
    import copy

    import torch

    os.makedirs(export_dir, exist_ok=True)
    module = copy.deepcopy(policy_module).cpu().eval()
    paths = {
        "torchscript": os.path.join(export_dir, "policy.pt"),
        "onnx": os.path.join(export_dir, "policy.onnx"),
        "info": os.path.join(export_dir, "policy.json"),
    }
    if getattr(module, "is_recurrent", False):
        return _export_recurrent_policy(module, num_obs, paths, info)
    # A batch of 2, not 1: torch.export would fix a dimension of size 1 to a constant (an image
    # network's reshapes of obs into images do).
    example = torch.zeros(2, num_obs)
    with torch.no_grad():
        example_actions = module(example)
        torch.jit.trace(module, example).save(paths["torchscript"])
        torch.onnx.export(
            module,
            (example,),
            paths["onnx"],
            input_names=["obs"],
            output_names=["actions"],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            dynamo=True,
            external_data=False,  # one self-contained .onnx file
            verbose=False,
        )
    info = {
        **info,
        "inputs": {"obs": [None, num_obs]},
        # (batch, action dims) of floats; DQN: (batch,) int64 action indices.
        "outputs": {"actions": [None, *example_actions.shape[1:]]},
        "output_dtype": str(example_actions.dtype).removeprefix("torch."),
        "normalization": "feed raw observations: any observation normalization is inside the exported graph",
        **image_fields(module, info),
        "files": {name: os.path.basename(path) for name, path in paths.items() if name != "info"},
    }
    with open(paths["info"], "w", encoding="utf-8") as file:
        json.dump(info, file, indent=2)
    return paths


def image_fields(module, info: dict) -> dict:
    """Deployment fields of a policy that reads images (``module.image_layout``): where each image
    lies in ``obs`` and what its pixels are; {} for a policy of flat vectors.

    Term names come from ``info["observation_layout"]`` (the group's one-step ``[(term, width), ...]``)
    when it is there."""
    layout = getattr(module, "image_layout", None)
    if not layout:
        return {}
    term_at, column = {}, 0
    for term, width in info.get("observation_layout", []):
        term_at[column] = term
        column += int(width)
    images = [
        {"term": term_at.get(start), "start": start, "end": start + c * h * w, "shape": [c, h, w]}
        for start, (c, h, w) in layout
    ]
    return {
        "image_inputs": images,
        "image_format": (
            "each image is obs[:, start:end], float32, flattened row-major from shape (C, H, W) (channel, then row, "
            "then column); its pixels are the env's observation term with its scale applied (observation_scales): "
            "for a depth camera the env's scaled depth, about 0 to 1; feed them as they are (the graph does not "
            "normalize images)"
        ),
    }


def _export_recurrent_policy(module, num_obs: int, paths: dict[str, str], info: dict) -> dict[str, str]:
    import torch

    exported = module.export_module().eval()  # obs, h_in[, c_in] -> actions, h_out[, c_out]
    # A batch of 2, not 1: torch.export would fix a dimension of size 1 to a constant.
    states = module.initial_hidden_states(2)
    names = ["h", "c"][: len(states)]
    example = (torch.zeros(2, num_obs), *states)
    batch = torch.export.Dim("batch")
    num_layers, _, hidden_dim = states[0].shape
    with torch.no_grad():
        example_actions = exported(*example)[0]
        torch.jit.trace(exported, example).save(paths["torchscript"])
        torch.onnx.export(
            exported,
            example,
            paths["onnx"],
            input_names=["obs", *(f"{name}_in" for name in names)],
            output_names=["actions", *(f"{name}_out" for name in names)],
            # The states' batch is their dimension 1, and the same as the observations'.
            dynamic_shapes=({0: batch}, *({1: batch} for _ in states)),
            dynamo=True,
            external_data=False,  # one self-contained .onnx file
            verbose=False,
        )
    state_shape = [num_layers, None, hidden_dim]
    info = {
        **info,
        "inputs": {"obs": [None, num_obs], **{f"{name}_in": state_shape for name in names}},
        "outputs": {"actions": [None, *example_actions.shape[1:]], **{f"{name}_out": state_shape for name in names}},
        "output_dtype": str(example_actions.dtype).removeprefix("torch."),
        "normalization": "feed raw observations: any observation normalization is inside the exported graph",
        **image_fields(module, info),
        "recurrent": {
            "rnn_type": module.rnn_type,
            "num_layers": num_layers,
            "hidden_dim": hidden_dim,
            "reset": (
                f"feed {' and '.join(f'{name}_in' for name in names)} as float32 zeros of shape (num_layers, batch, hidden_dim) "
                f"at the start of every episode (zero an env's column, index 1, when its episode ends); at every other "
                f"step feed back {' and '.join(f'{name}_out' for name in names)} of the previous step"
            ),
        },
        "files": {name: os.path.basename(path) for name, path in paths.items() if name != "info"},
    }
    with open(paths["info"], "w", encoding="utf-8") as file:
        json.dump(info, file, indent=2)
    return paths
