"""Actor and critic networks for PPO, with observation normalization stored inside the model.

Keeping the normalizer in the model means a checkpoint, a TorchScript file or an ONNX export
carries it: deployment feeds raw observations, exactly as the env produces them.

Constructor protocol a custom ``actor_class`` / ``critic_class`` must follow (PPO builds them):
``actor_class(num_obs, num_actions, *, obs_normalization, init_noise_std, **actor_cfg)`` with
``forward(obs) -> mean action``, ``distribution(obs) -> torch.distributions.Normal`` and
``update_normalization(obs)``; ``critic_class(num_obs, *, obs_normalization, **critic_cfg)`` with
``forward(obs) -> value (N,)`` and ``update_normalization(obs)``.

Recurrent networks (``RecurrentActor``, ``RecurrentCritic``: observation normalization, a GRU or an
LSTM, then an MLP head) set ``is_recurrent = True`` and add to that protocol:

- a running hidden state for step-by-step use: ``forward(obs)`` / ``distribution(obs)`` on a batch
  (batch, num_obs) read it and advance it; ``reset(dones=None)`` zeros it for the envs whose episode
  ended (all of them without ``dones``); ``get_hidden_states()`` / ``set_hidden_states(states)``;
- ``step(obs, hidden_states) -> (output, next hidden_states)``: one step from a given state, the
  running one untouched (evaluation, export, values of final observations);
- ``forward(obs, masks=, hidden_states=)`` / ``distribution(obs, masks=, hidden_states=)``: padded
  trajectories (time, batch, num_obs) run from their first step's states; the outputs of the steps
  where ``masks`` (time, batch) is True, flattened in ``tensor[masks]`` order (PPO's update);
- ``initial_hidden_states(batch_size)``: the zeros an episode starts from.

A hidden state is a tuple of tensors of shape (num_layers, batch, rnn_hidden_dim): ``(h,)`` for a
GRU, ``(h, c)`` for an LSTM; ``None`` stands for zeros (no step since the last full reset). The
feed-forward networks have ``is_recurrent = False`` and no-op ``reset`` / ``get_hidden_states``.
"""

from __future__ import annotations

import inspect
import math

import torch
from torch import nn
from torch.distributions import Normal

from legged_train.distributed import batch_moments

ACTIVATIONS = {
    "elu": nn.ELU,
    "relu": nn.ReLU,
    "selu": nn.SELU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
}


