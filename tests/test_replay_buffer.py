"""Replay buffer: ring wrap-around, no stale rows in samples, per-group dtypes, final observations, state round trip."""

import pytest
import torch

from legged_train.replay_buffer import ReplayBuffer, next_observations_from_step


def make_buffer(capacity: int) -> ReplayBuffer:
    spec = {"policy": ((2,), torch.float32), "camera": ((3,), torch.uint8)}
    return ReplayBuffer(capacity, spec, action_shape=(), action_dtype=torch.long)


def add_ids(buffer: ReplayBuffer, ids: list[int]) -> None:
    """Transitions whose every field encodes an id, so rows can be traced."""
    ids_t = torch.tensor(ids, dtype=torch.float32)
    obs = {"policy": ids_t[:, None].repeat(1, 2), "camera": torch.tensor(ids, dtype=torch.uint8)[:, None].repeat(1, 3)}
    next_obs = {"policy": obs["policy"] + 0.5, "camera": obs["camera"] + 1}
    buffer.add(obs, torch.tensor(ids), ids_t, next_obs, torch.tensor(ids) % 2 == 1)


def test_wrap_around_overwrites_the_oldest_rows():
    buffer = make_buffer(5)
    add_ids(buffer, [1, 2, 3])
    assert (len(buffer), buffer.pos) == (3, 3)
    add_ids(buffer, [4, 5, 6, 7])
    assert (len(buffer), buffer.pos) == (5, 2)
    # Rows 0 and 1 were overwritten by ids 6 and 7; rows 2..4 still hold 3..5.
    assert buffer.rewards.tolist() == [6.0, 7.0, 3.0, 4.0, 5.0]
    assert buffer.actions.tolist() == [6, 7, 3, 4, 5]
    assert buffer.obs["policy"][:, 0].tolist() == [6.0, 7.0, 3.0, 4.0, 5.0]
    assert buffer.next_obs["camera"][:, 0].tolist() == [7, 8, 4, 5, 6]
    assert buffer.terminated.tolist() == [False, True, True, False, True]


def test_a_batch_larger_than_the_buffer_keeps_its_newest_transitions():
    buffer = make_buffer(4)
    add_ids(buffer, list(range(1, 11)))
    assert len(buffer) == 4
    assert sorted(buffer.rewards.tolist()) == [7.0, 8.0, 9.0, 10.0]


def test_sampling_never_returns_unwritten_or_overwritten_rows():
    generator = torch.Generator().manual_seed(0)
    buffer = make_buffer(10)
    add_ids(buffer, [1, 2, 3])
    batch = buffer.sample(1000, generator=generator)
    assert set(batch.rewards.tolist()) == {1.0, 2.0, 3.0}  # never the zero rows past `size`

    add_ids(buffer, list(range(4, 15)))  # 14 transitions into 10 rows: ids 1..4 are gone
    batch = buffer.sample(2000, generator=generator)
    assert set(batch.rewards.tolist()) == set(float(i) for i in range(5, 15))
    # Every field of a sampled row belongs to the same transition.
    assert torch.equal(batch.obs["policy"][:, 0], batch.rewards)
    assert torch.equal(batch.actions.float(), batch.rewards)
    assert torch.equal(batch.next_obs["camera"][:, 0].float(), batch.rewards + 1)
    assert torch.equal(batch.terminated, batch.actions % 2 == 1)


def test_groups_keep_their_own_dtypes():
    buffer = make_buffer(4)
    add_ids(buffer, [200, 255])
    batch = buffer.sample(8)
    assert batch.obs["camera"].dtype == torch.uint8
    assert batch.obs["policy"].dtype == torch.float32
    assert batch.actions.dtype == torch.long
    assert batch.terminated.dtype == torch.bool


def test_next_observations_use_final_observation_of_finished_envs():
    obs = {"policy": torch.tensor([[1.0, 1.0], [2.0, 2.0]]), "critic": torch.tensor([[10.0], [20.0]])}
    extras = {
        "final_observation": torch.tensor([[0.0, 0.0], [9.0, 9.0]]),
        "final_critic_observation": torch.tensor([[0.0], [90.0]]),
    }
    dones = torch.tensor([False, True])
    next_obs = next_observations_from_step(obs, dones, extras)
    assert next_obs["policy"].tolist() == [[1.0, 1.0], [9.0, 9.0]]
    assert next_obs["critic"].tolist() == [[10.0], [90.0]]
    with pytest.raises(KeyError, match="final_critic_observation"):
        next_observations_from_step(obs, dones, {"final_observation": extras["final_observation"]})


def test_state_dict_round_trip():
    buffer = make_buffer(6)
    add_ids(buffer, [1, 2, 3, 4, 5, 6, 7, 8])
    restored = make_buffer(6)
    restored.load_state_dict(buffer.state_dict())
    assert (restored.pos, restored.size) == (buffer.pos, buffer.size)
    for name in ("policy", "camera"):
        assert torch.equal(restored.obs[name], buffer.obs[name])
        assert torch.equal(restored.next_obs[name], buffer.next_obs[name])
    assert torch.equal(restored.actions, buffer.actions)
    assert torch.equal(restored.rewards, buffer.rewards)
    assert torch.equal(restored.terminated, buffer.terminated)
    with pytest.raises(ValueError, match="capacity"):
        make_buffer(7).load_state_dict(buffer.state_dict())


def test_bad_input():
    with pytest.raises(ValueError, match="capacity=0"):
        make_buffer(0)
    with pytest.raises(RuntimeError, match="empty"):
        make_buffer(3).sample(1)
    buffer = make_buffer(3)
    with pytest.raises(KeyError, match="observation groups"):
        buffer.add({"policy": torch.zeros(1, 2)}, torch.zeros(1), torch.zeros(1), {"policy": torch.zeros(1, 2)}, torch.zeros(1))
