"""Masked-reconstruction SSL transformer (Tan 2024): masking, missing-IMU substitution, paper size, encoder
transfer and the two-stage fine-tuning schedule."""

from __future__ import annotations

import math

import lightning.pytorch as pl
import pytest
import torch

import zoo
from datamodules.datamodule import GaitDataModule
from datamodules.naming import IMU_CHANNELS_48
from datamodules.tasks import get_task
from zoo.models.ssl_transformer import SslTransformer, TwoStageSchedule, contiguous_block_mask
from zoo.specs import default_data_spec

from fake_recordings import make_fake_recording

SUBSET = [c for c in IMU_CHANNELS_48 if c.startswith(("PELVIS_", "R_FOOT_"))]  # 2 IMUs, 12 channels


def small(task: str = "pretrain", **kw) -> SslTransformer:
    torch.manual_seed(0)
    return zoo.create_model("ssl_transformer", data_spec=kw.pop("data_spec", None) or default_data_spec(task),
                            preset="small", **kw)


def subset_spec(channels: list[str]) -> dict:
    return default_data_spec("imu2grf", input_channels=channels, input_shape=[len(channels), 128])


def trainer(**kw) -> pl.Trainer:
    return pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0, **kw)


@pytest.fixture(scope="module")
def fake_file(tmp_path_factory):
    return make_fake_recording(tmp_path_factory.mktemp("ssl") / "fake.h5", n_subjects=3, seconds=4.0)


@pytest.fixture(scope="module")
def pretrained_ckpt(fake_file, tmp_path_factory):
    """A Lightning checkpoint of the small model after one pretraining step."""
    dm = GaitDataModule(str(fake_file), task="pretrain", n_folds=3, batch_size=8)
    model = small(data_spec=dm.data_spec)
    t = trainer(max_steps=1)
    t.fit(model, datamodule=dm)
    path = tmp_path_factory.mktemp("ckpt") / "pretrain.ckpt"
    t.save_checkpoint(path)
    return path


# -- masking -------------------------------------------------------------------------------------
def test_each_window_hides_one_contiguous_block_of_the_configured_length():
    model = small(mask_length=16).train()
    inputs = []
    model.encoder.embedding.register_forward_pre_hook(lambda module, args: inputs.append(args[0]))
    x = torch.randn(32, 48, 128)
    mask = model({"x": x})["mask"]
    assert mask.shape == (32, 128) and mask.dtype == torch.bool
    assert (mask.sum(1) == 16).all()
    edges = torch.diff(torch.nn.functional.pad(mask.int(), (1, 1)), dim=1)
    assert ((edges == 1).sum(1) == 1).all() and ((edges == -1).sum(1) == 1).all()  # one block per row
    assert len(set(mask.int().argmax(1).tolist())) > 5  # starts vary across windows
    tokens = inputs[0]  # [B, T, 48]: what the embedding sees
    assert torch.equal(tokens[mask], model.encoder.mask_token.detach().expand(int(mask.sum()), 48))
    assert torch.equal(tokens[~mask], x.transpose(1, 2)[~mask])


def test_mask_length_follows_the_ratio_and_eval_masks_are_reproducible():
    assert small(mask_ratio=0.25).mask_length == 32
    assert small().mask_length == 16  # preset ratio 0.125 of 128 steps
    assert small(mask_ratio=0.25, mask_length=8).mask_length == 8  # an explicit length wins
    with pytest.raises(zoo.ZooError, match=r"mask_length must lie in \[1, 127\].*found 128"):
        small(mask_length=128)
    model = small().eval()
    x = torch.randn(4, 48, 128)
    assert torch.equal(model({"x": x})["mask"], model({"x": x})["mask"])
    generator = torch.Generator().manual_seed(1)
    assert not torch.equal(contiguous_block_mask(64, 128, 16, generator=generator),
                           contiguous_block_mask(64, 128, 16, generator=generator))


