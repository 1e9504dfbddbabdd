"""helpers.selfcheck: exercise verdicts and claims that are strict only in the test run."""

import pytest

from helpers import selfcheck


def test_verdict_prints_and_returns(capsys):
    assert selfcheck.verdict(True, "hint") is True
    assert selfcheck.verdict(0, "add the biases") is False
    assert capsys.readouterr().out.splitlines() == ["✓ correct", "✗ not yet: add the biases"]


def test_claim_is_strict_in_the_test_run(monkeypatch):
    monkeypatch.setenv("POLYMER_VAE_STRICT", "1")
    assert selfcheck.claim(True, "x > 1", "x = 2")
    with pytest.raises(AssertionError, match="the text says x > 1; with your settings: x = 0.5"):
        selfcheck.claim(False, "x > 1", "x = 0.5")


def test_claim_prints_one_line_for_a_student(monkeypatch, capsys):
    monkeypatch.delenv("POLYMER_VAE_STRICT", raising=False)
    assert selfcheck.claim(False, "x > 1", "x = 0.5") is False
    assert capsys.readouterr().out == "ⓘ the text says x > 1; with your settings: x = 0.5\n"
    assert selfcheck.claim(True, "x > 1", "x = 2") is True
    assert capsys.readouterr().out == ""
