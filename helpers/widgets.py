"""Interactive explorers for the latent space and for beta, fast with the inline backend.

Both explorers draw with plain matplotlib (Agg) and show the result as a PNG in an
``ipywidgets.Image``: no ipympl, so they work in JupyterLab, Binder and Colab with
ipywidgets 7.6+ and 8.x. The expensive, static part of each figure (axes, the latent
scatter of thousands of points, colorbar) is rendered once and cached; an event only
moves a few artists, blits them onto the cached background and re-encodes the PNG
(about 10 ms per event on 2 cores, against ~235 ms for redrawing the whole figure the
way ``interact`` with inline matplotlib does: see benchmarks/bench_widgets.py). The beta
explorer has only a handful of states, so each frame is drawn once and then served from a
cache. Sliders use ``continuous_update=True``: ipywidgets keeps at most one update in
flight and merges the rest, so a fast drag never builds up a backlog.

Clicking on the latent map is not supported: an ``ipywidgets.Image`` reports no clicks,
and the packages that add them (ipympl, ipyevents) are fragile on Colab.

    explorer = LatentExplorer(model, train)   # model: PolymerVAE with a 2-D latent space
    explorer                                  # shows the widget (last expression of a cell)
    explorer.update(z1=1.0, z2=-0.5)          # works without a front end, e.g. in tests
    explorer.static_figure()                  # decoded polymers over the latent plane

    beta = BetaExplorer(test)                 # models from helpers.load_beta_sweep()
    beta
    beta.static_figure()                      # the whole sweep in one figure

Contract with the notebooks and the browser test (tests/test_browser.py)
-----------------------------------------------------------------------
* notebooks/06_polymer_case_study displays a ``LatentExplorer`` and notebooks/04_beta a
  ``BetaExplorer`` as the last expression of a cell (or with ``display(explorer)``), in a
  cell that runs by default. Display each explorer once.
* Set the explorer's state (``update(...)``) before the cell that displays it, not after:
  under "Run All" a later cell's ``update`` can reach the kernel before the browser has
  drawn the sliders, and the browser then sends the sliders' first (older) values back.
* The widgets carry these CSS classes and slider descriptions (the test finds them by them):
      LatentExplorer: box ``polymer-latent-explorer``; sliders ``latent-z1`` ("z₁"),
          ``latent-z2`` ("z₂"), ``latent-alpha`` ("α"); image ``explorer-image``;
          readout ``explorer-readout``: "z = (0.12, -0.50) · R_g = 2.13 bead diam. · valid · α = 0.40 · ..."
          (or "· off the α path ·" after a move of z₁ or z₂)
      BetaExplorer: box ``polymer-beta-explorer``; slider ``beta-slider`` ("β");
          image ``explorer-image``; readout ``explorer-readout``: "β = 0.01 · KL = ... nats · ..."
* Each image update is a new PNG; the readout text changes with every slider step.
* Both notebooks also show ``explorer.static_figure()`` in a later cell, for readers
  without a live kernel (nbval, PDF export, GitHub's viewer).
"""

from __future__ import annotations

import io
import re

import ipywidgets as widgets
import numpy as np
import PIL.Image
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle
from matplotlib.ticker import NullFormatter

from . import plots
from ._checks import check_unconditional
from ._cpu import one_thread
from .checkpoints import load_beta_sweep
from .measures import ValidityReference, radius_of_gyration, validity
from .models import decode_conformations

LENGTH_UNIT = plots.LENGTH_UNIT


def _as_float_tensor(data, name="data") -> torch.Tensor:
    """(n, 2 * beads) or (n, beads, 2), numpy or torch -> float32 tensor (n, 2 * beads)."""
    x = torch.as_tensor(plots.numpy_coordinates(data, name), dtype=torch.float32)
    if x.ndim != 3:
        raise ValueError(f"{name} must be a set of conformations (n, beads, 2) or (n, 2 * beads)")
    return x.reshape(len(x), -1)


