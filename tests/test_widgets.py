"""The latent and beta explorers, kernel side (no front end), and the plots they build on.

The browser side (sliders moved in JupyterLab) is tests/test_browser.py. Compatibility:
the explorers use only widgets, traits and methods that exist in ipywidgets 7.6+ and 8.x
(FloatSlider, SelectionSlider with (label, value) options, Image with bytes, HTML, VBox,
HBox, add_class, observe(names="value")); ``test_ipywidgets7`` re-runs the core checks
under ipywidgets 7 when ``IPYWIDGETS7_PATH`` points to an install of it (see its docstring).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

import helpers  # noqa: E402
from helpers import plots  # noqa: E402
from helpers import widgets as widgets_module  # noqa: E402
from helpers.widgets import BetaExplorer, LatentExplorer, _png  # noqa: E402

READOUT = re.compile(r"z = \((-?\d+\.\d\d), (-?\d+\.\d\d)\) · R_g = (\d+\.\d\d) bead diam\. · (valid|INVALID)")


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def split():
    return helpers.train_test_split(helpers.preprocess(helpers.load_paths()), seed=42)


@pytest.fixture(scope="module")
def pretrained():
    return helpers.load_pretrained()[0]


@pytest.fixture
def latent(pretrained, split):
    """A fresh explorer for each test: the tests move its sliders."""
    return LatentExplorer(pretrained, split[0])


@pytest.fixture(scope="module")
def beta(split):
    """Shared (its frames are prerendered once): each test sets the β it looks at."""
    return BetaExplorer(split[1])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


# ----------------------------------------------------------------------------- latent explorer


def test_update_changes_image_and_readout(latent):
    latent.update(z1=-1.0, z2=0.5)
    png, text = latent.png, latent.text
    latent.update(z1=1.0, z2=-0.5)
    assert latent.png != png
    assert latent.text != text
    assert READOUT.search(latent.text), latent.text
    before, after = pixels(png), pixels(latent.png)
    assert before.shape == after.shape == (304, 720, 3)  # 9 x 3.8 inches at 80 dpi
    # the change is local (marker and polymer), not a different figure
    assert 0.001 < np.mean(np.any(before != after, axis=-1)) < 0.2


def test_readout_matches_the_decoded_polymer(latent, split):
    for z in ((0.0, 0.0), (-2.0, 1.0), (2.5, -2.0)):
        polymer = latent.update(*z)
        expected = latent.model.decode(torch.tensor([z], dtype=torch.float32)).detach().numpy()[0]
        np.testing.assert_allclose(polymer.ravel(), expected, atol=1e-6)
        z1, z2, rg, verdict = READOUT.search(latent.text).groups()
        assert (float(z1), float(z2)) == pytest.approx(z, abs=0.006)
        assert float(rg) == pytest.approx(float(helpers.radius_of_gyration(expected)), abs=0.006)
        report = helpers.validity(expected, split[0])
        assert verdict == ("valid" if report.valid else "INVALID")


def test_readout_says_valid_and_invalid_where_it_should(latent, split):
    """A well-reconstructed training frame decodes valid; a point far outside the data does not."""
    train = torch.as_tensor(split[0][:200])
    mu = latent.model.encode(train)[0].detach()
    ok = helpers.validity(latent.model.decode(mu).detach(), split[0]).valid
    latent.update(*mu[int(np.argmax(ok))].tolist())
    assert "· valid" in latent.text
    latent.update(z1=latent.z1.max, z2=latent.z2.max)
    far = latent.decode(latent.z)
    assert not helpers.validity(far, split[0]).valid
    assert "INVALID" in latent.text


def test_slider_ranges_cover_the_latent_codes(latent, split):
    mu = latent.model.encode(torch.as_tensor(split[0]))[0].detach().numpy()
    assert latent.z1.min <= mu[:, 0].min() and mu[:, 0].max() <= latent.z1.max
    assert latent.z2.min <= mu[:, 1].min() and mu[:, 1].max() <= latent.z2.max
    # ... without being absurdly wider than the codes
    assert latent.z1.max - latent.z1.min < 2 * np.ptp(mu[:, 0]) + 1
    assert latent.z2.max - latent.z2.min < 2 * np.ptp(mu[:, 1]) + 1


def test_moving_a_slider_redraws(latent):
    """What the front end does: set the slider value; the observer redraws."""
    latent.update(z1=0.0, z2=0.0)
    png = latent.png
    latent.z1.value = 1.0
    assert latent.png != png
    assert READOUT.search(latent.text).group(1) == "1.00"


def test_alpha_interpolates_between_the_pair(latent, split):
    train = torch.as_tensor(split[0])
    mu = latent.model.encode(train[list(latent.pair)])[0].detach().numpy()
    for alpha, expected in ((0.0, mu[0]), (1.0, mu[1]), (0.5, mu.mean(0))):
        latent.update(alpha=alpha)
        np.testing.assert_allclose(latent.z, expected, atol=1e-5)
    assert latent.alpha.value == 0.5
    rg = helpers.radius_of_gyration(split[0][list(latent.pair)])
    assert rg[0] < rg[1]  # default pair: from a compact to an extended conformation
    with pytest.raises(ValueError, match="alpha"):
        latent.update(alpha=1.5)


@pytest.fixture
def encodes(monkeypatch) -> list:
    """Records every PNG encode of the explorers (one entry per call of helpers.widgets._png)."""
    calls = []
    monkeypatch.setattr(widgets_module, "_png", lambda canvas: calls.append(canvas) or _png(canvas))
    return calls


@pytest.fixture
def full_redraws(monkeypatch) -> list:
    """Records every full figure draw (Figure.draw, what canvas.draw() and savefig do)."""
    calls = []
    real_draw = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda fig, renderer: calls.append(fig) or real_draw(fig, renderer))
    return calls


def test_alpha_number_is_hidden_off_the_path(latent):
    latent.update(alpha=0.4)
    assert latent.alpha.readout and "α = 0.40" in latent.text
    latent.update(z1=latent.z[0] + 1.0)
    assert not latent.alpha.readout and "off the α path" in latent.text
    latent.z2.value = latent.z2.value - 0.5  # what the front end does
    assert not latent.alpha.readout
    latent.alpha.value = 0.6  # moving α returns to the path
    assert latent.alpha.readout and "α = 0.60" in latent.text
    np.testing.assert_allclose(latent.z, 0.4 * latent.z_pair[0] + 0.6 * latent.z_pair[1], atol=1e-6)


def test_opens_on_a_valid_polymer_and_fits_marker_and_polymer(pretrained, split):
    explorer = LatentExplorer(pretrained, split[0], n_validity=21)
    assert "· valid" in explorer.text and "α = 0.00" in explorer.text  # the default start
    ax_map, ax_pol = explorer.fig.axes[:2]  # (then the colorbar)
    x0, x1 = ax_map.get_xlim()
    y0, y1 = ax_map.get_ylim()
    assert x0 < explorer.z1.min and explorer.z1.max < x1  # the marker stays whole at the corners
    assert y0 < explorer.z2.min and explorer.z2.max < y1
    lim = ax_pol.get_xlim()[1]
    for corner in (
        (explorer.z1.min, explorer.z2.min),
        (explorer.z1.max, explorer.z2.max),
        (explorer.z1.min, explorer.z2.max),
        (explorer.z1.max, explorer.z2.min),
    ):
        assert np.abs(explorer.update(*corner)).max() < lim - 0.3  # the polymer stays on its panel
    labels = [t.get_text() for t in ax_map.get_legend().get_texts()]
    assert "decodes invalid" in labels and 0 < explorer.valid_fraction < 1  # the map shows validity


def test_snapped_echo_from_the_front_end_is_ignored(latent, encodes):
    """ipywidgets 8 snaps a kernel-set value to the step and sends it back: no second render."""
    latent.update(alpha=0.37)
    exact, png = latent.z, latent.png
    encodes.clear()
    step = latent.z1.step
    snapped = latent.z1.min + round((exact[0] - latent.z1.min) / step) * step
    assert snapped != exact[0]
    latent.z1.value = snapped  # the echo
    assert len(encodes) == 0 and latent.png == png
    np.testing.assert_array_equal(latent.z, exact)
    latent.z1.value = snapped + step  # a key press: one whole step
    assert len(encodes) == 1
    assert latent.z[0] == pytest.approx(snapped + step) and latent.z[1] == exact[1]


def test_an_event_blits_and_encodes_once_without_a_full_redraw(latent, encodes, full_redraws, monkeypatch):
    """What keeps events cheap (benchmarks/bench_widgets.py has the times): the scatter and
    axes are cached, so an event draws only the moving artists and encodes one PNG."""
    drawn = []
    real_draw_artist = latent.fig.draw_artist
    monkeypatch.setattr(latent.fig, "draw_artist", lambda artist: drawn.append(artist) or real_draw_artist(artist))
    monkeypatch.setattr(latent.canvas, "draw", lambda *args: pytest.fail("canvas.draw() called during an event"))
    values = np.linspace(-2, 2, 21)
    for z1 in values:
        latent.update(z1=z1)
    latent.update(alpha=0.3)
    events = len(values) + 1
    assert full_redraws == []
    assert len(encodes) == events
    # the artists left out of the cached background (animated), and nothing else, once per event
    moving = {artist for artist in latent.fig.findobj() if artist.get_animated()}
    assert 0 < len(moving) <= 5 and set(drawn) == moving and len(drawn) == events * len(moving)


def test_contract_classes_and_descriptions(latent, beta):
    """tests/test_browser.py and the notebooks rely on these names (see helpers/widgets.py)."""
    assert "polymer-latent-explorer" in latent.widget._dom_classes
    assert "polymer-beta-explorer" in beta.widget._dom_classes
    for slider, description, css in (
        (latent.z1, "z₁", "latent-z1"),
        (latent.z2, "z₂", "latent-z2"),
        (latent.alpha, "α", "latent-alpha"),
        (beta.slider, "β", "beta-slider"),
    ):
        assert slider.description == description
        assert css in slider._dom_classes
        assert slider.continuous_update  # events are cheap enough to follow a drag
    for explorer in (latent, beta):
        assert "explorer-image" in explorer.image._dom_classes
        assert "explorer-readout" in explorer.readout._dom_classes
        assert explorer.image.format == "png"
        assert hasattr(explorer, "_ipython_display_")


def test_rejects_bad_input(split):
    model3 = helpers.PolymerVAE(hidden_dim=8, n_hidden=1, latent_dim=3)
    with pytest.raises(ValueError, match="2-D latent"):
        LatentExplorer(model3, split[0][:100])
    model2 = helpers.PolymerVAE(hidden_dim=8, n_hidden=1)
    with pytest.raises(ValueError, match="pair"):
        LatentExplorer(model2, split[0][:100], pair=(0, 100))
    with pytest.raises(ValueError, match="beads"):
        LatentExplorer(model2, np.zeros(24))


def test_latent_static_figure(latent):
    fig = latent.static_figure(n=4)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "$z_1$" and ax.get_ylabel() == "$z_2$"
    chains = [line for line in ax.lines if line.get_linestyle() == "-" and len(line.get_xdata()) > 1]
    assert len(chains) == 16  # one polymer per grid point
    lo, hi = ax.get_xlim()
    inside = (latent.codes[:, 0] > lo) & (latent.codes[:, 0] < hi)
    assert inside.mean() > 0.98  # the grid spans (almost) all training codes, which are drawn too
    assert any(np.shape(c.get_offsets()) == latent.codes.shape for c in ax.collections)


# ----------------------------------------------------------------------------- beta explorer


def test_beta_frames_differ_and_follow_the_slider(beta):
    frames = {}
    for b in beta.betas:
        beta.slider.value = b  # as the front end would
        assert beta.beta == b
        assert beta.text.startswith(f"β = {b:g} · KL = ")
        frames[b] = beta.png
    assert len(set(frames.values())) == len(beta.betas)
    beta.update(beta.betas[0])
    assert beta.slider.value == beta.betas[0] and beta.png == frames[beta.betas[0]]
    with pytest.raises(ValueError, match="beta must be one of"):
        beta.update(0.5)


def test_beta_range_and_posterior_collapse(beta, split):
    """At the top of the sweep the KL is (nearly) zero and all prior samples look alike."""
    assert min(beta.betas) <= 1e-4 and max(beta.betas) >= 10
    kl = {b: r["test_kl"] for b, r in zip(beta.betas, beta.results)}
    top, bottom = max(beta.betas), min(beta.betas)
    assert kl[top] < 1.0 and kl[top] < 0.05 * kl[bottom]
    assert all(a > b for a, b in zip(list(kl.values()), list(kl.values())[1:]))  # rate falls with beta
    # the stored result agrees with the closed-form KL of the shipped model on the test split
    _, model, _ = [item for item in helpers.load_beta_sweep() if item[0] == top][0]
    mu, sigma = model.encode(torch.as_tensor(split[1]))
    assert helpers.kl_divergence(mu, sigma).mean().item() == pytest.approx(kl[top], rel=0.1, abs=0.05)
    # collapse is visible: prior samples vary less at the top beta than at small beta (the
    # decoder ignores z more and more; with beta >= ~20 it ignores it completely)
    sweep = {b: m for b, m, _ in helpers.load_beta_sweep()}
    spread = {b: sweep[b].sample(500, seed=0).std(0).mean().item() for b in (top, 0.01)}
    assert spread[top] < 0.7 * spread[0.01]
    beta.update(top)
    assert "posterior collapse" in beta.text
    beta.update(0.01)
    assert "posterior collapse" not in beta.text


def test_beta_events_are_served_from_the_cache(beta, monkeypatch, encodes, full_redraws):
    monkeypatch.setattr(beta, "_draw", lambda i: pytest.fail("frame redrawn"))
    for b in beta.betas[::-1]:
        beta.update(b)
    assert encodes == [] and full_redraws == []  # a prerendered frame is only sent


def test_beta_frames_are_drawn_once_each_on_first_visit(split, monkeypatch, encodes, full_redraws):
    explorer = BetaExplorer(split[1], n_map=200, prerender=False)
    assert len(encodes) == 1 and len(full_redraws) == 1  # the static background, then the first frame
    first = explorer.betas.index(explorer.beta)
    drawn = []
    real_draw = BetaExplorer._draw
    monkeypatch.setattr(BetaExplorer, "_draw", lambda self, i: drawn.append(i) or real_draw(self, i))
    for b in explorer.betas + explorer.betas[::-1]:
        explorer.update(b)
    assert sorted(drawn) == [i for i in range(len(explorer.betas)) if i != first]  # the others, once each
    assert len(encodes) == len(explorer.betas) and len(full_redraws) == 1


def test_beta_static_figure(beta):
    fig = beta.static_figure()
    titles = [ax.get_title() for ax in fig.axes]
    assert all(f"β = {b:g}" in titles for b in beta.betas)
    assert fig.axes[0].get_xlabel() == "rate: KL (nats)"


# ----------------------------------------------------------------------------- encoding and plots


def test_png_encoder_is_lossless():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1), dpi=50)
    canvas = FigureCanvasAgg(fig)
    fig.add_subplot().plot([0, 1], [1, 0], color="C3")
    canvas.draw()
    decoded = pixels(_png(canvas))
    np.testing.assert_array_equal(decoded, np.asarray(canvas.buffer_rgba())[..., :3])


def test_draw_polymer_accepts_torch_and_flat_input():
    coords = torch.arange(24, dtype=torch.float32).reshape(12, 2)
    fig, ax = plt.subplots()
    bonds, beads, start = plots.draw_polymer(ax, coords.reshape(24))
    np.testing.assert_array_equal(np.column_stack(bonds.get_data()), coords.numpy())
    np.testing.assert_array_equal(beads.get_offsets(), coords.numpy())
    np.testing.assert_array_equal(start.get_offsets(), coords.numpy()[:1])
    assert len(plots.draw_polymer(ax, coords, show_ends=False)) == 2
    with pytest.raises(ValueError, match="one conformation"):
        plots.draw_polymer(ax, torch.zeros(3, 12, 2))


def test_beads_are_circles_of_one_bead_diameter_in_data_units():
    fig, ax = plt.subplots(figsize=(4, 4))
    coords = np.array([[0.0, 0.0], [1.0, 0.0], [1.42, 0.0]])  # the last two beads overlap
    bonds, beads, start = plots.draw_polymer(ax, coords)
    ax.set(xlim=(-2, 3), ylim=(-2.5, 2.5))
    fig.canvas.draw()
    to_pixels = ax.transData.transform
    one_unit = to_pixels([1.0, 0.0])[0] - to_pixels([0.0, 0.0])[0]
    scale = beads.get_transform().get_matrix()[0, 0]  # data units to pixels, as the collection draws
    widths = np.array([2 * t[0, 0] * scale for t in beads.get_transforms()])  # unit circles, scaled
    np.testing.assert_allclose(widths, one_unit, rtol=0.02)  # diameter 1 bead diameter
    assert ax.get_aspect() == 1.0
    plots.move_polymer([bonds, beads, start], coords + 1.0, color="C3")
    np.testing.assert_array_equal(beads.get_offsets(), coords + 1.0)
    np.testing.assert_array_equal(np.column_stack(bonds.get_data()), coords + 1.0)
    assert matplotlib.colors.to_hex(bonds.get_color()) == matplotlib.colors.to_hex("C3")
    fig2, ax2 = plt.subplots()
    plots.draw_polymer(ax2, coords)  # autoscaling shows whole circles
    assert ax2.get_xlim()[0] <= -0.5 and ax2.get_xlim()[1] >= 1.92


def test_numpy_coordinates_accepts_torch_and_flat_input():
    flat = torch.arange(48, dtype=torch.float32).reshape(2, 24)
    coords = plots.numpy_coordinates(flat)
    assert isinstance(coords, np.ndarray) and coords.shape == (2, 12, 2)
    np.testing.assert_array_equal(coords[1, 0], [24, 25])
    with pytest.raises(ValueError, match="beads"):
        plots.numpy_coordinates(np.zeros(3), "polymer")


def test_polymer_row_wraps_and_shares_axes(split):
    fig = plots.polymer_row(split[0][:8], [str(i) for i in range(8)], ncols=5)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 8 and len(fig.axes) == 10
    assert {ax.get_xlim() for ax in visible} == {(-6.0, 6.0)}
    assert visible[5].get_xlabel() == "x (bead diam.)"
    with pytest.raises(ValueError, match="titles"):
        plots.polymer_row(split[0][:3], ["a"])


def test_latent_map_checks_shapes():
    fig, ax = plt.subplots()
    scatter = plots.latent_map(ax, torch.zeros(5, 2), np.arange(5.0))
    assert scatter.get_offsets().shape == (5, 2) and ax.get_xlabel() == "$z_1$"
    with pytest.raises(ValueError, match="values"):
        plots.latent_map(ax, np.zeros((5, 2)), np.zeros(4))


def test_loss_curves_and_distributions(split):
    history = helpers.History(
        train_loss=[3, 2], train_recon=[3, 2], train_kl=[1, 2], test_recon=[3.5, 2.5], test_kl=[1, 1.5]
    )
    fig = plots.loss_curves(history)
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    with pytest.raises(ValueError, match="empty"):
        plots.loss_curves(helpers.History())
    fig = plots.compare_distributions(split[0][:300], torch.as_tensor(split[1][:200]))
    assert [ax.get_xlabel() for ax in fig.axes] == [
        "bond length (bead diam.)",
        "non-bonded distance (bead diam.)",
        "$R_g$ (bead diam.)",
        "end-to-end distance (bead diam.)",
    ]


# ----------------------------------------------------------------------------- ipywidgets 7


def test_ipywidgets7():
    """Core checks under ipywidgets 7 (Colab ships 7.7.1), in a subprocess.

    Set IPYWIDGETS7_PATH to a directory made with
        pip install --target DIR --no-deps ipywidgets==7.7.1 ipython_genutils
    (CI may skip it: it needs that download once).
    """
    path = os.environ.get("IPYWIDGETS7_PATH")
    if not path:
        pytest.skip("set IPYWIDGETS7_PATH to an ipywidgets 7 install to run this check")
    script = textwrap.dedent("""
        import warnings; warnings.simplefilter("ignore", DeprecationWarning)
        import ipywidgets, helpers
        from helpers.widgets import LatentExplorer, BetaExplorer
        assert ipywidgets.__version__.startswith("7."), ipywidgets.__version__
        train, test = helpers.train_test_split(helpers.preprocess(helpers.load_paths()), seed=42)
        latent = LatentExplorer(helpers.load_pretrained()[0], train)
        png = latent.png
        latent.z1.value = 1.0
        assert latent.png != png and "z = (1.00" in latent.text
        beta = BetaExplorer(test)
        png = beta.png
        beta.slider.value = 10.0
        assert beta.png != png and "posterior collapse" in beta.text
        print("ok", ipywidgets.__version__)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([path, os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("ok 7.")
