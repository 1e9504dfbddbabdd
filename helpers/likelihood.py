"""p_theta(x|z) for a polymer in internal coordinates: bond lengths and turning angles, bond by bond.

A conformation of B beads is, up to its position, B - 1 bonds: lengths l_i and directions
theta_i in the aligned frame (``measures.internal_coordinates``). ``ChainLikelihood`` grows the
chain one bond at a time and gives each bond a probability:

    log p_theta(x|h) = sum_i [ log N(l_i; m_i, s_i^2) + log P(phi_i in its bin) - log(bin width) ]

with phi_i = theta_i - theta_(i-1) the turning angle (theta_(-1) = 0, so the first bond's angle
is its direction in the aligned frame), a Gaussian bond length, and a turn drawn from
``TURN_BINS`` bins of equal width (uniform inside a bin):

    P(phi_i in bin b) = softmax_b( a_ib + u(d_ib) )

h is the code z (with a conditional model's c appended). A network sees h and the beads placed
so far, rotated into the frame of the last bond, and outputs m_i, s_i and the scores a_ib. The
second term makes overlaps learnable: d_ib is the distance from the bead that bin b would place
(at the bond's length l_i) to the closest bead already placed, and u is a learned function of
that distance (piecewise linear between ``CONTACT_KNOTS``, 0 beyond): trained on the data, it
learns that beads closer than about one diameter almost never occur, which independent noise on
each bond cannot express. The data never show such a contact, so maximum likelihood wants u
there as low as it can go, and only the optimiser's step size limits how far u gets in a short
training (Adam moves a parameter by at most about lr per step: a few nats in 40 epochs). u is
therefore stored in units of ``CONTACT_SCALE`` nats, which lets it fall as far as the data ask.
Lengths are in bead diameters, angles in radians, log-likelihoods in nats (a density over the
2 (B - 1) internal coordinates). ``sample_von_mises`` draws the
bending angles of ``generation.worm_like_chain``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .layers import mlp
from .measures import as_coordinates, internal_coordinates

TURN_BINS = 120  # turning angles are binned in 3-degree steps
CONTACT_KNOTS = torch.linspace(0.5, 2.5, 41)  # bead diameters: where the learned pair term u(d) is tabulated
CONTACT_SCALE = 10.0  # nats per unit of the stored parameter ``contact`` (u = CONTACT_SCALE * contact at the knots)
_TWO_PI = 2 * math.pi


def wrap_angle(a: torch.Tensor) -> torch.Tensor:
    """Angles mapped into [-pi, pi)."""
    return torch.remainder(a + math.pi, _TWO_PI) - math.pi


def sample_von_mises(mu: torch.Tensor, kappa: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw per element of the von Mises distributions (mu, kappa): Best and Fisher's (1979) rejection sampler.

    The uniform numbers come from ``generator`` (CPU; torch's global one if None), so a seeded
    generator gives the same angles on every device. Returns float64 on the CPU, in [-pi, pi).
    """
    mu, kappa = mu.detach().double().cpu(), kappa.detach().double().cpu()
    tau = 1.0 + torch.sqrt(1.0 + 4.0 * kappa**2)
    rho = (tau - torch.sqrt(2.0 * tau)) / (2.0 * kappa)
    r = (1.0 + rho**2) / (2.0 * rho)
    out = torch.zeros_like(mu)
    todo = torch.ones_like(mu, dtype=torch.bool)
    while todo.any():
        u = torch.rand(3, int(todo.sum()), generator=generator, dtype=torch.float64)
        rk, kk = r[todo], kappa[todo]
        cos_t = torch.cos(math.pi * u[0])
        f = (1.0 + rk * cos_t) / (rk + cos_t)
        c = kk * (rk - f)
        accept = (c * (2.0 - c) - u[1] > 0) | (torch.log(c / u[1]) + 1.0 - c >= 0)
        angle = torch.sign(u[2] - 0.5) * torch.acos(f.clamp(-1.0, 1.0))
        idx = todo.nonzero(as_tuple=True)
        out[tuple(i[accept] for i in idx)] = angle[accept]
        todo[tuple(i[accept] for i in idx)] = False
    return wrap_angle(out + mu)