def _png(canvas: FigureCanvasAgg) -> bytes:
    """Encode what the Agg canvas holds now (no redraw) as a PNG, fast.

    Pillow with the fastest zlib level (a few ms for these figures); ``fig.savefig`` would
    redraw the whole figure first. Plots are mostly flat colour, so the file stays small anyway.
    """
    width, height = canvas.get_width_height(physical=True)
    rgba = PIL.Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    out = io.BytesIO()
    rgba.convert("RGB").save(out, format="PNG", compress_level=1)
    return out.getvalue()


def _nice_range(values: np.ndarray, pad: float = 0.1, minimum: float = 1.0) -> tuple[float, float]:
    """[min, max] of ``values`` widened by ``pad`` (fraction) and rounded out to 0.5."""
    lo, hi = float(values.min()), float(values.max())
    span = max(hi - lo, minimum)
    return float(np.floor((lo - pad * span) * 2) / 2), float(np.ceil((hi + pad * span) * 2) / 2)


class _Explorer:
    """Shared plumbing: an Agg figure, a cached background, an Image and a readout."""

    box_class = ""

    def _init_canvas(self, fig: Figure) -> None:
        self.fig = fig
        self.canvas = FigureCanvasAgg(fig)  # not registered with pyplot: never shown twice inline
        self.image = widgets.Image(format="png")
        self.image.add_class("explorer-image")
        self.readout = widgets.HTML()
        self.readout.add_class("explorer-readout")

    def _ipython_display_(self, **kwargs):
        from IPython.display import display

        display(self.widget)

    @property
    def png(self) -> bytes:
        """The PNG currently shown."""
        return self.image.value

    @property
    def text(self) -> str:
        """The readout as plain text (HTML tags removed)."""
        return re.sub(r"<[^>]+>", "", self.readout.value)


