"""The legged-robot velocity-tracking env, one module per part of its MDP:

- ``env.py``: the step/reset loop, the state the terms read, exact-resume state;
- ``config.py``: its typed configuration, each term's parameters included;
- ``commands.py``: velocity commands;
- ``events.py``: randomization at reset and pushes during episodes;
- ``terminations.py``, ``rewards.py``, ``observations.py``, ``curriculum.py``: the terms, each a function
  of the env's state with its parameters from the config.
"""
