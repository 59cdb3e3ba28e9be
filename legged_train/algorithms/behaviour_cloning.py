"""Behaviour cloning for a PPO agent: learn demonstrations' actions and their returns.

``TwoStageRunner`` pretrains this way before PPO takes over: it stores dataset transitions in the
agent's rollout storage as if the actor had taken them (``store_demonstration``), then updates with
``behaviour_cloning_update`` instead of ``PPO.update``. The actor learns the stored actions and the
critic regresses on the stored rewards' returns, so PPO starts from both.
"""

from __future__ import annotations

from legged_train.algorithms.ppo import PPO
from legged_train.finite import check_finite, check_module_finite

BC_LOSSES = ("mse", "nll")


def store_demonstration(ppo: PPO, transition, infos: dict) -> None:
    """Store a demonstration transition (``RolloutDataset``) in ``ppo``'s rollout storage."""
    if ppo.is_recurrent:
        raise ValueError("pretraining from a dataset needs feed-forward networks (actor_cfg/critic_cfg without rnn_type)")
    distribution = ppo.actor.distribution(transition.obs)
    actions = transition.actions.to(ppo.device)
    ppo.storage.add(
        transition.obs,
        transition.critic_obs,
        actions,
        distribution.log_prob(actions).sum(dim=-1),
        ppo.critic(transition.critic_obs),
        distribution.mean,
        distribution.stddev,
    )
    # Time-outs bootstrap from the final observation, exactly as in an env rollout.
    extras = {
        "time_outs": infos["time_outs"],
        "final_observation": transition.next_obs,
        "final_critic_observation": transition.next_critic_obs,
    }
    ppo.process_env_step(transition.rewards, transition.dones, extras)


def behaviour_cloning_update(ppo: PPO, bc_loss: str = "mse") -> dict[str, float]:
    """Epochs of minibatch steps over the stored demonstrations: cloning loss + value regression.

    ``bc_loss="mse"`` fits the actor's mean only (its std stays PPO's to explore with); "nll" fits
    the whole Gaussian (for datasets of sampled actions)."""
    if bc_loss not in BC_LOSSES:
        raise ValueError(f"bc_loss={bc_loss!r} is not supported; allowed: {list(BC_LOSSES)}")
    cfg = ppo.cfg
    totals = {"bc_loss": 0.0, "value_loss": 0.0}
    num_updates = 0
    for batch in ppo.storage.minibatches(cfg.num_mini_batches, cfg.num_learning_epochs):
        distribution = ppo.actor.distribution(batch.obs)
        if bc_loss == "nll":
            cloning_loss = -distribution.log_prob(batch.actions).sum(dim=-1).mean()
        else:
            cloning_loss = (distribution.mean - batch.actions).square().sum(dim=-1).mean()
        value_loss = (ppo.critic(batch.critic_obs) - batch.returns).square().mean()
        check_finite(cloning_loss.detach(), "behaviour cloning loss")
        check_finite(value_loss.detach(), "value loss (pretraining)")
        ppo._gradient_step(cloning_loss + cfg.value_loss_coef * value_loss)
        check_module_finite(ppo.actor, "actor", "a behaviour cloning step")
        check_module_finite(ppo.critic, "critic", "a behaviour cloning step")
        totals["bc_loss"] += cloning_loss.item()
        totals["value_loss"] += value_loss.item()
        num_updates += 1
    ppo._update_normalization()
    ppo.storage.clear()
    return {
        "train/bc_loss": totals["bc_loss"] / num_updates,
        "train/value_loss": totals["value_loss"] / num_updates,
        "train/learning_rate": ppo.learning_rate,
        "train/action_std": ppo.actor.std.mean().item(),
    }
