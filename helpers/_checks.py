"""Input validation shared by the public functions: clear errors that say what was expected."""

from __future__ import annotations

import numbers

import numpy as np
import torch


def check_option(name: str, value, options) -> None:
    """Raise ValueError unless ``value`` is one of ``options``."""
    if value not in options:
        raise ValueError(f"unknown {name} {value!r}; expected one of {sorted(options)}")


def check_positive(name: str, value) -> None:
    """Raise unless ``value`` is a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")


def check_non_negative(name: str, value) -> None:
    """Raise unless ``value`` is a finite real number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")


def check_positive_int(name: str, value, minimum: int = 1) -> None:
    """Raise unless ``value`` is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def check_positive_ints(**values) -> None:
    """``check_positive_int`` for each keyword: ``check_positive_ints(length=50, latent_dim=2)``."""
    for name, value in values.items():
        check_positive_int(name, value)


def check_seed(name: str, value) -> None:
    """Raise unless ``value`` is an integer >= 0 (a reproducible random seed)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= 0 (a fixed seed keeps results reproducible), got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value}")


def check_unconditional(name: str, model) -> None:
    """Raise ValueError if ``model`` is conditioned on R_g: ``name`` decodes latent points z alone.

    A conditional model (``PolymerVAE(condition=...)``) decodes (z, c) with c its standardised
    R_g, so a function that has only z cannot use it.
    """
    condition = getattr(model, "config", {}).get("condition")
    if condition is not None:
        raise ValueError(
            f"{name} expects a model without an R_g condition, since it decodes latent points z alone; "
            f"this model is conditioned on R_g (PolymerVAE(condition=...)) and decodes (z, c). "
            f"Use an unconditional model, or draw at a target with model.generate(n, rg=...) "
            f"(R_g in [{condition['min']:.3g}, {condition['max']:.3g}] bead diameters)"
        )


def check_array(name: str, x, *, ndim: int | None = None, last_dims: tuple = (), min_len: int = 1):
    """Check a numpy array or torch tensor: numeric, finite, right rank and trailing shape.

    ``last_dims`` lists required sizes of the trailing axes (None = any size).
    Returns ``x`` unchanged (lists are converted to float numpy arrays).
    """
    if isinstance(x, (list, tuple)):
        try:
            x = np.asarray(x)  # keeps integers integer (residue indices), floats float
        except ValueError:
            raise ValueError(f"{name} must be a rectangular array; the nested lists have uneven lengths") from None
    if not isinstance(x, (np.ndarray, torch.Tensor)):
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    is_float = x.is_floating_point() if isinstance(x, torch.Tensor) else np.issubdtype(x.dtype, np.floating)
    is_int = (not is_float) and (
        (not x.is_complex() and x.dtype != torch.bool)
        if isinstance(x, torch.Tensor)
        else np.issubdtype(x.dtype, np.integer)
    )
    if not (is_float or is_int):
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    shape = tuple(x.shape)
    expected = f"(..., {', '.join('any' if d is None else str(d) for d in last_dims)})" if last_dims else ""
    if ndim is not None and len(shape) != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions {expected}, got shape {shape}")
    if last_dims:
        tail = shape[-len(last_dims) :] if len(shape) >= len(last_dims) else ()
        if len(tail) != len(last_dims) or any(d is not None and t != d for t, d in zip(tail, last_dims)):
            raise ValueError(f"{name} must have shape {expected}, got {shape}")
    if len(shape) == 0 or shape[0] < min_len:
        raise ValueError(f"{name} must hold at least {min_len} item(s) along its first axis, got shape {shape}")
    finite = bool(torch.isfinite(x).all()) if isinstance(x, torch.Tensor) else bool(np.isfinite(x).all())
    if not finite:
        raise ValueError(f"{name} contains NaN or infinite values")
    return x
