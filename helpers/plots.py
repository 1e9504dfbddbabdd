"""Figures used by every notebook: polymers, latent maps, loss curves, distributions.

Conformations may be numpy arrays or torch tensors, shaped (beads, 2) or flattened
(2 * beads,) for one polymer, and (n, beads, 2) or (n, 2 * beads) for several.
All lengths are in bead diameters (the length unit of the simulation, written "bead diam." in labels).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.collections import EllipseCollection
from matplotlib.colors import to_rgba
from matplotlib.patches import Ellipse
from matplotlib.ticker import LogFormatter
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from .measures import (
    ValidityReference,
    as_coordinates,
    bond_lengths,
    end_to_end_distance,
    min_nonbonded_distance,
    pairwise_distances,
    radius_of_gyration,
    validity,
    why_invalid,
)
from .models import decode_conformations, validity_grid

LENGTH_UNIT = "bead diam."  # the length unit: one bead diameter (the Lennard-Jones diameter)
DEFAULT_LIM = 6.0  # preprocessed conformations fit in [-6, 6] bead diameters (largest |coordinate| ~5.6)


def to_numpy(x) -> np.ndarray:
    """A numpy float array from numpy, torch (detached, on CPU) or a list."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


def numpy_coordinates(x, name="conformations") -> np.ndarray:
    """Conformations, numpy or torch, flat (..., 2 * beads) or not, as numpy (..., beads, 2)."""
    return to_numpy(as_coordinates(x, name))


INVALID_SHADE = "0.8"  # latent points that decode invalid (validity_map's default, latent_atlas)
BEAD_DIAMETER = 1.0  # beads are drawn as circles of this diameter: the length unit itself


def _bead_colors(color, alpha):
    """Face (translucent, so that overlaps show darker) and edge colours of a polymer's beads."""
    return to_rgba(color, 0.35 * alpha), to_rgba(color, alpha)


def _polymer_artists(ax, r, *, diameter, color, alpha, label, show_ends, lw=1.0, zorder=2.0) -> list:
    """Bonds, beads (circles of ``diameter`` in data units) and the open first bead of ``r``."""
    face, edge = _bead_colors(color, alpha)
    (bonds,) = ax.plot(
        r[:, 0], r[:, 1], "-", color=color, alpha=alpha, label=label, linewidth=1.3 * lw, zorder=zorder + 0.2
    )
    circles = dict(widths=diameter, heights=diameter, angles=0.0, units="xy", offset_transform=ax.transData)
    beads = EllipseCollection(
        offsets=r, facecolors=face, edgecolors=edge, linewidths=0.8 * lw, zorder=zorder, **circles
    )
    ax.add_collection(beads, autolim=False)
    artists = [bonds, beads]
    if show_ends:
        start = EllipseCollection(
            offsets=r[:1], facecolors="white", edgecolors=edge, linewidths=1.6 * lw, zorder=zorder + 0.1, **circles
        )
        ax.add_collection(start, autolim=False)
        artists.append(start)
    # autoscaling sees whole circles, not only their centres
    ax.update_datalim(np.concatenate([r - diameter / 2, r + diameter / 2]))
    ax.autoscale_view()
    return artists


def _polymer_line(ax, r, *, color, alpha, label, show_ends, zorder=2.0) -> list:
    """The chain of ``r`` as a line with small dots at the bead centres, bead 1 an open dot."""
    (line,) = ax.plot(
        r[:, 0], r[:, 1], "-o", color=color, alpha=alpha, label=label, lw=1.4, ms=3.5, zorder=zorder + 0.2
    )
    artists = [line]
    if show_ends:
        (start,) = ax.plot(
            r[:1, 0],
            r[:1, 1],
            "o",
            color=color,
            mfc="white",
            mec=color,
            mew=1.3,
            ms=5.5,
            alpha=alpha,
            zorder=zorder + 0.3,
        )
        artists.append(start)
    return artists


