"""train_vae, its History, evaluate and reconstruction_error, on tiny models and data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import helpers


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same_weights(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_a_short_run_lowers_the_test_loss(tiny_model, small_split):
    train, test = small_split
    model = tiny_model()
    before_total, before_recon, _ = helpers.evaluate(model, test, beta=0.12)
    mse_before = helpers.reconstruction_error(model, test)
    history = helpers.train_vae(model, train, test, epochs=8, lr=3e-3, batch_size=64, progress=False)
    assert history.test_recon[-1] < 0.6 * before_recon
    assert history.test_recon[-1] < history.test_recon[0]
    assert helpers.evaluate(model, test, beta=0.12)[0] < 0.6 * before_total
    assert helpers.reconstruction_error(model, test) < 0.6 * mse_before
    assert not model.training  # left in evaluation mode


def test_history_is_consistent(tiny_model, small_split):
    train, test = small_split
    history = helpers.train_vae(tiny_model(), train, test, epochs=4, beta=0.5, batch_size=100, progress=False)
    assert history.epochs == 4 and not history.interrupted
    for name in ("train_loss", "train_recon", "train_kl", "test_recon", "test_kl", "seconds"):
        values = getattr(history, name)
        assert len(values) == 4 and all(isinstance(v, float) and np.isfinite(v) for v in values), name
    # the epoch averages keep total = recon + beta * kl
    np.testing.assert_allclose(
        history.train_loss, np.add(history.train_recon, 0.5 * np.array(history.train_kl)), rtol=1e-5
    )
    assert all(k >= 0 for k in history.train_kl + history.test_kl)
    assert np.all(np.diff(history.seconds) > 0)
    as_dict = history.as_dict()
    assert as_dict["train_loss"] == history.train_loss and as_dict["interrupted"] is False
    as_dict["train_loss"].append(1.0)
    assert history.epochs == 4  # as_dict returns copies


def test_without_test_set_the_test_lists_stay_empty(tiny_model, small_split):
    train, _ = small_split
    history = helpers.train_vae(tiny_model(), train, epochs=2, progress=False)
    assert history.epochs == 2 and history.test_recon == [] and history.test_kl == []


def test_test_metrics_match_evaluate(tiny_model, small_split):
    train, test = small_split
    model = tiny_model()
    history = helpers.train_vae(model, train, test, epochs=2, progress=False)
    _, recon, kl = helpers.evaluate(model, test, beta=helpers.training.DEFAULT_BETA, seed=1)  # seed = last epoch
    assert history.test_recon[-1] == pytest.approx(recon, rel=1e-6)
    assert history.test_kl[-1] == pytest.approx(kl, rel=1e-6)


def test_on_epoch_end_sees_every_epoch(tiny_model, small_split):
    train, _ = small_split
    seen = []
    helpers.train_vae(
        tiny_model(), train, epochs=3, progress=False, on_epoch_end=lambda e, m, h: seen.append((e, h.epochs))
    )
    assert seen == [(0, 1), (1, 2), (2, 3)]


@pytest.fixture
def learning_rates(monkeypatch):
    """The learning rate of every optimizer step, recorded by wrapping Adam.step."""
    rates = []
    real_step = torch.optim.Adam.step

    def spying_step(self, *args, **kwargs):
        rates.append(self.param_groups[0]["lr"])
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spying_step)
    return rates


def test_constant_schedule_keeps_the_learning_rate(tiny_model, small_split, learning_rates):
    train, _ = small_split
    helpers.train_vae(tiny_model(), train, epochs=2, lr=1e-3, batch_size=60, schedule="constant", progress=False)
    assert learning_rates == [1e-3] * 12


@pytest.mark.parametrize("schedule", ["cosine", "onecycle"])
@pytest.mark.parametrize("epochs, batch_size", [(1, 400), (2, 180), (4, 360), (1, 90), (3, 60)])
def test_decaying_schedules_work_for_any_number_of_steps(
    tiny_model, small_split, learning_rates, schedule, epochs, batch_size
):
    """Regression: OneCycleLR divided by zero when a run had exactly 4 steps."""
    train, _ = small_split  # 360 frames
    history = helpers.train_vae(
        tiny_model(), train, epochs=epochs, lr=1e-3, batch_size=batch_size, schedule=schedule, progress=False
    )
    steps = epochs * -(-360 // batch_size)
    assert history.epochs == epochs and len(learning_rates) == steps
    assert max(learning_rates) <= 1e-3 * (1 + 1e-9)  # lr is the peak
    if steps >= 10:
        assert learning_rates[-1] < 0.1 * max(learning_rates)  # annealed by the end
        assert learning_rates.index(max(learning_rates)) <= steps // 2  # the peak is early


def test_mean_reduction_trains(tiny_model, small_split):
    train, test = small_split
    model = tiny_model()
    _, mse_before, _ = helpers.evaluate(model, test, beta=0.01, reduction="mean")
    history = helpers.train_vae(
        model, train, test, epochs=4, beta=0.01, reduction="mean", batch_size=32, progress=False
    )
    assert history.test_recon[-1] < 0.7 * mse_before  # "mean": recon is the MSE per coordinate
    assert history.test_recon[-1] == pytest.approx(helpers.evaluate(model, test, 0.01, "mean", seed=3)[1], rel=1e-6)


def test_progress_bar_shows_each_epochs_losses_and_is_silent_when_off(tiny_model, small_split, capsys):
    train, test = small_split
    history = helpers.train_vae(tiny_model(), train, test, epochs=2, progress=True)
    bar = capsys.readouterr().err
    for recon, test_recon in zip(history.train_recon, history.test_recon):
        assert f"recon={recon:.3f}" in bar and f"test_recon={test_recon:.3f}" in bar, bar
    helpers.train_vae(tiny_model(), train, test, epochs=2, progress=False)
    assert capsys.readouterr() == ("", "")


def test_exploding_loss_raises_and_restores_the_weights(tiny_model, small_split):
    train, test = small_split
    model = tiny_model()
    start = _state(model)
    with pytest.raises(FloatingPointError) as info:
        helpers.train_vae(model, train, test, epochs=3, lr=10.0, progress=False)
    message = str(info.value)
    assert "lr=10.0" in message and "beta=" in message and "epoch 1" in message
    assert _same_weights(model.state_dict(), start)  # the weights before the failed epoch
    assert torch.isfinite(model(torch.tensor(test[:4]))[0]).all()


def test_nan_loss_raises(tiny_model, small_split):
    train, _ = small_split
    model = tiny_model()
    with torch.no_grad():
        model.decoder.net[-1].bias.fill_(float("nan"))  # a model that has already gone wrong
    with pytest.raises(FloatingPointError, match="nan"):
        helpers.train_vae(model, train, epochs=2, progress=False)


def test_keyboard_interrupt_leaves_a_usable_model_and_a_consistent_history(tiny_model, small_split):
    train, test = small_split
    model = tiny_model()
    snapshots = []

    def stop_at_epoch_2(epoch, model, history):
        snapshots.append(_state(model))
        if epoch == 1:
            raise KeyboardInterrupt

    history = helpers.train_vae(model, train, test, epochs=10, progress=False, on_epoch_end=stop_at_epoch_2)
    assert history.interrupted
    assert history.epochs == 2
    assert {
        len(getattr(history, k)) for k in ("train_loss", "train_recon", "train_kl", "test_recon", "test_kl", "seconds")
    } == {2}
    assert _same_weights(model.state_dict(), snapshots[-1])  # the weights of the last finished epoch
    assert not model.training
    x_recon, mu, sigma = model(torch.tensor(test))
    assert torch.isfinite(x_recon).all() and (sigma > 0).all()
    more = helpers.train_vae(model, train, test, epochs=1, progress=False)  # training can resume
    assert more.epochs == 1 and not more.interrupted


def test_interrupt_during_the_first_batch(tiny_model, small_split, monkeypatch):
    train, test = small_split
    model = tiny_model()
    real_step = torch.optim.Adam.step

    def interrupted_step(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch.optim.Adam, "step", interrupted_step)
    history = helpers.train_vae(model, train, test, epochs=3, progress=False)
    monkeypatch.setattr(torch.optim.Adam, "step", real_step)
    assert history.interrupted and history.epochs == 0 and history.test_recon == []
    assert torch.isfinite(model.sample(3, seed=0)).all()


@pytest.mark.parametrize("beta, lr", [(10.0, 1e-3), (0.12, 1e-2), (10.0, 1e-2)])
def test_large_beta_or_learning_rate_trains_without_a_false_alarm(tiny_model, small_split, beta, lr):
    """A high but workable setting must not trip the divergence check (lr=10 does: see above)."""
    train, test = small_split
    history = helpers.train_vae(tiny_model(), train, test, epochs=4, beta=beta, lr=lr, progress=False)
    assert np.isfinite(history.train_loss).all() and np.isfinite(history.test_recon).all()
    assert history.train_loss[-1] < history.train_loss[0]


def test_a_larger_beta_pulls_the_posterior_towards_the_prior(tiny_model, small_split):
    train, test = small_split
    kl = {
        beta: helpers.train_vae(tiny_model(), train, test, epochs=4, beta=beta, lr=1e-2, progress=False).test_kl[-1]
        for beta in (0.12, 10.0)
    }
    assert kl[10.0] < 0.5 * kl[0.12]


def test_same_seed_same_result_different_seed_different_result(tiny_model, small_split):
    train, test = small_split
    runs = []
    for seed in (0, 0, 1):
        model = tiny_model(seed=0)
        history = helpers.train_vae(model, train, test, epochs=2, seed=seed, progress=False)
        runs.append((_state(model), history.train_loss))
    assert _same_weights(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
    assert not _same_weights(runs[0][0], runs[2][0])


def test_accepts_numpy_float64_and_torch_input(tiny_model, small_split):
    train, test = small_split
    history = helpers.train_vae(tiny_model(), train.astype(np.float64), torch.tensor(test), epochs=1, progress=False)
    assert history.epochs == 1


def test_evaluate_and_reconstruction_error(tiny_model, small_split):
    _, test = small_split
    model = tiny_model()
    total, recon, kl = helpers.evaluate(model, test, beta=0.3)
    assert all(isinstance(v, float) for v in (total, recon, kl))
    assert total == pytest.approx(recon + 0.3 * kl, rel=1e-6)
    assert helpers.evaluate(model, test, beta=0.3) == (total, recon, kl)  # seeded
    x = torch.tensor(test)
    with torch.no_grad():
        expected = float(((model.decode(model.encode(x)[0]) - x) ** 2).mean())
    assert helpers.reconstruction_error(model, test) == pytest.approx(expected, rel=1e-6)


def _flushing_denormals() -> bool:
    return (torch.tensor([1e-39]) * 1.0).item() == 0.0  # a float32 denormal, flushed to zero or not


@pytest.mark.parametrize("flush", [False, True])
def test_training_leaves_the_callers_torch_settings_as_they_were(tiny_model, small_split, flush):
    """train_vae runs on one thread with denormals flushed; the student's session gets its settings back."""
    train, _ = small_split
    threads, flushing = torch.get_num_threads(), _flushing_denormals()
    if not torch.set_flush_denormal(flush):
        pytest.skip("this CPU cannot flush denormals")
    torch.set_num_threads(2)  # as on a student's 2-core machine
    try:
        helpers.train_vae(tiny_model(), train, epochs=1, progress=False)
        assert (torch.get_num_threads(), _flushing_denormals()) == (2, flush)
        with pytest.raises(FloatingPointError):  # also when training fails
            helpers.train_vae(tiny_model(), train, epochs=2, lr=10.0, progress=False)
        assert (torch.get_num_threads(), _flushing_denormals()) == (2, flush)
    finally:
        torch.set_num_threads(threads)
        torch.set_flush_denormal(flushing)
