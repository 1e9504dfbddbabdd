"""Every public function that takes a model computes on the model's device.

Without a GPU, the check runs on PyTorch's ``meta`` device: meta tensors have shapes but no
data, and an operation that mixes a meta tensor with a CPU one fails ("Tensor on device cpu is
not on the expected device meta"), exactly where a CUDA run would fail. Reading a number from a
meta tensor (``float(t)``, ``.tolist()``, ``.cpu()``) has nothing to read: ``_HostReads`` answers
such reads with ones, so each function runs to its end, with meaningless numbers. The meta device
has no random generator either: ``torch.Generator(device="meta")`` gives a CPU generator there,
which draws meta tensors as well; and no fused Adam kernel: ``train_vae`` gets a plain Adam there.
Where CUDA is present, the same calls also run there, for real.
"""

from __future__ import annotations

import copy

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

import helpers  # noqa: E402
from helpers import generation, posterior, training  # noqa: E402
from helpers.energy import relax  # noqa: E402
from helpers.models import validity_grid  # noqa: E402
from helpers.optimization import optimize_latent  # noqa: E402
from helpers.sequences import reconstruction_accuracy, train_sequence_vae  # noqa: E402
from helpers.widgets import LatentExplorer  # noqa: E402

aten = torch.ops.aten
DEVICES = ["meta", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


class _HostReads(TorchDispatchMode):
    """Let meta tensors be read: a number read is 1, a copy to the CPU is a tensor of ones."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        source = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if source is not None and source.is_meta:
            if func is aten._local_scalar_dense.default:
                return True if source.dtype == torch.bool else 1
            to_cpu = kwargs.get("device") is not None and torch.device(kwargs["device"]).type == "cpu"
            if func is aten._to_copy.default and to_cpu:
                return torch.ones(source.shape, dtype=kwargs.get("dtype") or source.dtype)
        return func(*args, **kwargs)


class _GeneratorType(type):
    """``torch.Generator`` for the meta run: isinstance works as before; device="meta" gives a CPU generator."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, torch._C.Generator)

    def __call__(cls, device="cpu"):
        return torch._C.Generator("cpu" if torch.device(device).type == "meta" else device)


class _MetaFriendlyGenerator(metaclass=_GeneratorType):
    pass


@pytest.fixture(scope="module")
def data(small_split):
    return np.array(small_split[0][:64]), np.array(small_split[1][:16])  # writable copies


@pytest.fixture(scope="module")
def cartesian(data):
    torch.manual_seed(0)
    model = helpers.PolymerVAE(hidden_dim=16, n_hidden=1)
    helpers.train_vae(model, data[0], epochs=2, progress=False)
    return model


@pytest.fixture(scope="module")
def generator(data):
    torch.manual_seed(0)
    model = generation.PolymerGenerator(hidden_dim=16, n_hidden=1)
    helpers.train_vae(model, data[0], epochs=2, progress=False)
    generation.fit_prior(model, data[0])
    return model


def _sequence_pair():
    torch.manual_seed(0)
    return helpers.ProteinEncoder(6, hidden_dim=8), helpers.ProteinDecoder(6, hidden_dim=8)


RESIDUES = helpers.synthetic_family(32, length=6)[0]

# name -> f(models on the device, data, device): the call under test. ``models`` holds the
# fixtures' models and a sequence-VAE pair, moved to the device.
CALLS = {
    "decode_conformations": lambda m, d, dev: helpers.decode_conformations(m["cartesian"], np.zeros((3, 2))),
    "validity_grid": lambda m, d, dev: validity_grid(m["cartesian"], d[0], n=5),
    "PolymerVAE.sample": lambda m, d, dev: m["cartesian"].sample(4, seed=0),
    "train_vae": lambda m, d, dev: helpers.train_vae(m["cartesian"], d[0], d[1], epochs=2, progress=False),
    "evaluate": lambda m, d, dev: helpers.evaluate(m["cartesian"], d[1]),
    "reconstruction_error": lambda m, d, dev: helpers.reconstruction_error(m["cartesian"], d[1]),
    "elbo": lambda m, d, dev: helpers.elbo(m["cartesian"], torch.as_tensor(d[1], device=dev), 0.3, n_samples=3),
    "importance_weighted_log_likelihood": lambda m, d, dev: helpers.importance_weighted_log_likelihood(
        m["cartesian"], torch.as_tensor(d[1], device=dev), 0.3, n_samples=3
    ),
    "posterior.quadrature": lambda m, d, dev: posterior.quadrature(m["cartesian"], d[1][:2], 0.3, spacing=0.4),
    "posterior.fit_gaussian": lambda m, d, dev: posterior.fit_gaussian(
        m["cartesian"], d[1][:2], 0.3, np.zeros((2, 2)), np.ones((2, 2)), steps=2, n_samples=4
    ),
    "optimize_latent": lambda m, d, dev: optimize_latent(
        m["cartesian"], helpers.radius_of_gyration, np.zeros(2), steps=3, bond_penalty=1.0, reference=d[0]
    ),
    "LatentExplorer": lambda m, d, dev: LatentExplorer(m["cartesian"], d[0], n_map=32, n_validity=5).update(z1=0.5),
    "fit_prior": lambda m, d, dev: generation.fit_prior(m["generator"], d[0]),
    "generate": lambda m, d, dev: m["generator"].generate(8, seed=0),
    "generate (N(0, I), unseeded, relaxed)": lambda m, d, dev: m["generator"].generate(
        8, latent="standard", relax=True
    ),
    "energy.relax": lambda m, d, dev: relax(torch.as_tensor(d[1], device=dev, dtype=torch.float64), steps=2),
    "sequences.train_sequence_vae": lambda m, d, dev: train_sequence_vae(
        *m["sequence"], RESIDUES, epochs=2, progress=False
    ),
    "sequences.reconstruction_accuracy": lambda m, d, dev: reconstruction_accuracy(*m["sequence"], RESIDUES),
}


# what cannot run without data: quadrature refines the grid where each posterior is, so its
# tensors' shapes depend on the numbers (checked on CUDA only)
NOT_ON_META = {"posterior.quadrature": "the refined grid's shape depends on the data, which meta tensors lack"}


def _models(cartesian, generator, device):
    return dict(
        cartesian=copy.deepcopy(cartesian).to(device),
        generator=copy.deepcopy(generator).to(device),
        sequence=tuple(net.to(device) for net in _sequence_pair()),
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(CALLS))
def test_public_functions_compute_on_the_models_device(cartesian, generator, data, name, device, monkeypatch):
    if device == "meta" and name in NOT_ON_META:
        pytest.skip(NOT_ON_META[name])
    models = _models(cartesian, generator, device)
    if device != "meta":
        CALLS[name](models, data, device)
        return
    monkeypatch.setattr(torch, "Generator", _MetaFriendlyGenerator)
    monkeypatch.setattr(training, "_adam", lambda params, lr: torch.optim.Adam(params, lr=lr))
    with _HostReads():
        CALLS[name](models, data, device)


def test_a_mixed_device_call_fails_under_the_check(cartesian):
    """The check can fail: a CPU tensor fed to a meta model is caught."""
    model = copy.deepcopy(cartesian).to("meta")
    with _HostReads(), pytest.raises(RuntimeError, match="device"):
        model.decode(torch.zeros(3, 2))