def draw_polymer(ax, coords, *, color="C0", alpha=1.0, label=None, show_ends=True, beads=True) -> list:
    """Draw one polymer on ``ax``: beads as circles of one bead diameter, bonds between their centres.

    The beads are circles of diameter 1 in data units (the length unit is the bead diameter),
    filled translucently, so that two beads closer than 1 visibly overlap (darker where they
    do); the bonds are lines between the centres; the axes get equal aspect.

    Args:
        coords: (beads, 2) or (2 * beads,), numpy or torch, in bead diameters.
        show_ends: draw bead 1 as an open (white-filled) circle (chain direction).
        beads: False draws a line with small dots at the bead centres instead of circles: for
            overlays of several polymers, where whole beads would merge into one blob (the dots
            do not show overlaps; draw single polymers with beads for that).

    Returns the list of artists: the bonds (a Line2D through the centres), the beads (an
    ``EllipseCollection``), then bead 1 (another one) if ``show_ends``; with ``beads=False``
    the line (with its dots) and then bead 1 (a Line2D) if ``show_ends``. ``move_polymer``
    moves and recolours either kind.
    """
    r = numpy_coordinates(coords, "coords")
    if r.ndim != 2:
        raise ValueError(f"draw_polymer draws one conformation (beads, 2); got shape {r.shape}")
    if beads:
        artists = _polymer_artists(
            ax, r, diameter=BEAD_DIAMETER, color=color, alpha=alpha, label=label, show_ends=show_ends
        )
    else:
        artists = _polymer_line(ax, r, color=color, alpha=alpha, label=label, show_ends=show_ends)
    ax.set_aspect("equal")
    return artists


def move_polymer(artists, coords, *, color=None) -> None:
    """Move the artists of ``draw_polymer`` (with beads or not) to the conformation ``coords``
    (beads, 2), optionally recolouring them (the bead fill keeps its transparency, bead 1 stays
    white inside)."""
    r = numpy_coordinates(coords, "coords")
    if len(artists) < 2 or not isinstance(artists[1], EllipseCollection):  # drawn with beads=False
        line, *start = artists
        line.set_data(r[:, 0], r[:, 1])
        if start:
            start[0].set_data(r[:1, 0], r[:1, 1])
        if color is not None:
            line.set_color(color)
            if start:
                start[0].set_markeredgecolor(color)
        return
    bonds, beads, *start = artists
    bonds.set_data(r[:, 0], r[:, 1])
    beads.set_offsets(r)
    if start:
        start[0].set_offsets(r[:1])
    if color is not None:
        face, edge = _bead_colors(color, bonds.get_alpha() if bonds.get_alpha() is not None else 1.0)
        bonds.set_color(color)
        beads.set_facecolor(face)
        beads.set_edgecolor(edge)
        if start:
            start[0].set_edgecolor(edge)


def _whole_beads(r, lim):
    """A panel half-width that shows every bead of ``r`` whole (at least ``lim``)."""
    return max(lim, float(np.abs(r).max()) + 0.6 * BEAD_DIAMETER)


def polymer_row(conformations, titles=None, *, size=2.0, color="C0", lim=None, ncols=6):
    """Draw several polymers side by side on shared, fixed axes.

    Args:
        conformations: (n, beads, 2) or (n, 2 * beads), numpy or torch.
        titles: n strings (optional).
        size: inches per panel.
        lim: half-width of every panel in bead diameters (default: fits all, at least ``DEFAULT_LIM``;
            widened if needed, so that every bead shows whole).
        ncols: panels per row; more polymers wrap onto further rows.

    Returns the Figure (``polymer_grid`` with a roomier default ``lim``).
    """
    if lim is None:
        lim = _whole_beads(numpy_coordinates(conformations), DEFAULT_LIM)
    return polymer_grid(conformations, titles, size=size, color=color, lim=lim, ncols=ncols)