def test_pretrain_loss_counts_only_the_masked_steps():
    model = small().eval()
    x = torch.randn(4, 48, 128)
    out = model({"x": x})
    mask = out["mask"][:, None, :].expand_as(x)
    exact = {"y": torch.where(mask, x + 0.5, x), "mask": out["mask"]}
    assert model.compute_loss(exact, x, {"x": x}).item() == pytest.approx(0.25)  # (0.5)^2 on masked steps
    off_mask = {"y": torch.where(mask, exact["y"], x + 100.0), "mask": out["mask"]}
    assert model.compute_loss(off_mask, x, {"x": x}).item() == pytest.approx(0.25)
    loss = model.compute_loss(out, x, {"x": x})
    assert loss.item() == pytest.approx(((out["y"] - x)[mask] ** 2).mean().item())


def test_mask_token_is_trained():
    model = small().train()
    x = torch.randn(4, 48, 128)
    out = model({"x": x})
    model.compute_loss(out, x, {"x": x}).backward()
    assert model.encoder.mask_token.requires_grad
    assert model.encoder.mask_token.grad.abs().sum() > 0


# -- channel slots and missing-IMU substitution ----------------------------------------------------
def test_absent_imus_are_replaced_by_the_trainable_embedding_and_nothing_else():
    sub = small(data_spec=subset_spec(SUBSET)).eval()
    full = small("imu2grf").eval()
    assert sub.encoder.missing_imu.shape == (48, 128) and full.encoder.missing_imu is None
    full.encoder.load_state_dict({k: v for k, v in sub.encoder.state_dict().items() if k != "missing_imu"})
    full.head.load_state_dict(sub.head.state_dict())
    x = torch.randn(3, len(SUBSET), 128)
    present = [IMU_CHANNELS_48.index(c) for c in SUBSET]
    x_full = sub.encoder.missing_imu.detach().expand(3, -1, -1).clone()
    x_full[:, present] = x
    with torch.no_grad():  # the 48-channel model fed the embedding in the absent slots gives the same output
        torch.testing.assert_close(sub({"x": x}), full({"x": x_full}), rtol=1e-5, atol=1e-5)
    sub.train()
    sub({"x": x}).pow(2).mean().backward()
    grad = sub.encoder.missing_imu.grad
    absent = [i for i in range(48) if i not in present]
    assert (grad[present] == 0).all()  # the rows of present channels never enter the model
    assert (grad[absent].abs().sum(1) > 0).all()


def test_channels_are_routed_to_their_slots_in_any_order():
    shuffled = SUBSET[::-1]
    a, b = small(data_spec=subset_spec(SUBSET)).eval(), small(data_spec=subset_spec(shuffled)).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, len(SUBSET), 128)
    with torch.no_grad():
        torch.testing.assert_close(a({"x": x}), b({"x": x.flip(1)}))


def test_inputs_outside_the_48_imu_channels_are_embedded_directly():
    model = small("imu2pressure")
    assert model.encoder.n_slots == 18 and model.encoder.missing_imu is None
    assert tuple(model.encoder.embedding.weight.shape) == (64, 18)


# -- paper preset ----------------------------------------------------------------------------------
def test_paper_preset_parameter_counts():
    model = zoo.create_model("ssl_transformer", preset="paper")
    layers = sum(p.numel() for p in model.encoder.transformer.parameters())
    assert layers == 6 * 346_304 == 2_077_824  # per layer: attention 148,224 + feed-forward 197,312 + norms 768
    assert layers == pytest.approx(2.08e6, rel=0.05)
    assert model.num_parameters() == 2_096_544  # + embedding 9,408 + mask token 48 + reconstruction 9,264
    assert model.num_parameters() == pytest.approx(2e6, rel=0.05)  # the paper: "2 million"


def test_paper_preset_forward_shapes():
    torch.manual_seed(0)
    with torch.no_grad():
        model = zoo.create_model("ssl_transformer", preset="paper").eval()
        out = model({"x": torch.randn(2, 48, 128)})
        assert out["y"].shape == (2, 48, 128) and (out["mask"].sum(1) == 16).all()
        model = zoo.create_model("ssl_transformer", data_spec=default_data_spec("imu2grf"), preset="paper").eval()
        assert model({"x": torch.randn(2, 48, 128)}).shape == (2, 3, 128)
        model = zoo.create_model("ssl_transformer", data_spec=default_data_spec("imu2pressure"), preset="paper")
        y = model.eval()({"x": torch.randn(2, 18, 101), "body_mass": torch.zeros(2, 1)})
        assert y.shape == (2, 101, 32, 16)