class LatentExplorer(_Explorer):
    """Sliders for a point z in a 2-D latent space, the decoded polymer and its validity.

    Args:
        model: a ``PolymerVAE`` with ``latent_dim == 2``.
        data: the training conformations, (n, 24) or (n, 12, 2), numpy or torch: their
            encoder means set the slider ranges and the latent map (coloured by R_g), and
            they are the reference for ``helpers.validity``.
        pair: indices into ``data`` of the two conformations joined by the interpolation
            slider α (default: the most compact and the most extended of the map's frames
            among those whose reconstruction decode(mu) is valid). The explorer opens at the
            first of the pair (α = 0), so with the default it opens on a valid polymer.
        n_map: frames drawn on the latent map (a seeded random subset).
        dpi: resolution of the image (pixels per inch of a 9 x 3.8 inch figure).

    The map shades the latent points whose decoded polymer is invalid (a grid of
    ``n_validity`` x ``n_validity`` points) under the training codes, so gaps and invalid
    regions can be told apart. The α slider's number is hidden while the point is moved off
    the interpolation path with z₁ or z₂; moving α again puts the point back on the path.
    """

    box_class = "polymer-latent-explorer"

    def __init__(self, model, data, *, pair=None, n_map=3000, seed=0, dpi=80, n_validity=61):
        check_unconditional("LatentExplorer", model)
        if getattr(model, "latent_dim", None) != 2:
            raise ValueError("LatentExplorer needs a PolymerVAE with a 2-D latent space")
        x = _as_float_tensor(data)
        self.model = model.eval()
        self.reference = ValidityReference.from_data(x.numpy())
        with torch.no_grad():
            mu = model.encode(x.to(next(model.parameters()).device))[0].cpu().numpy()
        rg = radius_of_gyration(x.numpy())
        subset = np.random.default_rng(seed).permutation(len(x))[: min(n_map, len(x))]
        if pair is None:  # most compact and most extended frames whose reconstruction is valid
            ok = validity(decode_conformations(model, mu[subset]), self.reference).valid
            candidates = subset[ok] if ok.sum() >= 2 else subset
            pair = (int(candidates[np.argmin(rg[candidates])]), int(candidates[np.argmax(rg[candidates])]))
        if len(pair) != 2 or not all(0 <= int(i) < len(x) for i in pair):
            raise ValueError(f"pair must be two indices into data (0 ... {len(x) - 1}), got {pair}")
        self.pair = tuple(int(i) for i in pair)
        self.z_pair = mu[list(self.pair)]  # (2, 2): the interpolation's end points
        self.z1_range = _nice_range(mu[:, 0])
        self.z2_range = _nice_range(mu[:, 1])
        self.codes = mu[subset]  # (n_map, 2) encoder means drawn on the map
        self._build_figure(mu[subset], rg[subset], dpi, n_validity)
        self._build_widgets()
        self._syncing = False
        self.on_path = True  # is the point where the α slider says?
        self._z = np.zeros(2)  # the decoded point; the sliders may hold it rounded to their step
        self.update(alpha=0.0)  # start on a real conformation: the first of the pair

    # ------------------------------------------------------------------ figure
    def _build_figure(self, mu, rg, dpi, n_validity):
        fig = Figure(figsize=(9, 3.8), dpi=dpi, layout="constrained")
        ax_map, ax_pol = fig.subplots(1, 2, gridspec_kw=dict(width_ratios=(1.25, 1)))
        # the map reaches a little beyond the sliders, so the marker is whole at the corners
        pad1, pad2 = (0.04 * (hi - lo) for lo, hi in (self.z1_range, self.z2_range))
        self.map_extent = (
            self.z1_range[0] - pad1,
            self.z1_range[1] + pad1,
            self.z2_range[0] - pad2,
            self.z2_range[1] + pad2,
        )
        self.valid_fraction = plots.validity_map(
            ax_map, self.model, self.reference, extent=self.map_extent, n=n_validity, color="0.86"
        )
        plots.latent_map(ax_map, mu, rg, s=4)
        ax_map.plot(*self.z_pair.T, "--", color="k", lw=1.2, label="interpolation α")
        ax_map.plot(*self.z_pair.T, "o", color="k", ms=5, mfc="white")
        ax_map.fill_between([], [], color="0.86", label="decodes invalid")
        ax_map.set(
            xlim=self.map_extent[:2],
            ylim=self.map_extent[2:],
            xlabel="$z_1$",
            ylabel="$z_2$",
            title="Latent map: training codes (encoder means)",
        )
        ax_map.set_aspect("auto")
        ax_map.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8, frameon=False
        )  # clear of the marker
        # the polymer panel fits every polymer decoded inside the sliders' range
        g1, g2 = np.linspace(*self.z1_range, 25), np.linspace(*self.z2_range, 25)
        far = np.abs(decode_conformations(self.model, np.stack(np.meshgrid(g1, g2), -1).reshape(-1, 2))).max()
        lim = max(plots.DEFAULT_LIM, float(np.ceil(far + 0.6)))
        ax_pol.set(
            xlim=(-lim, lim),
            ylim=(-lim, lim),
            xlabel=f"x ({LENGTH_UNIT})",
            ylabel=f"y ({LENGTH_UNIT})",
            title=r"Decoder mean $f_\theta(z)$",
        )
        ax_pol.set_aspect("equal")
        ax_pol.grid(alpha=0.3)
        (self._marker,) = ax_map.plot([0], [0], "P", color="k", ms=13, mec="white", mew=1.5)
        self._polymer = plots.draw_polymer(ax_pol, np.zeros((12, 2)), color="C0")  # bonds, beads, bead 1
        self._label = ax_pol.text(0.03, 0.97, "", transform=ax_pol.transAxes, va="top", fontsize=10)
        self._dynamic = (self._marker, *self._polymer, self._label)
        self._init_canvas(fig)
        for artist in self._dynamic:
            artist.set_animated(True)  # left out of canvas.draw(): drawn per event instead
        self.canvas.draw()
        self._background = self.canvas.copy_from_bbox(fig.bbox)

    def _build_widgets(self):
        def slider(description, css, value_range, step):
            s = widgets.FloatSlider(
                value=value_range[0],
                min=value_range[0],
                max=value_range[1],
                step=step,
                description=description,
                continuous_update=True,
                readout_format=".2f",
                layout=widgets.Layout(width="330px"),
            )
            s.add_class(css)
            return s

        self.z1 = slider("z₁", "latent-z1", self.z1_range, 0.05)
        self.z2 = slider("z₂", "latent-z2", self.z2_range, 0.05)
        self.alpha = slider("α", "latent-alpha", (0.0, 1.0), 0.02)
        self.z1.observe(self._on_z, names="value")
        self.z2.observe(self._on_z, names="value")
        self.alpha.observe(self._on_alpha, names="value")
        self.widget = widgets.VBox([widgets.HBox([self.z1, self.z2, self.alpha]), self.readout, self.image])
        self.widget.add_class(self.box_class)

    # ------------------------------------------------------------------ events
    def _on_z(self, change):
        # A front end snaps values to the slider's step and sends the snapped value back
        # (ipywidgets 8 does so whenever the kernel sets an off-grid value, e.g. a point on
        # the α path): such echoes lie within half a step and are ignored, so the exact
        # point stays decoded and nothing is drawn twice. A key press moves a whole step.
        if self._syncing:
            return
        i = 0 if change["owner"] is self.z1 else 1
        if abs(change["new"] - self._z[i]) <= change["owner"].step / 2 + 1e-9:
            return
        self._z[i] = change["new"]
        self.on_path = False
        self.alpha.readout = False  # the point has left the α path: α no longer describes it
        self._render()

    def _on_alpha(self, change):
        if not self._syncing:
            self.update(alpha=change["new"])

    def update(self, z1=None, z2=None, *, alpha=None):
        """Move to (z1, z2), or to the point ``alpha`` of the way along the interpolation path.

        A move of z1 or z2 leaves the path: the α slider then hides its number.
        Sliders follow (values outside their range are clipped by the slider); the
        image and readout are redrawn once. Returns the decoded polymer, (beads, 2).
        """
        if alpha is not None:
            if not 0.0 <= alpha <= 1.0:
                raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
            z1, z2 = (1 - alpha) * self.z_pair[0] + alpha * self.z_pair[1]
        self.on_path = alpha is not None or (z1 is None and z2 is None and self.on_path)
        self.alpha.readout = self.on_path  # α's number is shown only while it describes the point
        self._syncing = True
        try:
            if alpha is not None and self.alpha.value != alpha:
                self.alpha.value = alpha
            if z1 is not None:
                self.z1.value = float(z1)
                self._z[0] = self.z1.value  # the slider clips to its range
            if z2 is not None:
                self.z2.value = float(z2)
                self._z[1] = self.z2.value
        finally:
            self._syncing = False
        return self._render()

    @property
    def z(self) -> np.ndarray:
        """The current latent point, shape (2,) (exact: the sliders show it rounded to their step)."""
        return self._z.copy()

    def decode(self, z) -> np.ndarray:
        """Decode one latent point, shape (2,), to a polymer, shape (beads, 2)."""
        with one_thread():
            return decode_conformations(self.model, np.reshape(z, (1, -1)))[0]

    def _render(self) -> np.ndarray:
        z = self.z
        polymer = self.decode(z)
        rg = float(radius_of_gyration(polymer))
        report = validity(polymer, self.reference)
        ok = bool(report.valid)
        colour = "C0" if ok else "C3"
        self._marker.set_data([z[0]], [z[1]])
        plots.move_polymer(self._polymer, polymer, color=colour)
        verdict = "valid" if ok else "INVALID"
        self._label.set_text(f"$R_g$ = {rg:.2f} {LENGTH_UNIT}\n{verdict}")
        self._label.set_color("black" if ok else "C3")
        self.canvas.restore_region(self._background)
        for artist in self._dynamic:
            self.fig.draw_artist(artist)
        self.image.value = _png(self.canvas)
        why = (
            f"bonds {report.bond_min:.2f}–{report.bond_max:.2f} {LENGTH_UNIT} (data {self.reference.bond_min:.2f}–"
            f"{self.reference.bond_max:.2f}), closest contact {report.contact_min:.2f} {LENGTH_UNIT} "
            f"(data ≥ {self.reference.contact_min:.2f})"
        )
        style = "" if ok else ' style="color:#d62728"'
        where = f"α = {self.alpha.value:.2f}" if self.on_path else "off the α path"
        self.readout.value = (
            f"<span{style}>z = ({z[0]:.2f}, {z[1]:.2f}) · R_g = {rg:.2f} {LENGTH_UNIT} · "
            f"<b>{verdict}</b></span> · {where} · <small>{why}</small>"
        )
        self.polymer, self.rg, self.report = polymer, rg, report
        return polymer

    # ------------------------------------------------------------------ fallback
    def static_figure(self, n=7):
        """Decoded polymers over an n x n grid, over the training codes and the shading of
        invalid regions (a pyplot Figure, see ``plots.latent_atlas``). The grid spans the
        central 99% of the codes on each axis (the sliders also reach the sparse outliers)."""
        lo, hi = np.percentile(self.codes, [0.5, 99.5], axis=0)
        lo, hi = np.floor(lo * 2) / 2, np.ceil(hi * 2) / 2
        return plots.latent_atlas(
            self.model, self.reference, codes=self.codes, extent=(lo[0], hi[0], lo[1], hi[1]), n=n
        )


