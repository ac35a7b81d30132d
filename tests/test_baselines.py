"""The closed-form baselines against hand-computed answers: the mean predictor returns the training mean,
ridge recovers a known linear map and picks its penalty on validation data."""

from __future__ import annotations

import torch

import zoo

SPEC = {"task": "imu2grf", "input_shape": [4, 8], "target_shape": [2, 8], "has_body_mass": False,
        "input_channels": [f"c{i}" for i in range(4)], "target_names": ["ap", "vertical"]}


def batch(x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"x": x, "y": y, "subject": torch.zeros(len(x), dtype=torch.long)}


def test_mean_predictor_returns_the_mean_of_every_training_target():
    model = zoo.create_model("mean", data_spec=SPEC)
    y1, y2 = torch.arange(16.0).reshape(1, 2, 8), torch.ones(3, 2, 8)
    model.fit_closed_form([batch(torch.zeros(len(y), 4, 8), y) for y in (y1, y2)])
    expected = (y1.sum(0) + y2.sum(0)) / 4  # four samples in all
    pred = model(batch(torch.randn(5, 4, 8), torch.zeros(5, 2, 8)))
    assert pred.shape == (5, 2, 8)
    torch.testing.assert_close(pred, expected.expand(5, 2, 8))


def test_ridge_recovers_a_linear_map_and_chooses_the_smallest_penalty_on_clean_data():
    torch.manual_seed(0)
    weight, bias = torch.randn(32, 16), torch.randn(16)
    x_train, x_val = torch.randn(400, 4, 8), torch.randn(50, 4, 8)
    make_y = lambda x: (x.flatten(1) @ weight + bias).reshape(-1, 2, 8)  # noqa: E731
    model = zoo.create_model("ridge", data_spec=SPEC)
    model.fit_closed_form([batch(chunk, make_y(chunk)) for chunk in x_train.split(100)],
                          [batch(x_val, make_y(x_val))])
    x_test = torch.randn(20, 4, 8)
    pred = model(batch(x_test, torch.zeros(20, 2, 8)))
    rel_error = (pred - make_y(x_test)).norm() / make_y(x_test).norm()
    assert rel_error < 0.01
    scale = float(torch.linalg.eigvalsh(model.xtx - model.n * torch.outer(model.x_sum / model.n,
                                                                         model.x_sum / model.n)).mean())
    assert float(model.penalty) == torch.tensor(scale * 1e-3).item()  # the grid's smallest: no noise to damp


def test_ridge_without_validation_data_says_which_penalty_it_used():
    model = zoo.create_model("ridge", data_spec=SPEC)
    x = torch.randn(40, 4, 8)
    import pytest

    with pytest.warns(UserWarning, match="no validation data to choose the penalty"):
        model.fit_closed_form([batch(x, torch.randn(40, 2, 8))])
    assert model.fitted


def test_closed_form_networks_hold_the_fit_and_run_without_lightning():
    model = zoo.create_model("mean", data_spec=SPEC)
    model.fit_closed_form([batch(torch.zeros(2, 4, 8), torch.full((2, 2, 8), 3.0))])
    net = model.net
    assert not hasattr(net, "trainer")
    torch.testing.assert_close(net(torch.randn(5, 4, 8)), torch.full((5, 2, 8), 3.0))