def polymer_grid(
    conformations, titles=None, *, reference=None, behind=None, row_labels=None, ncols=6, lim=None, size=2.0, color="C0"
):
    """Polymers in a grid of panels with shared axes, optionally judged for validity.

    Args:
        conformations: (n, beads, 2) or (n, 2 * beads), numpy or torch, in bead diameters.
        titles: n strings (optional).
        reference: a ``ValidityReference`` (or the training conformations): each polymer is
            checked with ``helpers.validity``; invalid ones are drawn red and their title ends
            with the reason, e.g. "✗ bond 0.54 < 0.69" (a bond of 0.54, shorter than the data allows).
        behind: (n, beads, 2) conformations drawn in grey under the others (e.g. the inputs
            of reconstructions).
        row_labels: one string per row, written above "y (bead diam.)" on the left.
        ncols: panels per row; lim: half-width of every panel (default: fits all, at least
            ``DEFAULT_LIM`` / 2; widened if needed, so that every bead shows whole); size: inches
            per panel.

    Beads are circles of one bead diameter (``draw_polymer``); the open circle marks bead 1.
    With a ``reference``, the beads of every non-bonded pair closer than the data's closest
    contact get a black rim. Returns the Figure (reasons from ``measures.why_invalid``).
    """
    r = numpy_coordinates(conformations)
    r = r[None] if r.ndim == 2 else r
    n = len(r)
    titles = [""] * n if titles is None else list(titles)
    if len(titles) != n:
        raise ValueError(f"got {len(titles)} titles for {n} conformations")
    shown = [r]
    if behind is not None:
        behind = numpy_coordinates(behind, "behind")
        if behind.shape != r.shape:
            raise ValueError(f"behind must have the shape of conformations {r.shape}, got {behind.shape}")
        shown.append(behind)
    cols = min(n, ncols)
    rows = math.ceil(n / cols)
    if row_labels is not None and len(row_labels) != rows:
        raise ValueError(f"got {len(row_labels)} row labels for {rows} rows")
    lim = max(_whole_beads(s, DEFAULT_LIM / 2 if lim is None else lim) for s in shown)
    colors = [color] * n
    too_close = [np.zeros(r.shape[1], bool)] * n  # beads in a non-bonded pair closer than the data's contacts
    if reference is not None:
        reference = reference if isinstance(reference, ValidityReference) else ValidityReference.from_data(reference)
        i, j = np.triu_indices(r.shape[1], k=2)
        for k in range(n):
            reason = why_invalid(validity(r[k], reference), reference)
            if reason:
                colors[k] = "C3"
                # a 9-pt title holds about 11 characters an inch: the reason goes on a second line if needed
                sep = "\n" if titles[k] and len(titles[k]) + len(reason) > 11 * size else " "
                titles[k] = f"{titles[k]}{sep}✗ {reason}".strip()
            close = pairwise_distances(r[k][None])[0, i, j] < reference.contact_min
            too_close[k] = np.isin(np.arange(r.shape[1]), np.concatenate([i[close], j[close]]))
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(size * cols, size * rows + 0.3),
        squeeze=False,
        sharex=True,
        sharey=True,
        constrained_layout=True,
    )
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.set_visible(False)
            continue
        if behind is not None:
            draw_polymer(ax, behind[k], color="0.65", show_ends=False)
        draw_polymer(ax, r[k], color=colors[k])
        if too_close[k].any():
            ax.add_collection(
                EllipseCollection(
                    widths=BEAD_DIAMETER,
                    heights=BEAD_DIAMETER,
                    angles=0.0,
                    units="xy",
                    offsets=r[k][too_close[k]],
                    offset_transform=ax.transData,
                    facecolors="none",
                    edgecolors="k",
                    linewidths=1.0,
                    zorder=2.5,
                ),
                autolim=False,
            )
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim))
        if titles[k]:
            ax.set_title(titles[k], fontsize=9, color="C3" if colors[k] == "C3" and reference is not None else "k")
    for ax in axes[-1]:
        ax.set_xlabel(f"x ({LENGTH_UNIT})")
    if any(close.any() for close in too_close):
        fig.supxlabel(
            f"black rim: a bead closer than the data's closest contact ({reference.contact_min:.2f} {LENGTH_UNIT}) "
            "to a non-bonded bead",
            fontsize=9,
            color="0.25",
        )
    for i, ax in enumerate(axes[:, 0]):
        ax.set_ylabel(f"y ({LENGTH_UNIT})" if row_labels is None else f"{row_labels[i]}\ny ({LENGTH_UNIT})")
    return fig


