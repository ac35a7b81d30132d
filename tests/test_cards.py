"""Model cards (`docs/models/<name>.md`) are current: regenerated from the registry, README's leaderboard and the
committed latency table, they equal the committed files (latency figures are quoted, never re-measured)."""

from __future__ import annotations

import pytest

from benchmarks import cards


def test_committed_cards_are_current(capsys):
    assert cards.main(["--check"]) == 0, capsys.readouterr().err
    for name in cards.builtin_models():
        text = (cards.CARDS_DIR / f"{name}.md").read_text()
        assert "## Leaderboard (synthetic data)" in text and "**Synthetic:**" in text
        assert "## Licence of weights" in text and "## Known limitations" in text


def test_a_stale_card_is_reported(tmp_path, monkeypatch, capsys):
    for path in cards.CARDS_DIR.glob("*.md"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "tcn.md").write_text((tmp_path / "tcn.md").read_text().replace("| small |", "| tiny |"))
    monkeypatch.setattr(cards, "CARDS_DIR", tmp_path)
    assert cards.main(["--check"]) == 1
    assert "out of date: tcn;" in capsys.readouterr().err


def test_cards_quote_the_leaderboard_and_latency_rows():
    boards, protocol = cards.readme_leaderboard()
    assert "cross-validation with seeds" in protocol
    assert boards["imu2grf"]["rows"]["ssl_transformer"][0] == "`ssl_transformer`"
    latency, header, note = cards.latency_rows()
    assert ("ssl_transformer", "small") in latency and "load average" in note
    card = (cards.CARDS_DIR / "ssl_transformer.md").read_text()
    assert " | ".join(boards["imu2grf"]["rows"]["ssl_transformer"]) in card
    assert " | ".join(latency[("ssl_transformer", "small")]) in card
    assert "Real-time check" in card


def test_zoo_card_prints_the_card(capsys):
    from zoo.cli import main

    assert main(["card", "cnn_bilstm_attention"]) == 0
    out = capsys.readouterr().out
    assert out == (cards.CARDS_DIR / "cnn_bilstm_attention.md").read_text()
    assert main(["card", "no_such_model"]) == 2
    assert "unknown model 'no_such_model'" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["ridge", "mean"])
def test_closed_form_baselines_show_no_parameters(name):
    params, flops, task = cards.preset_cost(name, "small")
    assert params is None and flops >= 0 and task == "imu2pressure"