class ChainLikelihood(nn.Module):
    """p_theta(x|h) over conformations of ``n_beads`` beads, grown bond by bond (see the module docstring).

    ``log_prob(x, h)``: x (batch, 2 * beads) or (batch, beads, 2), h (batch, in_dim) -> (batch,) nats.
    ``sample(h, generator)``: one draw per row of h, (batch, beads, 2), centred, bead diameters.
    ``forward(h)``: the mean chain, flattened (batch, 2 * beads): at each bond the mean length
    and the circular mean of the turn, atan2(E sin phi, E cos phi) (a point estimate,
    differentiable in h, like a Gaussian decoder's mean; it is what ``PolymerVAE.decode`` returns).
    ``contact_term(d)``: the learned pair term u(d) (see the module docstring) at distances d.
    """

    def __init__(self, in_dim: int, hidden_dims, n_beads: int, bins: int = TURN_BINS):
        super().__init__()
        self.n_beads, self.n_bonds, self.bins = n_beads, n_beads - 1, bins
        # context per bond: the beads so far in the last bond's frame (2 * beads), the
        # direction of the last bond (cos, sin) and which bond this is (one-hot)
        context = 2 * n_beads + 2 + self.n_bonds
        self.net = mlp([in_dim + context, *hidden_dims, 2 + bins])
        self.contact = nn.Parameter(torch.zeros(len(CONTACT_KNOTS)))  # u / CONTACT_SCALE at the knots
        self.register_buffer("turn_centres", -math.pi + (torch.arange(bins) + 0.5) * (_TWO_PI / bins))

    def contact_term(self, d: torch.Tensor) -> torch.Tensor:
        """The learned pair term u(d) (nats), piecewise linear between ``CONTACT_KNOTS``, 0 beyond them."""
        knots = CONTACT_KNOTS.to(d.device, d.dtype)
        values = torch.cat([CONTACT_SCALE * self.contact, self.contact.new_zeros(1)]).to(d.dtype)
        step = knots[1] - knots[0]
        t = ((d - knots[0]) / step).clamp(0.0, len(knots))
        k = t.floor().clamp(max=len(knots) - 1).long()
        frac = t - k
        return values[k] * (1 - frac) + values[k + 1] * frac

    def _context(self, r: torch.Tensor, i: int, heading: torch.Tensor) -> torch.Tensor:
        """Beads 0..i relative to bead i, rotated by -heading (later beads zero), cos/sin heading, one-hot i."""
        rel = (r - r[:, i : i + 1]) * (torch.arange(self.n_beads, device=r.device) <= i).to(r.dtype)[None, :, None]
        c, s = torch.cos(heading)[:, None], torch.sin(heading)[:, None]
        local = torch.stack([c * rel[..., 0] + s * rel[..., 1], c * rel[..., 1] - s * rel[..., 0]], -1)
        step = torch.zeros(len(r), self.n_bonds, device=r.device, dtype=r.dtype)
        step[:, i] = 1.0
        return torch.cat([local.flatten(-2), c, s, step], -1)

    def _closest(self, r, heading, lengths, bonds: int) -> torch.Tensor:
        """For bonds 0 .. bonds - 1 and each turn bin: the distance from the bead that bond would
        place (at its length, in the bin's direction) to the closest bead before the bond's start.

        r (batch, beads, 2), heading and lengths (batch, bonds) -> (batch, bonds, bins), bead
        diameters; 10 where there is no such bead (bond 0). Uses |r_i + l e - r_j|^2 =
        |r_i - r_j|^2 + l^2 + 2 l (r_i - r_j) . e for the unit vector e of each bin.
        """
        with torch.no_grad():
            angle = heading[..., None] + self.turn_centres.to(r.dtype)  # (batch, bonds, bins)
            e = torch.stack([torch.cos(angle), torch.sin(angle)], -1)
            diff = r[:, :bonds, None, :] - r[:, None, :, :]  # (batch, bonds, beads, 2): r_i - r_j
            cross = diff @ e.transpose(-1, -2)  # (batch, bonds, beads, bins)
            bond = lengths[..., None, None]
            d2 = (diff**2).sum(-1)[..., None] + bond**2 + 2 * bond * cross
            earlier = (
                torch.arange(self.n_beads, device=r.device)[None, :] < torch.arange(bonds, device=r.device)[:, None]
            )
            d2 = torch.where(earlier[None, :, :, None], d2, torch.full_like(d2, 100.0))
            return d2.min(-2).values.clamp_min(0.0).sqrt()

    def _bin_of(self, turn: torch.Tensor) -> torch.Tensor:
        return ((turn + math.pi) / (_TWO_PI / self.bins)).long().clamp(0, self.bins - 1)

    def log_prob(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """log p_theta(x|h) in nats, (batch,): every bond at once, each given the true chain before it."""
        r = as_coordinates(x).reshape(-1, self.n_beads, 2)
        lengths, theta = internal_coordinates(r)
        heading = torch.cat([torch.zeros_like(theta[:, :1]), theta[:, :-1]], 1)  # (batch, bonds)
        turn = wrap_angle(theta - heading)
        context = torch.stack([self._context(r, i, heading[:, i]) for i in range(self.n_bonds)], 1)
        out = self.net(torch.cat([h[:, None, :].expand(-1, self.n_bonds, -1), context], -1))  # (batch, bonds, .)
        m, s = 1.0 + 0.1 * out[..., 0], nn.functional.softplus(out[..., 1] - 2.3) + 1e-3
        log_length = -0.5 * ((lengths - m) / s) ** 2 - torch.log(s) - 0.5 * math.log(_TWO_PI)
        closest = self._closest(r, heading, lengths, self.n_bonds)
        log_bins = torch.log_softmax(out[..., 2:] + self.contact_term(closest), -1)
        log_turn = log_bins.gather(-1, self._bin_of(turn)[..., None])[..., 0] - math.log(_TWO_PI / self.bins)
        return (log_length + log_turn).sum(-1)

    def _turn_logits(self, out, r, i: int, heading, length) -> torch.Tensor:
        """Logits (batch, bins) of the turn of bond i while growing: the network's output plus u(closest)."""
        if i == 0:
            return out[..., 2:] + self.contact_term(torch.full_like(out[..., 2:], 10.0))
        with torch.no_grad():
            angle = heading[:, None] + self.turn_centres.to(r.dtype)  # (batch, bins)
            new = r[:, i, None, :] + length[:, None, None] * torch.stack([torch.cos(angle), torch.sin(angle)], -1)
            closest = torch.cdist(new, r[:, :i]).min(-1).values  # (batch, bins)
        return out[..., 2:] + self.contact_term(closest)

    def sample(self, h: torch.Tensor, generator: torch.Generator | None = None, *, mean: bool = False):
        """Grow one chain per row of h: (batch, beads, 2), centred; ``mean=True``: the mean chain (see ``forward``).

        Random numbers come from ``generator`` (CPU; torch's global one if None) and are moved to
        h's device, so a seeded generator draws the same chains on every device.
        """
        n, device = len(h), h.device
        r = torch.zeros(n, self.n_beads, 2, device=device, dtype=h.dtype)
        heading = torch.zeros(n, device=device, dtype=h.dtype)
        width = _TWO_PI / self.bins
        for i in range(self.n_bonds):
            out = self.net(torch.cat([h, self._context(r, i, heading)], -1))
            m, s = 1.0 + 0.1 * out[..., 0], nn.functional.softplus(out[..., 1] - 2.3) + 1e-3
            if mean:  # the circular mean of the turn: differentiable in h, like a Gaussian decoder's mean
                length = m
                p = torch.softmax(self._turn_logits(out, r, i, heading, length), -1)
                centres = self.turn_centres.to(h.dtype)
                turn = torch.atan2((p * torch.sin(centres)).sum(-1), (p * torch.cos(centres)).sum(-1))
            else:
                length = m + s * torch.randn(n, generator=generator, dtype=torch.float64).to(device, h.dtype)
                p = torch.softmax(self._turn_logits(out, r, i, heading, length), -1).detach().double().cpu()
                k = torch.multinomial(p, 1, generator=generator)[:, 0]
                u = torch.rand(n, generator=generator, dtype=torch.float64)
                turn = (-math.pi + (k + u) * width).to(device, h.dtype)
            heading = heading + turn
            step = length[:, None] * torch.stack([torch.cos(heading), torch.sin(heading)], -1)
            r = torch.cat([r[:, : i + 1], (r[:, i] + step)[:, None], r[:, i + 2 :]], 1)
        return r - r.mean(-2, keepdim=True)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.sample(h, mean=True).flatten(-2)


__all__ = ["CONTACT_KNOTS", "TURN_BINS", "ChainLikelihood", "sample_von_mises", "wrap_angle"]