@torch.no_grad()
def latent_atlas(model, reference, *, codes=None, extent=(-3, 3, -3, 3), n=7, size=7.0):
    """Decoded polymers on an n x n grid of latent points, over the validity map and the codes.

    The static stand-in for the latent explorer: the background is shaded where the decoder's
    mean f_theta(z) fails ``helpers.validity`` (see ``validity_map``); ``codes`` (m, 2), e.g.
    the training frames' encoder means, are drawn as small dark dots; each grid polymer is
    shrunk to fit its cell (one scale for all, beads included: still circles of one bead
    diameter at that scale, so overlaps show; a scale bar shows one bead diameter), blue when
    valid and red when not, with bead 1 as an open circle. The invalid region is shaded
    ``INVALID_SHADE``, the gray of ``validity_map``'s default. ``extent`` = (z1_min, z1_max, z2_min, z2_max). Needs a 2-D latent space.

    Returns the Figure.
    """
    if model.latent_dim != 2:
        raise ValueError(f"latent_atlas needs a 2-D latent space, the model has {model.latent_dim}")
    x0, x1, y0, y1 = extent
    g1, g2 = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    zz = np.array([(a, b) for b in g2 for a in g1])
    polymers = decode_conformations(model, zz)
    ok = validity(polymers, reference).valid
    cell = min((x1 - x0), (y1 - y0)) / max(n - 1, 1)
    largest = float(np.abs(polymers).max()) + BEAD_DIAMETER / 2
    scale = 0.48 * cell / largest  # the largest polymer, beads included, fits its cell: none reaches a neighbour
    pad = 0.6 * cell
    fig, ax = plt.subplots(figsize=(size, size), constrained_layout=True)
    fraction = validity_map(
        ax, model, reference, extent=(x0 - pad, x1 + pad, y0 - pad, y1 + pad), n=81, color=INVALID_SHADE
    )
    if codes is not None:
        codes = to_numpy(codes)
        if codes.ndim != 2 or codes.shape[1] != 2:
            raise ValueError(f"codes must have shape (m, 2), got {codes.shape}")
        ax.scatter(codes[:, 0], codes[:, 1], s=1.5, color="0.25", alpha=0.35, linewidths=0, rasterized=True)
        ax.plot([], [], "o", color="0.25", ms=3, label="training codes")
    for z, r, good in zip(zz, polymers, ok):
        _polymer_artists(
            ax,
            z + scale * r,
            diameter=scale * BEAD_DIAMETER,
            color="C0" if good else "C3",
            alpha=1.0,
            label=None,
            show_ends=True,
            lw=0.6,
            zorder=3.0,
        )
    ax.set_aspect("equal")
    ax.plot([], [], "-o", color="C0", ms=4, mfc=_bead_colors("C0", 1.0)[0], label="decoder mean: valid")
    ax.plot([], [], "-o", color="C3", ms=4, mfc=_bead_colors("C3", 1.0)[0], label="decoder mean: invalid")
    ax.fill_between([], [], color=INVALID_SHADE, label=f"decodes invalid ({1 - fraction:.0%} of the plot)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, fontsize=8, frameon=False)
    ax.add_artist(
        AnchoredSizeBar(
            ax.transData,
            scale * BEAD_DIAMETER,
            f"1 {LENGTH_UNIT}",
            "lower left",
            pad=0.4,
            borderpad=0.3,
            size_vertical=scale * BEAD_DIAMETER / 6,
            frameon=True,
            fontproperties=dict(size=8),
        )
    )
    ax.set(
        xlim=(x0 - pad, x1 + pad),
        ylim=(y0 - pad, y1 + pad),
        xlabel="$z_1$",
        ylabel="$z_2$",
        title="Decoded polymers $f_\\theta(z)$ over the latent plane",
    )
    return fig


def latent_map(ax, z, values, *, label=f"$R_g$ ({LENGTH_UNIT})", cmap="viridis", s=3, colorbar=True):
    """Scatter latent codes coloured by a property, with a colorbar.

    Args:
        z: (n, 2) latent codes (e.g. encoder means), numpy or torch.
        values: (n,) property to colour by (default label: radius of gyration in bead diameters).

    Returns the scatter artist (a PathCollection).
    """
    z, values = to_numpy(z), to_numpy(values)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"z must have shape (n, 2), got {z.shape}")
    if values.shape != (len(z),):
        raise ValueError(f"values must have shape ({len(z)},), got {values.shape}")
    scatter = ax.scatter(z[:, 0], z[:, 1], c=values, cmap=cmap, s=s, linewidths=0, rasterized=True)
    if colorbar:
        ax.figure.colorbar(scatter, ax=ax, label=label)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_aspect("equal", adjustable="box")
    return scatter


