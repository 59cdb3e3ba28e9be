"""Runners own the training loop: ``BaseRunner`` (shared), ``OnPolicyRunner``, ``OffPolicyRunner``.
Import from the module, e.g. ``from legged_train.runners.on_policy_runner import OnPolicyRunner``."""