def make_activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation={name!r} is not supported; allowed: {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def make_hidden_layers(input_dim: int, hidden_dims: list[int] | tuple[int, ...], activation: str) -> nn.Sequential:
    """[Linear, activation] per hidden width: an MLP without its output layer (a torso for several heads)."""
    if not hidden_dims or any(int(h) < 1 for h in hidden_dims):
        raise ValueError(f"hidden_dims={list(hidden_dims)!r} must be a non-empty list of positive ints")
    layers: list[nn.Module] = []
    in_dim = input_dim
    for hidden_dim in hidden_dims:
        layers += [nn.Linear(in_dim, int(hidden_dim)), make_activation(activation)]
        in_dim = int(hidden_dim)
    return nn.Sequential(*layers)


def make_mlp(input_dim: int, hidden_dims: list[int] | tuple[int, ...], output_dim: int, activation: str) -> nn.Sequential:
    hidden = make_hidden_layers(input_dim, hidden_dims, activation)
    return nn.Sequential(*hidden, nn.Linear(int(hidden_dims[-1]), output_dim))


def check_network_options(field: str, network_class: type, options: dict, set_by_algorithm: tuple[str, ...] = ()) -> None:
    """``options`` (e.g. ``actor_cfg``) must be keyword arguments ``network_class`` takes: a ValueError
    names the first other key as ``{field}.{key}`` with the allowed keys, rather than a TypeError from
    deep inside the algorithm. Keys the algorithm passes itself (``set_by_algorithm``) are not allowed;
    a class taking ``**kwargs`` takes anything."""
    parameters = inspect.signature(network_class.__init__).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    allowed = sorted(p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in set_by_algorithm)
    unknown = [key for key in options if key not in allowed]
    if unknown:
        why = "set by the algorithm from its own config fields" if unknown[0] in set_by_algorithm else "not an option"
        raise ValueError(f"{field}.{unknown[0]}: {why} of {network_class.__name__}; allowed keys: {', '.join(allowed)}")


class EmpiricalNormalization(nn.Module):
    """Running mean / std of observations (Chan's parallel update), applied as (x - mean) / std.

    Statistics change only when ``update`` is called (PPO does, once per iteration, with the
    rollout it just learned from) and stop after ``until`` samples if set. Columns switched off by
    ``keep_columns`` pass through as they are (terms read at a fixed scale, such as legged_gym's height
    scan); the switch is a buffer, so a loaded checkpoint brings its own.
    """

    def __init__(self, shape: int, eps: float = 1e-2, until: int | None = None):
        super().__init__()
        self.eps = eps
        self.until = until
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("var", torch.ones(shape))
        self.register_buffer("std", torch.ones(shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))
        self.register_buffer("normalized", torch.ones(shape, dtype=torch.bool))
        # Derived from ``normalized``: the select costs ~50 us a call at 1024 envs, so it runs only
        # where some column is kept.
        self.keeps_columns = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normalized = (x - self.mean) / (self.std + self.eps)
        return torch.where(self.normalized, normalized, x) if self.keeps_columns else normalized

    def keep_columns(self, columns: torch.Tensor) -> None:
        """Pass the columns where the boolean mask ``columns`` is True through unnormalized."""
        self.normalized.copy_(~columns.to(self.normalized.device))
        self.keeps_columns = not bool(self.normalized.all())

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints from before the switch normalized every column.
        state_dict.setdefault(prefix + "normalized", torch.ones_like(self.normalized))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self.keeps_columns = not bool(self.normalized.all())

    @torch.jit.unused
    def update(self, x: torch.Tensor) -> None:
        if self.until is not None and int(self.count) >= self.until:
            return
        # With several ranks: the moments of every rank's batch, so all ranks keep equal statistics.
        batch_count, batch_mean, batch_var = batch_moments(x)
        total = self.count + batch_count
        delta = batch_mean - self.mean
        new_mean = self.mean + delta * (batch_count / total)
        # Combine the two sums of squared deviations, then divide by the new count.
        m2 = self.var * self.count + batch_var * batch_count + delta.square() * (self.count * batch_count / total)
        self.mean.copy_(new_mean)
        self.var.copy_(m2 / total)
        self.std.copy_(self.var.sqrt())
        self.count.copy_(total)


class ObservationNormalizing(nn.Module):
    """Base of every actor and critic here: ``obs_normalizer`` in front of the network, either the
    running ``EmpiricalNormalization`` (``obs_normalization=True``) or the identity."""

    def __init__(self, num_obs: int, obs_normalization: bool):
        super().__init__()
        self.num_obs = num_obs
        self.obs_normalizer = EmpiricalNormalization(num_obs) if obs_normalization else nn.Identity()

    def update_normalization(self, obs: torch.Tensor) -> None:
        if isinstance(self.obs_normalizer, EmpiricalNormalization):
            self.obs_normalizer.update(obs)


class GaussianPolicy:
    """Mixin of the actors: a Gaussian around ``forward``'s mean with a state-independent learnable log-std."""

    def _init_action_std(self, num_actions: int, init_noise_std: float, min_std: float) -> None:
        if init_noise_std <= 0:
            raise ValueError(f"init_noise_std={init_noise_std!r} must be > 0")
        self.num_actions = num_actions
        self.min_std = min_std
        # log-std keeps std positive without clamping gradients away.
        self.log_std = nn.Parameter(torch.full((num_actions,), math.log(init_noise_std)))

    @property
    def std(self) -> torch.Tensor:
        return self.log_std.exp().clamp_min(self.min_std)

    def distribution(self, obs: torch.Tensor, *args, **kwargs) -> Normal:
        """The action distribution; extra arguments go to ``forward`` (a recurrent actor's ``masks``, ``hidden_states``)."""
        mean = self.forward(obs, *args, **kwargs)
        # No argument validation: a NaN mean then reaches the runner's check, which names the parameter.
        return Normal(mean, self.std.expand_as(mean), validate_args=False)


class FeedForward:
    """Mixin of the networks without memory: the recurrent protocol's state methods, as no-ops."""

    is_recurrent = False

    def reset(self, dones: torch.Tensor | None = None) -> None:
        """Nothing to reset: a feed-forward network has no memory."""

    def get_hidden_states(self) -> None:
        return None


class MLPActor(GaussianPolicy, FeedForward, ObservationNormalizing):
    """Gaussian policy: MLP mean, state-independent learnable log-std."""

    def __init__(
        self,
        num_obs: int,
        num_actions: int,
        *,
        hidden_dims: list[int] = (128, 128, 128),
        activation: str = "elu",
        init_noise_std: float = 1.0,
        obs_normalization: bool = False,
        min_std: float = 1e-3,
    ):
        super().__init__(num_obs, obs_normalization)
        self.mlp = make_mlp(num_obs, list(hidden_dims), num_actions, activation)
        self._init_action_std(num_actions, init_noise_std, min_std)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic action (the Gaussian's mean) for raw observations."""
        return self.mlp(self.obs_normalizer(obs))


class MLPCritic(FeedForward, ObservationNormalizing):
    """State-value MLP; reads the critic (privileged) observation group."""

    def __init__(
        self,
        num_obs: int,
        *,
        hidden_dims: list[int] = (128, 128, 128),
        activation: str = "elu",
        obs_normalization: bool = False,
    ):
        super().__init__(num_obs, obs_normalization)
        self.mlp = make_mlp(num_obs, list(hidden_dims), 1, activation)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.obs_normalizer(obs)).squeeze(-1)


# ------------------------------------------------------------------------------------ recurrent
RNN_TYPES = ("gru", "lstm")

# (h,) for a GRU, (h, c) for an LSTM; each (num_layers, batch, rnn_hidden_dim).
HiddenStates = tuple[torch.Tensor, ...]


def reset_hidden_states(hidden_states: HiddenStates, dones: torch.Tensor) -> HiddenStates:
    """Zeros for the envs whose episode ended (``dones`` (batch,)): their next step starts a fresh memory.

    Out of place, so it works on states made under ``torch.inference_mode`` from outside it too.
    """
    ended = dones.to(device=hidden_states[0].device, dtype=torch.bool).view(1, -1, 1)
    return tuple(state.masked_fill(ended, 0.0) for state in hidden_states)


class _RecurrentNetwork(ObservationNormalizing):
    """Observation normalizer -> GRU / LSTM -> MLP head, plus the running hidden state of a batch of envs.

    The running state is plain Python state, not a buffer: it belongs to the episodes being played,
    not to the weights (PPO keeps it in its own checkpoint entry).
    """

    is_recurrent = True

    def __init__(
        self,
        num_obs: int,
        output_dim: int,
        *,
        rnn_type: str,
        rnn_hidden_dim: int,
        rnn_num_layers: int,
        hidden_dims: list[int] | tuple[int, ...],
        activation: str,
        obs_normalization: bool,
        rnn_input_dim: int | None = None,
    ):
        if rnn_type not in RNN_TYPES:
            raise ValueError(f"rnn_type={rnn_type!r} is not supported; allowed: {', '.join(map(repr, RNN_TYPES))}")
        for name, value in (("rnn_hidden_dim", rnn_hidden_dim), ("rnn_num_layers", rnn_num_layers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive int")
        super().__init__(num_obs, obs_normalization)
        self.rnn_type = rnn_type
        # Sequence-first layout (time, batch, features): one rollout step is a sequence of length 1.
        # rnn_input_dim: the width of _features' output when a subclass reads more than normalized
        # observations (image networks: the vector columns and the images' latents).
        input_dim = num_obs if rnn_input_dim is None else rnn_input_dim
        self.rnn = (nn.GRU if rnn_type == "gru" else nn.LSTM)(input_dim, rnn_hidden_dim, rnn_num_layers)
        self.mlp = make_mlp(rnn_hidden_dim, list(hidden_dims), output_dim, activation)
        self.hidden_states: HiddenStates | None = None

    # ------------------------------------------------------------------------------- state
    def initial_hidden_states(self, batch_size: int) -> HiddenStates:
        """The zeros every episode starts from."""
        weight = self.rnn.weight_ih_l0
        shape = (self.rnn.num_layers, batch_size, self.rnn.hidden_size)
        count = 1 if self.rnn_type == "gru" else 2
        return tuple(torch.zeros(shape, device=weight.device, dtype=weight.dtype) for _ in range(count))

    def reset(self, dones: torch.Tensor | None = None) -> None:
        """Zero the running state of the envs that are done (``dones`` (batch,)); of all envs without it."""
        if dones is None or self.hidden_states is None:
            self.hidden_states = None  # zeros, sized by the next batch
        else:
            self.hidden_states = reset_hidden_states(self.hidden_states, dones)

    def get_hidden_states(self) -> HiddenStates | None:
        """The running state (what the next step starts from); None means zeros."""
        return self.hidden_states

    def set_hidden_states(self, hidden_states: HiddenStates | None) -> None:
        self.hidden_states = None if hidden_states is None else tuple(hidden_states)

    # ------------------------------------------------------------------------------- passes
    def _features(self, obs: torch.Tensor) -> torch.Tensor:
        """What the RNN reads at each step, from raw observations (..., num_obs): here the normalized observations."""
        return self.obs_normalizer(obs)

    def _rnn(self, x: torch.Tensor, hidden_states: HiddenStates) -> tuple[torch.Tensor, HiddenStates]:
        # nn.GRU takes and gives h, nn.LSTM (h, c): one tuple convention outside this method.
        if self.rnn_type == "gru":
            out, h = self.rnn(x, hidden_states[0])
            return out, (h,)
        out, (h, c) = self.rnn(x, (hidden_states[0], hidden_states[1]))
        return out, (h, c)

    def _step(self, obs: torch.Tensor, hidden_states: HiddenStates | None) -> tuple[torch.Tensor, HiddenStates]:
        if hidden_states is None:
            hidden_states = self.initial_hidden_states(obs.shape[0])
        elif not torch.jit.is_tracing() and hidden_states[0].shape[1] != obs.shape[0]:  # (traced: batch sizes vary)
            raise ValueError(
                f"observations of {obs.shape[0]} envs, hidden state of {hidden_states[0].shape[1]}: "
                "call reset() (no dones) before stepping another number of envs"
            )
        x, hidden_states = self._rnn(self._features(obs).unsqueeze(0), hidden_states)
        return self.mlp(x.squeeze(0)), hidden_states

    def _running_step(self, obs: torch.Tensor) -> torch.Tensor:
        out, self.hidden_states = self._step(obs, self.hidden_states)
        return out

    def _sequences(self, obs: torch.Tensor, masks: torch.Tensor, hidden_states: HiddenStates | None) -> torch.Tensor:
        if hidden_states is None:
            raise ValueError("padded trajectories need the hidden states they start from (hidden_states=)")
        x, _ = self._rnn(self._features(obs), hidden_states)
        # Only the real steps go through the head: the padding after each trajectory's end is dropped
        # here (the RNN is causal, so the padding never changed a real step's output).
        return self.mlp(x[masks])


class RecurrentActor(GaussianPolicy, _RecurrentNetwork):
    """Gaussian policy with memory: GRU / LSTM over normalized observations, MLP mean, learnable log-std.

    ``actor_cfg = {"rnn_type": "gru" | "lstm", "rnn_hidden_dim": 256, "rnn_num_layers": 1,
    "hidden_dims": [...], "activation": "elu"}`` (PPO picks this class when ``rnn_type`` is set).
    """

    def __init__(
        self,
        num_obs: int,
        num_actions: int,
        *,
        rnn_type: str = "lstm",
        rnn_hidden_dim: int = 256,
        rnn_num_layers: int = 1,
        hidden_dims: list[int] = (128, 128, 128),
        activation: str = "elu",
        init_noise_std: float = 1.0,
        obs_normalization: bool = False,
        min_std: float = 1e-3,
    ):
        super().__init__(
            num_obs, num_actions, rnn_type=rnn_type, rnn_hidden_dim=rnn_hidden_dim, rnn_num_layers=rnn_num_layers,
            hidden_dims=hidden_dims, activation=activation, obs_normalization=obs_normalization,
        )
        self._init_action_std(num_actions, init_noise_std, min_std)

    def forward(
        self, obs: torch.Tensor, masks: torch.Tensor | None = None, hidden_states: HiddenStates | None = None
    ) -> torch.Tensor:
        """The deterministic action (the mean): one step from the running state (advancing it), or,
        with ``masks``, the real steps of padded trajectories run from ``hidden_states``."""
        if masks is None:
            return self._running_step(obs)
        return self._sequences(obs, masks, hidden_states)

    def step(self, obs: torch.Tensor, hidden_states: HiddenStates | None) -> tuple[torch.Tensor, HiddenStates]:
        """(mean action, next state) for one step from ``hidden_states`` (None: zeros); the running state is untouched."""
        return self._step(obs, hidden_states)

    def export_module(self) -> nn.Module:
        """The policy with its state as explicit input and output, for TorchScript / ONNX:
        ``obs, h_in -> actions, h_out`` (GRU) or ``obs, h_in, c_in -> actions, h_out, c_out`` (LSTM)."""
        return _GRUPolicyExport(self) if self.rnn_type == "gru" else _LSTMPolicyExport(self)


class RecurrentCritic(_RecurrentNetwork):
    """State value with memory: GRU / LSTM over normalized observations, then an MLP to one value."""

    def __init__(
        self,
        num_obs: int,
        *,
        rnn_type: str = "lstm",
        rnn_hidden_dim: int = 256,
        rnn_num_layers: int = 1,
        hidden_dims: list[int] = (128, 128, 128),
        activation: str = "elu",
        obs_normalization: bool = False,
    ):
        super().__init__(
            num_obs, 1, rnn_type=rnn_type, rnn_hidden_dim=rnn_hidden_dim, rnn_num_layers=rnn_num_layers,
            hidden_dims=hidden_dims, activation=activation, obs_normalization=obs_normalization,
        )

    def forward(
        self, obs: torch.Tensor, masks: torch.Tensor | None = None, hidden_states: HiddenStates | None = None
    ) -> torch.Tensor:
        """Values: one step from the running state (advancing it), or with ``masks`` the real steps of padded trajectories."""
        if masks is None:
            return self._running_step(obs).squeeze(-1)
        return self._sequences(obs, masks, hidden_states).squeeze(-1)

    def step(self, obs: torch.Tensor, hidden_states: HiddenStates | None) -> tuple[torch.Tensor, HiddenStates]:
        """(values, next state) for one step from ``hidden_states`` (None: zeros); the running state is untouched."""
        values, hidden_states = self._step(obs, hidden_states)
        return values.squeeze(-1), hidden_states


class _GRUPolicyExport(nn.Module):
    """obs (batch, num_obs), h_in (num_layers, batch, hidden) -> actions, h_out."""

    def __init__(self, actor: RecurrentActor):
        super().__init__()
        self.actor = actor

    def forward(self, obs: torch.Tensor, h_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        actions, (h_out,) = self.actor.step(obs, (h_in,))
        return actions, h_out


class _LSTMPolicyExport(nn.Module):
    """obs (batch, num_obs), h_in, c_in (num_layers, batch, hidden) -> actions, h_out, c_out."""

    def __init__(self, actor: RecurrentActor):
        super().__init__()
        self.actor = actor

    def forward(
        self, obs: torch.Tensor, h_in: torch.Tensor, c_in: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        actions, (h_out, c_out) = self.actor.step(obs, (h_in, c_in))
        return actions, h_out, c_out