def _label_sweep(ax, betas, kl, recon, *, prefix, fontsize):
    """Label each point of a rate-distortion curve with its beta (models at the same point share
    a label): right of the point on the steep part, alternately above and below it, centred, on
    the crowded flat part (distortion near its floor)."""
    labels = {}
    for b, k_, r_ in zip(betas, kl, recon):
        labels.setdefault((round(k_, 1), round(r_, 2)), []).append(f"{b:g}")
    floor = min(recon)
    flat = [key for key in labels if key[1] < 1.15 * floor]
    for (k_, r_), bs in labels.items():
        if (k_, r_) in flat:
            up = flat.index((k_, r_)) % 2 == 0
            xytext, ha, va = (0, 8) if up else (0, -9), "center", "bottom" if up else "top"
        else:
            xytext, ha, va = (6, 0), "left", "center"
        ax.annotate(
            prefix + ", ".join(bs), (k_, r_), textcoords="offset points", fontsize=fontsize, xytext=xytext, ha=ha, va=va
        )


def _plain_log_ticks(ax, recon):
    """A log y axis labelled with plain decimals (0.2, 0.5, 1) instead of powers of ten, with room
    below the lowest point for the labels under it."""
    ax.set_ylim(min(recon) / 1.25, max(recon) * 1.25)
    ax.set_yticks([0.15, 0.2, 0.3, 0.5, 1.0], ["0.15", "0.2", "0.3", "0.5", "1"])
    ax.yaxis.set_minor_formatter(NullFormatter())


