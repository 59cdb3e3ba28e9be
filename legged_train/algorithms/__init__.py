"""Learning algorithms: one per module (ppo, dqn, sac). Import from the module, e.g.
``from legged_train.algorithms.ppo import PPO, PPOConfig``."""
