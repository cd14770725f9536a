"""Prompt matching: decoded frames move toward the prompt's nearest frames, by the weight asked,
and only where the codec supports it."""

import pytest
import torch

from diflow_tts.codec.prompt_matching import PromptMatch, match_to_prompt


def _two_voices(frames: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompt frames of two kinds (a steady 'vowel' at 0 and one at 10 in every dimension) and
    output frames near the first kind."""
    prompt = torch.cat([torch.zeros(frames, 3), torch.full((frames, 3), 10.0)])
    prompt[:frames, 0] = torch.linspace(-0.5, 0.5, frames)  # not all alike: the mean is a real average
    output = torch.full((frames, 3), 1.0)
    return output, prompt


def test_frames_move_by_the_weight_toward_their_nearest_prompt_frames():
    output, prompt = _two_voices()
    moved = match_to_prompt(output, prompt, 0.5)
    # Every output frame's nearest prompt frames are of the first kind (values near 0), never the
    # second: half way from 1 to about 0.
    assert moved[:, 1:].allclose(torch.full_like(moved[:, 1:], 0.5))
    assert 0.5 <= float(moved[:, 0].min()) and float(moved[:, 0].max()) <= 0.75  # toward [0, 0.5]
    assert torch.equal(match_to_prompt(output, prompt, 0.0), output)
    replaced = match_to_prompt(output, prompt, 1.0)
    assert replaced[:, 1:].abs().max() == 0  # weight 1: the prompt frames' mean alone


def test_matching_compares_windows_of_frames_not_single_frames():
    """The same frame in different surroundings is matched to different prompt frames: each
    output frame is compared with its neighbours on either side."""
    prompt = torch.tensor([0.0, 0, 0, 5, 0, 0, 0, 9, 9, 9, 5, 9, 9, 9])[:, None]
    among_zeros = match_to_prompt(torch.tensor([0.0, 5, 0])[:, None], prompt, 1.0)[1, 0]
    among_nines = match_to_prompt(torch.tensor([9.0, 5, 9])[:, None], prompt, 1.0)[1, 0]
    assert among_zeros < 5 < among_nines


def test_columns_past_the_keys_move_with_the_neighbours_the_keys_chose():
    """The WORLD codec finds neighbours by the envelope and moves the aperiodicity with them: a
    column left out of the comparison follows the key columns' nearest prompt frames."""
    prompt = torch.tensor([[0.0, 100.0]] * 4 + [[10.0, 0.0]] * 4)
    output = torch.tensor([[1.0, 0.0]] * 3)  # by both columns nearest [10, 0]; by the first, [0, 100]
    assert match_to_prompt(output, prompt, 1.0)[:, 1].eq(0.0).all()
    by_first_column = match_to_prompt(output, prompt, 0.5, key_dims=1)
    assert by_first_column.allclose(torch.tensor([[0.5, 50.0]] * 3))


def test_a_prompt_shorter_than_the_neighbour_count_and_empty_inputs_work():
    output, prompt = torch.ones(5, 2), torch.zeros(2, 2)
    assert match_to_prompt(output, prompt, 0.5).allclose(torch.full((5, 2), 0.5))
    assert torch.equal(match_to_prompt(output, torch.zeros(0, 2), 0.5), output)
    assert match_to_prompt(torch.zeros(0, 2), prompt, 0.5).shape == (0, 2)


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_a_weight_outside_zero_to_one_is_refused(weight):
    with pytest.raises(ValueError, match=f"prompt matching weight {weight} is outside"):
        match_to_prompt(torch.ones(3, 2), torch.zeros(3, 2), weight)
    with pytest.raises(ValueError, match="outside"):
        PromptMatch([torch.zeros(3, 4, dtype=torch.long)], weight)