SAMPLE_COLOURS = ("C0", "C1", "C2", "C4", "C6")  # one per prior sample; no red, which marks invalid polymers


class BetaExplorer(_Explorer):
    """A slider over beta: latent map, reconstructions, prior samples and the rate-distortion point.

    Args:
        data: held-out conformations, (n, 24) or (n, 12, 2): encoded for the latent map
            (coloured by R_g) and reconstructed.
        sweep: list of (beta, model, result) as returned by ``helpers.load_beta_sweep()``
            (the default); ``result`` holds ``test_recon`` and ``test_kl``.
        beta: the initially selected beta (default: the one closest to 1).
        n_map, n_show: frames on the latent map; reconstructions and samples shown.
        prerender: draw every beta's frame now (~0.05 s each), so that no slider event
            has to draw; otherwise each frame is drawn on its first visit.

    Each beta's frame is drawn once (artists updated in place) and then cached, so moving
    the slider back and forth costs only sending the PNG.
    """

    box_class = "polymer-beta-explorer"

    def __init__(self, data, sweep=None, *, beta=None, n_map=2000, n_show=3, seed=0, dpi=72, prerender=True):
        x = _as_float_tensor(data)
        sweep = load_beta_sweep() if sweep is None else list(sweep)
        if not sweep:
            raise ValueError("sweep is empty: expected a list of (beta, model, result)")
        self.betas = [float(b) for b, _, _ in sweep]
        self.results = [dict(r) for _, _, r in sweep]
        rng = np.random.default_rng(seed)
        subset = rng.permutation(len(x))[: min(n_map, len(x))]
        x_map = x[subset]
        shown = x_map[:n_show]
        eps = torch.as_tensor(rng.standard_normal((n_show, 2)), dtype=torch.float32)
        self.rg = radius_of_gyration(x_map.numpy())
        self.codes, self.recons, self.samples = [], [], []
        with torch.no_grad():
            for _, model, _ in sweep:
                model.eval()
                device = next(model.parameters()).device
                mu = model.encode(x_map.to(device))[0]
                self.codes.append(mu.cpu().numpy())
                self.recons.append(model.decode(mu[:n_show]).cpu().numpy().reshape(n_show, -1, 2))
                self.samples.append(model.decode(eps.to(device)).cpu().numpy().reshape(n_show, -1, 2))
        self.originals = shown.numpy().reshape(n_show, -1, 2)
        self.input_dim = x.shape[1]  # result["test_recon"] is summed over these coordinates
        self._cache: dict[float, tuple[bytes, str]] = {}
        self._build_figure(n_show, dpi)
        if beta is None:
            beta = min(self.betas, key=lambda b: abs(np.log10(b)))
        if beta not in self.betas:
            raise ValueError(f"beta must be one of {self.betas}, got {beta}")
        self.slider = widgets.SelectionSlider(
            options=[(f"{b:g}", b) for b in self.betas],
            value=beta,
            description="β",
            continuous_update=True,
            layout=widgets.Layout(width="420px"),
        )
        self.slider.add_class("beta-slider")
        self._syncing = False
        self.slider.observe(self._on_beta, names="value")
        self.widget = widgets.VBox([self.slider, self.readout, self.image])
        self.widget.add_class(self.box_class)
        if prerender:
            for b in self.betas:
                self._cache[b] = self._draw(self.betas.index(b))
        self.update(beta)

    def _build_figure(self, n_show, dpi):
        fig = Figure(figsize=(12, 4.2), dpi=dpi, layout="constrained")
        grid = fig.add_gridspec(2, n_show + 3, width_ratios=(2.2, 0.1, *([1] * n_show), 2.2))
        self._ax_map = fig.add_subplot(grid[:, 0])
        self._scatter = plots.latent_map(self._ax_map, self.codes[0], self.rg, s=3, colorbar=False)
        self._ax_map.set_aspect("equal", adjustable="box")
        for radius in (1, 2):
            self._ax_map.add_patch(Circle((0, 0), radius, fill=False, ls="--", lw=1, color="0.4"))
        self._ax_map.set_title(
            "latent map · circles: prior 1, 2 sd\n(axes widen when codes spread further)", fontsize=9
        )
        fig.colorbar(self._scatter, ax=self._ax_map, label=f"$R_g$ ({LENGTH_UNIT})", shrink=0.8)
        lim = plots.DEFAULT_LIM
        self._rec_lines, self._smp_lines = [], []
        for k in range(n_show):
            for row, store in ((0, self._rec_lines), (1, self._smp_lines)):
                ax = fig.add_subplot(grid[row, 2 + k])
                ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xticks=[], yticks=[], aspect="equal")
                if row == 0:
                    plots.draw_polymer(ax, self.originals[k], color="0.7", show_ends=False)
                store.append(
                    plots.draw_polymer(ax, np.zeros((self.originals.shape[1], 2)), color="C0" if row == 0 else "C1")
                )
                if k == 0:
                    ax.set_ylabel("reconstruction\n(gray: input)" if row == 0 else "sample\nz ~ N(0, I)", fontsize=9)
        self._ax_rd = fig.add_subplot(grid[:, -1])
        kl, recon = self._rate_distortion()
        self._ax_rd.plot(kl, recon, "o-", color="0.5", ms=4)
        _label_sweep(self._ax_rd, self.betas, kl, recon, prefix="", fontsize=7)
        # the current model: black ring (red marks invalid polymers in this course)
        (self._rd_point,) = self._ax_rd.plot([kl[0]], [recon[0]], "o", color="k", mfc="none", ms=12, mew=2)
        self._ax_rd.set(
            xlabel="rate: KL (nats)",
            ylabel=f"distortion: error per coordinate (({LENGTH_UNIT})²)",
            title="rate–distortion (test set)",
            yscale="log",
        )
        _plain_log_ticks(self._ax_rd, recon)
        self._ax_rd.title.set_fontsize(9)
        self._title = fig.suptitle(f"β = 0.0001   KL = 00.00 nats   error per coordinate = 0.000 ({LENGTH_UNIT})²")
        self._init_canvas(fig)
        # everything but the latent map (its limits follow beta) and the moving artists is
        # static: draw it once, with the layout, then freeze the layout and keep it as background
        self._dynamic = [self._ax_map, self._rd_point, self._title, *sum(self._rec_lines + self._smp_lines, [])]
        for artist in self._dynamic:
            artist.set_animated(True)
        self.canvas.draw()
        fig.set_layout_engine("none")
        self._background = self.canvas.copy_from_bbox(fig.bbox)

    def _on_beta(self, change):
        if not self._syncing:
            self.update(change["new"])

    def update(self, beta):
        """Show the model trained at ``beta`` (one of ``self.betas``); the slider follows."""
        beta = float(beta)
        if beta not in self.betas:
            raise ValueError(f"beta must be one of {self.betas}, got {beta}")
        if beta not in self._cache:
            self._cache[beta] = self._draw(self.betas.index(beta))
        png, html = self._cache[beta]
        self._syncing = True
        try:
            self.slider.value = beta
        finally:
            self._syncing = False
        self.image.value = png
        self.readout.value = html
        self.beta = beta

    def _draw(self, i) -> tuple[bytes, str]:
        """Update the artists for sweep entry ``i``, redraw, encode. Returns (png, readout html)."""
        mu, result = self.codes[i], self.results[i]
        self._scatter.set_offsets(mu)
        half = max(3.0, float(np.percentile(np.abs(mu), 99.5)) * 1.1)
        self._ax_map.set(xlim=(-half, half), ylim=(-half, half))
        for lines, polymers in ((self._rec_lines, self.recons[i]), (self._smp_lines, self.samples[i])):
            for artists, r in zip(lines, polymers):
                plots.move_polymer(artists, r)
        self._rd_point.set_data([result["test_kl"]], [result["test_recon"] / self.input_dim])
        spread = float(np.mean(mu.std(0)))
        if result["test_kl"] < 0.1:
            note = "posterior collapse: KL ≈ 0, the decoder ignores z"
        elif result["test_kl"] < 1.0:
            note = "near posterior collapse: the codes carry < 1 nat"
        else:
            note = ""
        error = result["test_recon"] / self.input_dim
        self._title.set_text(
            f"β = {self.betas[i]:g}   KL = {result['test_kl']:.2f} nats   "
            f"error per coordinate = {error:.3f} ({LENGTH_UNIT})²   {note}"
        )
        self.canvas.restore_region(self._background)
        for artist in self._dynamic:
            self.fig.draw_artist(artist)
        html = (
            f"β = {self.betas[i]:g} · KL = {result['test_kl']:.2f} nats · error per coordinate = "
            f"{error:.3f} ({LENGTH_UNIT})² · spread of codes {spread:.2f}" + (f" · <b>{note}</b>" if note else "")
        )
        return _png(self.canvas), html

    def _rate_distortion(self):
        """Rate (nats per conformation) and distortion (squared error per coordinate) of each model."""
        return ([r["test_kl"] for r in self.results], [r["test_recon"] / self.input_dim for r in self.results])

    def static_figure(self, betas=None):
        """The sweep at once (a pyplot Figure): the rate-distortion curve, then per beta its
        latent map (coloured by R_g, prior circles on top) and one row per prior sample: the same
        z ~ N(0, I) decoded by every model, one polymer per panel (identical down a column = collapse).
        ``betas``: the columns shown (default: every beta; fewer give larger, readable panels)."""
        import matplotlib.pyplot as plt

        shown = [i for i, b in enumerate(self.betas) if betas is None or b in betas]
        n, n_show, w = len(shown), len(self.samples[0]), max(1.5, 9 / len(shown))
        fig = plt.figure(figsize=(w * n + 1, 3.2 + 1.4 * w / 1.5 * (1 + n_show)), layout="constrained")
        grid = fig.add_gridspec(
            2 + n_show, n + 1, height_ratios=(1.6, 1.2, *([1] * n_show)), width_ratios=(*([1] * n), 0.12)
        )
        ax_rd = fig.add_subplot(grid[0, :n])
        kl, recon = self._rate_distortion()
        ax_rd.plot(kl, recon, "o-")
        _label_sweep(ax_rd, self.betas, kl, recon, prefix="β=", fontsize=8)
        ax_rd.set(
            xlabel="rate: KL (nats)",
            ylabel=f"distortion: error per\ncoordinate (({LENGTH_UNIT})²)",
            yscale="log",
            title="Rate–distortion of the β sweep (test set)",
        )
        _plain_log_ticks(ax_rd, recon)
        lim = plots.DEFAULT_LIM
        for j, i in enumerate(shown):
            beta = self.betas[i]
            ax = fig.add_subplot(grid[1, j])
            mu = self.codes[i]
            points = ax.scatter(mu[:, 0], mu[:, 1], c=self.rg, s=1, cmap="viridis", rasterized=True, zorder=1)
            half = max(3.0, float(np.percentile(np.abs(mu), 99.5)) * 1.1)
            ax.add_patch(Circle((0, 0), 2, fill=False, ls="--", lw=1, color="k", zorder=3))
            ax.set(xlim=(-half, half), ylim=(-half, half), aspect="equal", title=f"β = {beta:g}")
            ax.tick_params(labelsize=7)
            if j == 0:
                ax.set_ylabel("latent map\n($z_1$ →, $z_2$ ↑)")
            for k in range(n_show):
                ax_s = fig.add_subplot(grid[2 + k, j])
                plots.draw_polymer(ax_s, self.samples[i][k], color=SAMPLE_COLOURS[k % len(SAMPLE_COLOURS)])
                ax_s.set(xlim=(-lim, lim), ylim=(-lim, lim), xticks=[], yticks=[])
                if j == 0:
                    ax_s.set_ylabel(f"sample {k + 1}\n(same z in\nthe whole row)", fontsize=8)
        fig.colorbar(points, cax=fig.add_subplot(grid[1, n]), label=f"$R_g$ ({LENGTH_UNIT})")
        return fig


__all__ = ["BetaExplorer", "LatentExplorer"]
