"""helpers.selfcheck: exercise verdicts, claims that are strict only in the test run, proofs."""

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


def is_square(n):
    return selfcheck.verdict(int(n**0.5) ** 2 == n, "try again")


def test_prove_check_accepts_a_sound_check():
    selfcheck.prove_check(is_square, placeholder=0.5, wrong=8, solution=9)


@pytest.mark.parametrize(
    "inputs, message",
    [
        (dict(placeholder=4, wrong=8, solution=9), "accepts the placeholder"),
        (dict(placeholder=2, wrong=16, solution=9), "accepts the wrong answer"),
        (dict(placeholder=2, wrong=8, solution=10), "rejects the solution"),
    ],
)
def test_prove_check_catches_an_unsound_check(inputs, message):
    with pytest.raises(AssertionError, match=message):
        selfcheck.prove_check(is_square, **inputs)
