"""The closed-form baselines against hand-computed answers: the mean predictor returns the training mean,
ridge recovers a known linear map and picks its penalty on validation data."""

from __future__ import annotations

import torch

import zoo

SPEC = {"task": "imu2grf", "input_shape": [4, 8], "target_shape": [2, 8], "has_body_mass": False,
        "input_channels": [f"c{i}" for i in range(4)], "target_names": ["a", "b"]}


def batch(x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"x": x, "y": y, "subject": torch.zeros(len(x), dtype=torch.long)}


def test_mean_predictor_returns_the_mean_of_every_training_target():
    model = zoo.create_model("mean", data_spec=SPEC)
    y1, y2 = torch.arange(16.0).reshape(1, 2, 8), torch.ones(3, 2, 8)
    for y in (y1, y2):
        model.accumulate(batch(torch.zeros(len(y), 4, 8), y), y)
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
    for chunk in x_train.split(100):
        model.accumulate(batch(chunk, make_y(chunk)), make_y(chunk))
    model._val_batches = [batch(x_val, make_y(x_val))]
    model.solve()
    x_test = torch.randn(20, 4, 8)
    pred = model(batch(x_test, torch.zeros(20, 2, 8)))
    rel_error = (pred - make_y(x_test)).norm() / make_y(x_test).norm()
    assert rel_error < 0.01
    scale = float(torch.linalg.eigvalsh(model.xtx - model.n * torch.outer(model.x_sum / model.n,
                                                                         model.x_sum / model.n)).mean())
    assert float(model.penalty) == torch.tensor(scale * 1e-3).item()  # the grid's smallest: no noise to damp
