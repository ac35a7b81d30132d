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


def test_ridge_holds_batches_back_for_x_transpose_y_and_gets_the_per_batch_sum(monkeypatch):
    """X^T Y is updated once per many rows (a per-batch rank-32 update of a wide X^T Y is memory-bound);
    flushing every batch, every 3 rows or only at the end gives the same statistics and fit."""
    import zoo.models.ridge as ridge

    torch.manual_seed(0)
    x, y = torch.randn(70, 4, 8), torch.randn(70, 2, 8)
    chunks = [batch(a, b) for a, b in zip(x.split(9), y.split(9))]  # uneven: 7 x 9 + 7
    fits = {}
    for rows in (1, 3, 10_000):
        monkeypatch.setattr(ridge, "PENDING_ROWS", rows)
        model = zoo.create_model("ridge", data_spec=SPEC)
        model.fit_closed_form(chunks, [batch(x[:10], y[:10])])
        assert model._pending == []
        fits[rows] = model
    expected = x.flatten(1).double().T @ y.flatten(1).double()
    for model in fits.values():
        torch.testing.assert_close(model.xty.double(), expected)
        torch.testing.assert_close(model.net.weight, fits[1].net.weight)


def test_ridge_checkpoints_leave_out_the_statistics_and_old_ones_still_load():
    model = zoo.create_model("ridge", data_spec=SPEC)
    model.fit_closed_form([batch(torch.randn(40, 4, 8), torch.randn(40, 2, 8))], [batch(torch.randn(9, 4, 8),
                                                                                        torch.randn(9, 2, 8))])
    state = model.state_dict()
    assert not {"xtx", "xty", "x_sum", "y_sum", "n"} & set(state)
    assert {"net.basis", "net.coef", "net.x_mean", "net.y_mean", "penalty"} <= set(state)
    old = {**state, "xtx": model.xtx, "xty": model.xty, "x_sum": model.x_sum, "y_sum": model.y_sum, "n": model.n}
    fresh = zoo.create_model("ridge", data_spec=SPEC)
    fresh.load_state_dict(old)  # strict: the stored statistics are dropped, not reported as unexpected
    torch.testing.assert_close(fresh.net.weight, model.net.weight)
    assert fresh.fitted


def test_ridge_keeps_its_weight_factorised_when_samples_are_fewer_than_features_and_old_checkpoints_load():
    """With 30 samples and 256 features x 192 outputs the solution has rank <= 29 (centred): kept as basis
    [256, r] @ coef [r, 192] (smaller than 256 x 192), predicting what the whole weight predicts; with 400
    samples (rank 256) it is kept whole. A checkpoint holding one `net.weight` (before the factorisation) loads."""
    torch.manual_seed(0)
    spec = {**SPEC, "input_shape": [4, 64], "target_shape": [3, 64], "target_names": ["ml", "ap", "vertical"]}
    x_train, y_train = torch.randn(30, 4, 64), torch.randn(30, 3, 64)
    model = zoo.create_model("ridge", data_spec=spec)
    model.fit_closed_form([batch(x_train, y_train)], [batch(torch.randn(5, 4, 64), torch.randn(5, 3, 64))])
    d, r = model.net.basis.shape
    assert d == 256 and 0 < r <= 29 and model.net.coef.shape == (r, 192)
    x = torch.randn(7, 4, 64)
    whole = (model.net.features(x) - model.net.x_mean) @ (model.net.basis @ model.net.coef) + model.net.y_mean
    torch.testing.assert_close(model.net(x), whole.reshape(7, 3, 64), rtol=1e-5, atol=1e-5)
    # an old-format checkpoint: one weight
    old = {k: v for k, v in model.state_dict().items() if k not in ("net.basis", "net.coef")}
    old["net.weight"] = model.net.weight
    fresh = zoo.create_model("ridge", data_spec=spec)
    fresh.load_state_dict(old)
    assert fresh.net.basis.shape == (0, 0)
    torch.testing.assert_close(fresh.net(x), model.net(x), rtol=1e-5, atol=1e-5)
    # the factorised checkpoint into a fresh (unfitted: a whole zero weight) model
    again = zoo.create_model("ridge", data_spec=spec)
    again.load_state_dict(model.state_dict())
    torch.testing.assert_close(again.net(x), model.net(x))
    # a checkpoint of another model's shape: named, not a matmul error at prediction time
    import pytest

    bad = {**model.state_dict(), "net.coef": torch.zeros(r + 1, 192)}
    with pytest.raises(zoo.ZooError, match=r"expected net.basis .* found basis \[256, \d+\], coef \[\d+, 192\]"):
        zoo.create_model("ridge", data_spec=spec).load_state_dict(bad)
    # many samples: whole
    many = zoo.create_model("ridge", data_spec=spec)
    many.fit_closed_form([batch(torch.randn(400, 4, 64), torch.randn(400, 3, 64))],
                         [batch(torch.randn(9, 4, 64), torch.randn(9, 3, 64))])
    assert many.net.basis.shape == (0, 0) and many.net.coef.shape == (256, 192)


def test_an_unfitted_ridge_predicts_the_target_mean_buffer():
    model = zoo.create_model("ridge", data_spec=SPEC)
    assert model.net.basis.shape == (0, 0) and model.net.coef.shape == (32, 16) and not model.fitted
    torch.testing.assert_close(model.net(torch.randn(3, 4, 8)), torch.zeros(3, 2, 8))


def test_ridge_on_inputs_that_never_vary_fits_the_target_mean_and_says_so():
    """One training sample, or constant inputs: no direction to fit; the model predicts the training mean
    (penalty inf) with a warning instead of failing inside the eigendecomposition."""
    import pytest

    for x in (torch.randn(1, 4, 8), torch.ones(5, 4, 8)):
        y = torch.randn(len(x), 2, 8)
        model = zoo.create_model("ridge", data_spec=SPEC)
        with pytest.warns(UserWarning, match=r"no input feature varies over the \d+ training sample"):
            model.fit_closed_form([batch(x, y)], [batch(torch.randn(3, 4, 8), torch.randn(3, 2, 8))])
        assert model.fitted and float(model.penalty) == float("inf")
        torch.testing.assert_close(model.net(torch.randn(4, 4, 8)), y.mean(0).expand(4, 2, 8))
