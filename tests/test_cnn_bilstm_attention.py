"""CNN-BiLSTM-attention (Qian 2025): attention maths, the paper's layer order, shapes, mass fusion, size."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import zoo
from zoo.models.cnn_bilstm_attention import CNNBiLSTMAttention, TemporalAttention
from zoo.specs import default_data_spec


def make(task: str, preset: str = "small") -> CNNBiLSTMAttention:
    torch.manual_seed(0)
    return zoo.create_model("cnn_bilstm_attention", data_spec=default_data_spec(task), preset=preset).eval()


def random_batch(model: CNNBiLSTMAttention, n: int = 2, seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    batch = {"x": torch.randn(n, *model.input_shape, generator=g)}
    if model.spec.get("has_body_mass"):
        batch["body_mass"] = torch.randn(n, 1, generator=g)
    return batch


def test_additive_attention_matches_a_hand_computation():
    attention = TemporalAttention(features=1, attention_dim=1)
    with torch.no_grad():
        attention.project.weight.fill_(1.0)
        attention.project.bias.fill_(0.0)
        attention.score.weight.fill_(2.0)
    states = torch.tensor([0.0, 1.0, 2.0]).reshape(1, 3, 1)
    scores = [2 * math.tanh(h) for h in (0.0, 1.0, 2.0)]
    alphas = [math.exp(s) / sum(math.exp(s2) for s2 in scores) for s in scores]
    context, weights = attention(states)
    assert weights[0].tolist() == pytest.approx(alphas, abs=1e-6)
    assert context.item() == pytest.approx(alphas[1] * 1.0 + alphas[2] * 2.0, abs=1e-6)


def test_identical_states_get_uniform_weights_and_context_equal_to_the_state():
    attention = TemporalAttention(features=4, attention_dim=3)
    state = torch.randn(4)
    context, weights = attention(state.expand(2, 5, 4))
    assert torch.allclose(weights, torch.full((2, 5), 0.2))
    assert torch.allclose(context, state.expand(2, 4), atol=1e-6)


def test_model_attention_weights_sum_to_one_over_time_and_respond_to_the_input():
    model = make("imu2pressure")
    with torch.no_grad():
        weights = model.attention_weights(random_batch(model, seed=1))
        other = model.attention_weights(random_batch(model, seed=2))
    assert weights.shape == (2, 101)
    assert (weights > 0).all()
    assert torch.allclose(weights.sum(dim=1), torch.ones(2), atol=1e-6)
    assert (weights - other).abs().max() > 1e-4


def test_convolution_is_followed_by_relu_then_batchnorm():
    model = make("imu2pressure").train()
    assert [type(m) for m in model.net.conv] == [nn.Conv1d, nn.ReLU, nn.BatchNorm1d]
    conv = model.net.conv[0]
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.padding) == (18, 64, (3,), (1,))
    x = random_batch(model, n=8)["x"]
    with torch.no_grad():
        activated = model.net.conv[:2](x)
        out = model.net.conv(x)
    assert (activated >= 0).all()
    # BatchNorm last (training mode, fresh affine): every channel is zero-mean over batch and time, and
    # the output has negative values, which an activation after the normalisation would have removed.
    assert torch.allclose(out.mean(dim=(0, 2)), torch.zeros(64), atol=1e-5)
    assert (out < 0).any()


def test_every_step_sees_the_whole_stance():
    """Bidirectional states and the attention context: the first output step depends on the last input."""
    model = make("imu2pressure")
    batch = random_batch(model)
    later = {**batch, "x": batch["x"].clone()}
    later["x"][:, :, -1] += 1.0
    with torch.no_grad():
        first, changed = model(batch)[:, 0], model(later)[:, 0]
    assert (first - changed).abs().max() > 1e-5


def test_body_mass_is_fused_for_imu2pressure():
    model = make("imu2pressure")
    batch = random_batch(model)
    heavier = {**batch, "body_mass": batch["body_mass"] + 1.0}
    with torch.no_grad():
        assert (model(batch) - model(heavier)).abs().max() > 1e-4
    assert model.net.head.mass is not None
    with pytest.raises(ValueError, match="body_mass"):
        model({"x": batch["x"]})


def test_imu2grf_has_no_mass_embedding_and_ignores_body_mass():
    model = make("imu2grf")
    assert model.net.head.mass is None
    batch = random_batch(model)
    with torch.no_grad():
        assert torch.equal(model(batch), model({**batch, "body_mass": torch.randn(2, 1)}))


@pytest.mark.parametrize(("task", "x_shape", "y_shape"), [
    ("imu2pressure", (18, 101), (101, 32, 16)),
    ("imu2grf", (48, 128), (3, 128)),
])
def test_paper_preset_shapes_on_the_paper_inputs(task, x_shape, y_shape):
    model = make(task, preset="paper")
    batch = random_batch(model, n=2)
    assert tuple(batch["x"].shape[1:]) == x_shape
    with torch.no_grad():
        out = model(batch)
    assert out.shape == (2, *y_shape)
    assert model.attention_weights(batch).shape == (2, x_shape[1])


def lstm_layer(inputs: int, hidden: int) -> int:
    """Both directions of one LSTM layer: 4 gates x (input and recurrent weights, two biases)."""
    return 2 * 4 * (hidden * (inputs + hidden) + 2 * hidden)


def test_paper_preset_parameter_count_matches_the_hand_computation():
    conv = 18 * 256 * 3 + 256                       # Conv1d(18, 256, 3)
    batchnorm = 2 * 256                             # gamma, beta
    lstm = lstm_layer(256, 128) + 2 * lstm_layer(2 * 128, 128)
    attention = (256 * 128 + 128) + 128             # W, b; v
    mass = (1 * 16 + 16) + (16 * 16 + 16)           # two FC layers of the mass embedding
    decoder = ((4 * 128 + 16) * 256 + 256) + (256 * 32 * 16 + 32 * 16)  # [h_t; c; mass] -> 256 -> H*W
    expected = conv + batchnorm + lstm + attention + mass + decoder
    model = make("imu2pressure", preset="paper")
    print(f"cnn_bilstm_attention paper preset, imu2pressure 18x101 -> 101x32x16: {model.num_parameters():,}")
    assert expected == 1_500_720
    assert model.num_parameters() == expected


def test_paper_preset_trains_with_the_papers_settings():
    model = make("imu2pressure", preset="paper")
    assert model.net.lstm.num_layers == 3 and model.net.lstm.bidirectional and model.net.lstm.hidden_size == 128
    assert model.net.lstm.dropout == pytest.approx(0.17)
    config = model.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]
    assert isinstance(optimizer, torch.optim.Adam)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1.86e-4)
    assert isinstance(scheduler["scheduler"], torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert (scheduler["scheduler"].patience, scheduler["scheduler"].factor) == (5, 0.5)
    assert scheduler["monitor"] == "val/loss"