def loss_curves(history):
    """Reconstruction and KL terms per epoch, train and test, from a ``helpers.History``.

    Returns the Figure (two panels: reconstruction, KL).
    """
    if not history.train_loss:
        raise ValueError("history is empty: train for at least one epoch")
    epochs = np.arange(1, history.epochs + 1)
    fig, (ax_r, ax_k) = plt.subplots(1, 2, figsize=(9, 3.2), constrained_layout=True)
    ax_r.plot(epochs, history.train_recon, label="train")
    ax_k.plot(epochs, history.train_kl, label="train")
    if history.test_recon:
        ax_r.plot(epochs, history.test_recon, label="test")
        ax_k.plot(epochs, history.test_kl, label="test")
    ax_r.set(
        xlabel="epoch", ylabel=f"reconstruction (squared error, ({LENGTH_UNIT})²)", title="Reconstruction", yscale="log"
    )
    ax_k.set(xlabel="epoch", ylabel="KL (nats)", title=r"KL$(q_\phi(z\mid x)\,\|\,p(z))$")
    ax_r.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))  # plain numbers (3, 10, 40), not 4 x 10^1
    ax_r.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    for ax in (ax_r, ax_k):
        ax.legend()
    return fig


def compare_distributions(data, samples, labels=("data", "samples"), bins=40, *, reference=None):
    """Histograms of bond lengths, non-bonded distances, R_g and end-to-end distance.

    Args:
        data, samples: (n, beads, 2) or (n, 2 * beads), numpy or torch; n may differ.
        reference: a ``ValidityReference`` (optional): shades the bond lengths outside its range
            and the non-bonded distances below its closest contact (in red: what fails ``validity``).
    Returns the Figure (four panels, densities per bead diameter, lengths in bead diameters;
    data filled, samples as an outline).
    """
    sets = [numpy_coordinates(data, "data"), numpy_coordinates(samples, "samples")]
    n_beads = sets[0].shape[-2]
    i, j = np.triu_indices(n_beads, k=2)
    measures = [
        ("bond length", lambda r: bond_lengths(r).ravel()),
        ("non-bonded distance", lambda r: pairwise_distances(r)[:, i, j].ravel()),
        ("$R_g$", radius_of_gyration),
        ("end-to-end distance", end_to_end_distance),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(13, 3), constrained_layout=True)
    for ax, (name, f) in zip(axes, measures):
        values = [f(r) for r in sets]
        edges = np.histogram_bin_edges(np.concatenate(values), bins=bins)
        ax.hist(values[0], bins=edges, density=True, alpha=0.45, color="C0", label=labels[0])
        ax.hist(values[1], bins=edges, density=True, histtype="step", lw=1.6, color="C1", label=labels[1])
        ax.set(xlabel=f"{name} ({LENGTH_UNIT})", ylabel=f"density (1/{LENGTH_UNIT})")
    if reference is not None:
        shade = dict(color="C3", alpha=0.12, lw=0)
        (lo_b, hi_b), (lo_c, hi_c) = axes[0].get_xlim(), axes[1].get_xlim()
        axes[0].axvspan(lo_b, reference.bond_min, **shade)
        axes[0].axvspan(
            reference.bond_max, hi_b, **shade, label=f"outside {reference.bond_min:.2f}-{reference.bond_max:.2f}"
        )
        axes[1].axvspan(lo_c, reference.contact_min, **shade, label=f"closer than {reference.contact_min:.2f}")
        axes[0].set_xlim(lo_b, hi_b)
        axes[1].set_xlim(lo_c, hi_c)
        axes[1].legend(fontsize=8)
    axes[0].legend(fontsize=8)
    return fig