# -- pretrained encoder ----------------------------------------------------------------------------
def test_a_pretrained_encoder_loads_strictly_and_heads_stay_new(pretrained_ckpt, tmp_path):
    stored = torch.load(pretrained_ckpt, weights_only=True)["state_dict"]
    fresh = small("imu2grf")
    model = small("imu2grf", pretrained=str(pretrained_ckpt))
    for key, value in model.encoder_state_dict().items():
        assert torch.equal(value, stored[f"net.encoder.{key}"]), key
    for key, value in model.head.state_dict().items():
        assert torch.equal(value, fresh.head.state_dict()[key])  # same seed: the head is untouched
    sub = small(data_spec=subset_spec(SUBSET), pretrained=str(pretrained_ckpt))  # new missing_imu, rest loaded
    assert torch.equal(sub.encoder.embedding.weight, model.encoder.embedding.weight)
    torch.save(model.encoder_state_dict(), tmp_path / "encoder.pt")
    again = small("imu2grf", pretrained=str(tmp_path / "encoder.pt"))
    assert torch.equal(again.encoder.transformer.layers[1].linear2.weight,
                       model.encoder.transformer.layers[1].linear2.weight)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"data_spec": default_data_spec("imu2pressure")},
     r"shape mismatches: mask_token \(checkpoint \(48,\), model \(18,\)\), "
     r"embedding\.weight \(checkpoint \(64, 48\), model \(64, 18\)\)"),
    ({"layers": 3}, r"missing keys: transformer\.layers\.2\.self_attn\.in_proj_weight, .*\(\+6 more\)"),
    ({"layers": 1}, r"unexpected keys: transformer\.layers\.1\.self_attn\.in_proj_weight"),
])
def test_a_mismatching_encoder_is_an_error_naming_the_keys(pretrained_ckpt, overrides, message):
    spec = overrides.pop("data_spec", default_data_spec("imu2grf"))
    with pytest.raises(zoo.ZooError, match=r"pretrained checkpoint .*pretrain\.ckpt: .*" + message):
        small(data_spec=spec, pretrained=str(pretrained_ckpt), **overrides)


def test_missing_checkpoint_and_bad_finetune_options_fail_clearly(tmp_path):
    with pytest.raises(zoo.ZooError, match="pretrained: no checkpoint file at .*nope.ckpt"):
        small("imu2grf", pretrained=str(tmp_path / "nope.ckpt"))
    with pytest.raises(zoo.ZooError, match="finetune: expected one of \\['full', 'head_then_full'\\], found 'x'"):
        small("imu2grf", finetune="x")
    with pytest.raises(zoo.ZooError, match="needs a downstream task; the task is 'pretrain'"):
        small("pretrain", finetune="head_then_full")


# -- two-stage fine-tuning -------------------------------------------------------------------------
class StageRecorder(pl.Callback):
    """Which optimiser steps computed encoder gradients, and the weights at the start of step `step`."""

    def __init__(self, step: int) -> None:
        self.step, self.encoder, self.head = step, None, None
        self.encoder_has_grad: list[bool] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            self.encoder = {k: v.clone() for k, v in pl_module.encoder_state_dict().items()}
            self.head = {k: v.clone() for k, v in pl_module.head.state_dict().items()}

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.encoder_has_grad.append(any(p.grad is not None for p in pl_module.encoder.parameters()))