# ----------------------------------------------------------------------------- physical checks
# (notebooks 5 and 6: is a decoded or optimised polymer inside the data's support?)


def support_check(data, candidates, labels=None, *, reference=None, colors=None):
    """Bond lengths and closest contacts of a few candidates against the data's histograms.

    Left: all bond lengths of ``data``; each candidate's bonds are marked as ticks on its own
    row above the histogram. Right: each data frame's closest non-bonded contact; each
    candidate's closest contact is a vertical line. Values outside the limits of
    ``reference`` (a ``ValidityReference``, default derived from ``data``) are shaded red.

    Args:
        data: (n, beads, 2) or (n, 2 * beads) training conformations.
        candidates: (k, beads, 2) or (k, 2 * beads), or one conformation.
        labels: k strings for the legend.
    Returns the Figure.
    """
    r = numpy_coordinates(data, "data")
    c = numpy_coordinates(candidates, "candidates")
    c = c[None] if c.ndim == 2 else c
    labels = [f"candidate {k + 1}" for k in range(len(c))] if labels is None else list(labels)
    if len(labels) != len(c):
        raise ValueError(f"got {len(labels)} labels for {len(c)} candidates")
    colors = [f"C{k + 1}" for k in range(len(c))] if colors is None else list(colors)
    reference = ValidityReference.from_data(r) if reference is None else reference
    fig, (ax_b, ax_c) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    data_bonds, data_contacts = bond_lengths(r).ravel(), min_nonbonded_distance(r)
    cand_bonds, cand_contacts = bond_lengths(c), min_nonbonded_distance(c)
    lo = min(data_bonds.min(), cand_bonds.min(), data_contacts.min(), cand_contacts.min(), 0.0)
    ax_b.hist(data_bonds, bins=60, density=True, color="0.6", label="data (all bonds)")
    top = ax_b.get_ylim()[1]
    for k, (bonds, lab, col) in enumerate(zip(cand_bonds, labels, colors)):
        y = top * (1.08 + 0.12 * k)
        ax_b.plot(bonds, np.full_like(bonds, y), "|", ms=12, mew=2, color=col, label=lab)
    ax_b.set_ylim(0, top * (1.15 + 0.12 * len(c)))
    ax_b.axvspan(lo - 0.05, reference.bond_min, color="C3", alpha=0.12, lw=0)
    ax_b.axvspan(
        reference.bond_max,
        max(data_bonds.max(), cand_bonds.max()) + 0.05,
        color="C3",
        alpha=0.12,
        lw=0,
        label="outside the data's range",
    )
    ax_b.set(xlabel=f"bond length ({LENGTH_UNIT})", ylabel="density", title="Bonds")
    ax_c.hist(data_contacts, bins=60, density=True, color="0.6", label="data (closest per frame)")
    for contact, lab, col in zip(cand_contacts, labels, colors):
        ax_c.axvline(contact, color=col, lw=2, label=f"{lab}: {contact:.2f} {LENGTH_UNIT}")
    ax_c.axvspan(lo - 0.05, reference.contact_min, color="C3", alpha=0.12, lw=0, label="closer than the data")
    ax_c.set(xlabel=f"closest non-bonded distance ({LENGTH_UNIT})", ylabel="density", title="Contacts")
    for ax in (ax_b, ax_c):
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    return fig