def test_head_stage_leaves_the_pretrained_encoder_bit_identical(fake_file, pretrained_ckpt, tmp_path):
    dm = GaitDataModule(str(fake_file), task="imu2grf", n_folds=3, batch_size=8)
    model = small(data_spec=dm.data_spec, pretrained=str(pretrained_ckpt), finetune="head_then_full",
                  head_steps=3, full_steps=2)
    loaded = {k: v.clone() for k, v in model.encoder_state_dict().items()}
    head_before = {k: v.clone() for k, v in model.head.state_dict().items()}
    snapshot = StageRecorder(step=3)
    t = trainer(max_steps=5, callbacks=[snapshot])
    t.fit(model, datamodule=dm)
    assert snapshot.encoder_has_grad == [False, False, False, True, True]  # frozen, not merely at lr 0
    assert all(torch.equal(snapshot.encoder[k], loaded[k]) for k in loaded)  # after the 3 head-only steps
    assert any(not torch.equal(snapshot.head[k], head_before[k]) for k in head_before)
    after = model.encoder_state_dict()
    assert any(not torch.equal(after[k], loaded[k]) for k in loaded)  # the full stage trains the encoder
    assert all(p.requires_grad for p in model.encoder.parameters())  # unfrozen once the fit ends
    # The fine-tuned checkpoint restores without the pretraining file.
    t.save_checkpoint(tmp_path / "finetuned.ckpt")
    assert torch.load(tmp_path / "finetuned.ckpt", weights_only=True)["pretrained_source"] == str(pretrained_ckpt)
    restored = SslTransformer.load_from_checkpoint(tmp_path / "finetuned.ckpt")
    assert restored.hparams.pretrained is None and model.hparams.pretrained == str(pretrained_ckpt)
    assert torch.equal(restored.encoder.embedding.weight, model.encoder.embedding.weight)


def test_two_stage_schedule_has_the_documented_shape():
    model = small("imu2grf", finetune="head_then_full", head_steps=10, head_lr=1e-3, full_steps=20, full_lr=1e-4)
    config = model.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.01, 0.01]
    head, encoder = [], []
    for _ in range(32):
        head.append(optimizer.param_groups[0]["lr"])
        encoder.append(optimizer.param_groups[1]["lr"])
        optimizer.step()
        scheduler.step()
    cosine = 0.5 * (1 + math.cos(math.pi * 7 / 8))
    # Head stage: warm-up over 2 of 10 steps to 1e-3, cosine over the other 8; the encoder rests.
    assert head[:3] == pytest.approx([5e-4, 1e-3, 1e-3]) and head[6] == pytest.approx(5e-4)
    assert head[9] == pytest.approx(1e-3 * cosine)
    assert encoder[:10] == [0.0] * 10
    # Full stage: both groups warm up over 4 of 20 steps to 1e-4, then cosine over 16; zero afterwards.
    assert head[10:30] == pytest.approx(encoder[10:30])
    assert encoder[10:14] == pytest.approx([2.5e-5, 5e-5, 7.5e-5, 1e-4]) and encoder[22] == pytest.approx(5e-5)
    assert encoder[30:] == [0.0, 0.0] and head[30:] == [0.0, 0.0]
    schedule = TwoStageSchedule(10, 1e-3, 20, 1e-4, 0.2)
    assert [schedule.encoder_frozen_at(s) for s in (0, 9, 10)] == [True, True, False]


def test_several_mask_blocks_never_overlap_and_mask_exactly_the_ratio():
    from zoo.models.ssl_transformer import contiguous_block_mask

    mask = contiguous_block_mask(64, 128, 4, blocks=4, generator=torch.Generator().manual_seed(0))
    assert torch.all(mask.sum(dim=1) == 16)
    for row in mask:  # four separate runs of 4 steps, one in each quarter of the window
        edges = torch.diff(torch.cat([torch.tensor([0]), row.int(), torch.tensor([0])]))
        starts = torch.nonzero(edges == 1).flatten()
        assert len(starts) == 4 and torch.equal(starts // 32, torch.arange(4))
    model = SslTransformer(data_spec=get_task("pretrain").default_spec().to_dict(), mask_ratio=0.125, mask_blocks=4)
    assert model.mask_length == 4
    with pytest.raises(zoo.ZooError, match="mask_blocks: expected an integer in \\[1, 64\\]"):
        SslTransformer(data_spec=get_task("pretrain").default_spec().to_dict(), mask_blocks=0)