def validity_map(ax, model=None, reference=None, *, extent=(-3, 3, -3, 3), n=121, color=INVALID_SHADE, grid=None):
    """Shade the latent points whose decoded polymer is invalid (``helpers.validity``).

    Decodes an n x n grid over ``extent`` = (z1_min, z1_max, z2_min, z2_max), or reuses a
    ``grid`` from ``models.validity_grid`` (then model, reference, extent and n are not needed);
    invalid regions are filled with ``color`` and outlined. Draw it before scatters and paths.
    ``ax`` may be one Axes or a sequence of them: the grid is decoded once and drawn in each.
    Returns the fraction of grid points that decode to a valid polymer.
    """
    if grid is None:
        if model is None or reference is None:
            raise ValueError("validity_map needs model and reference, or a grid from validity_grid")
        grid = validity_grid(model, reference, extent=extent, n=n)
    g1, g2, valid = grid
    valid = np.asarray(valid, dtype=float)
    extent = (g1[0], g1[-1], g2[0], g2[-1])
    for one in np.atleast_1d(ax).flat:
        if 0 < valid.mean() < 1:  # (contouring a constant field would warn)
            one.contourf(g1, g2, valid, levels=[-0.5, 0.5], colors=[color])
            one.contour(g1, g2, valid, levels=[0.5], colors=["0.45"], linewidths=0.8)
        elif valid.mean() == 0:
            one.axvspan(*extent[:2], color=color, lw=0)
        one.set(xlim=extent[:2], ylim=extent[2:], xlabel="$z_1$", ylabel="$z_2$")
    return float(valid.mean())


# log10 of a 2-D Gaussian's density at 2 and at 1 standard deviation, relative to its peak (-0.87, -0.22)
SD_LEVELS = (-2.0 / math.log(10), -0.5 / math.log(10))


def posterior_panel(ax, grid, i, gaussians=(), *, floor=1e-5, contours=False):
    """The true posterior p(z|x_i) of ``grid`` (a ``helpers.posterior.GridPosterior``) as a gray
    image (log10 relative to its peak, darker = more probable), with Gaussians drawn on top.

    Args:
        gaussians: (mu, sigma, color, label) tuples, mu and sigma of shape (2,): each drawn as
            ellipses at 1 (solid) and 2 (dashed) standard deviations with a "+" at mu.
        contours: also outline the posterior in white where its density has fallen, relative to
            its peak, as far as a Gaussian's does at 1 sd (solid, log10 = -0.22) and 2 sd (dashed,
            -0.87): the curves to compare with the ellipses (the gray scale reaches ``floor``).
    Zooms to the posterior and the Gaussians; returns the image artist (for a colorbar).
    """
    image, extent = grid.image(i, floor)
    dots = ax.imshow(image, origin="lower", extent=extent, cmap="Greys", vmin=-5, vmax=0, interpolation="nearest")
    if contours:
        rows, cols = image.shape
        zx = np.linspace(extent[0], extent[1], 2 * cols + 1)[1::2]  # pixel centres
        zy = np.linspace(extent[2], extent[3], 2 * rows + 1)[1::2]
        ax.contour(
            zx,
            zy,
            np.nan_to_num(image, nan=-10.0),
            levels=SD_LEVELS,
            colors="w",
            linewidths=1.2,
            linestyles=["--", "-"],
        )
    lo, hi = np.array(extent[::2]), np.array(extent[1::2])
    for mu, sigma, color, label in gaussians:
        mu, sigma = to_numpy(mu), to_numpy(sigma)
        for k in (1, 2):
            ax.add_patch(
                Ellipse(
                    mu, 2 * k * sigma[0], 2 * k * sigma[1], fill=False, color=color, lw=2, ls="-" if k == 1 else "--"
                )
            )
        ax.plot(*mu, "+", color=color, ms=12, mew=2, label=label)
        lo, hi = np.minimum(lo, mu - 3 * sigma), np.maximum(hi, mu + 3 * sigma)
    center, half = (lo + hi) / 2, 0.6 * float((hi - lo).max()) + 0.02
    ax.set(
        xlim=(center[0] - half, center[0] + half),
        ylim=(center[1] - half, center[1] + half),
        xlabel="$z_1$",
        ylabel="$z_2$",
        aspect="equal",
    )
    return dots
