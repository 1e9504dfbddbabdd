"""Regenerate the checkpoints shipped in ``helpers/pretrained/``.

    python scripts/train_pretrained.py            # everything (about ten minutes on 2 CPU cores)
    python scripts/train_pretrained.py --only default
    python scripts/train_pretrained.py --only beta-sweep
    python scripts/train_pretrained.py --only valid-polymer
    python scripts/train_pretrained.py --only conditional-polymer
    python scripts/train_pretrained.py --only diffusion-polymer
    python scripts/train_pretrained.py --only diffusion-discriminator

* ``polymer_vae.pt``: the default ``PolymerVAE`` (277,532 parameters) trained with
  ``train_vae``'s defaults on the default simulated data (``load_paths()``), split with
  ``train_test_split(seed=42)``. Its metadata carries the training ``history`` (per-epoch
  losses, as ``History.as_dict()`` without wall times), for the case study's loss curves.
* ``beta_sweep.pt``: smaller VAEs (two hidden layers of 128) trained on the same split at
  the log-spaced ``BETA_SWEEP`` values, for the beta explorer of the ELBO notebook.
* ``valid_polymer.pt`` and ``conditional_polymer.pt``: the internal-coordinate VAEs of the
  valid-generation notebook (``helpers.generation.train_generator``: ``GENERATOR``, ``RECIPE``,
  then the learned prior), unconditional and conditioned on R_g, on the same split.
* ``diffusion_polymer.pt``: the diffusion model of notebook 9 (``helpers.diffusion.train_diffusion``
  with ``diffusion.RECIPE``, conditioned on R_g for guidance), on the same split. Its metadata
  carries the training history and time.
* ``diffusion_discriminator.pt``: the classifier of notebook 9's discriminator guidance
  (``helpers.discriminator.train_discriminator`` with ``discriminator.RECIPE``), trained on the
  same split against the draws of the shipped ``diffusion_polymer.pt`` as loaded (so retrain it
  after that model). Its metadata carries the training history and time.

Each model's recipe is its entry of the registry ``helpers.checkpoints.PRETRAINED``. Each run
ends by printing the sha256 of every shipped file: paste them into that registry (the test
suite checks the shipped files against it).

Training is seeded, so the same torch version on the same machine gives the same files.
"""

from __future__ import annotations

import argparse
import hashlib
import time

import torch

import helpers
import helpers.diffusion
import helpers.discriminator
import helpers.generation
from helpers.checkpoints import PRETRAINED, PRETRAINED_DIR, save_beta_sweep


def split():
    data = helpers.preprocess(helpers.load_paths())
    return helpers.train_test_split(data, seed=42)


def train_default(train, test):
    recipe = PRETRAINED["polymer_vae"]["recipe"]
    torch.manual_seed(0)
    model = helpers.PolymerVAE(**recipe["model"])
    start = time.perf_counter()
    history = helpers.train_vae(model, train, test, **recipe["train_vae"])
    seconds = time.perf_counter() - start
    test_recon = helpers.reconstruction_error(model, test)
    path = helpers.save_checkpoint(
        model,
        PRETRAINED_DIR / "polymer_vae.pt",
        data="simulate (default parameters), train_test_split(seed=42)",
        epochs=history.epochs,
        beta=recipe["train_vae"]["beta"],
        train_seconds=round(seconds, 1),
        test_mse_per_coordinate=test_recon,
        torch_version=str(torch.__version__),
        history={k: v for k, v in history.as_dict().items() if k != "seconds"},
    )
    print(f"{path}: {history.epochs} epochs in {seconds:.1f} s, test MSE per coordinate {test_recon:.4f}")


def train_generator(train, test, name):
    recipe = PRETRAINED[name]["recipe"]
    start = time.perf_counter()
    model, history = helpers.generation.train_generator(train, test, progress=False, **recipe["train_generator"])
    seconds = time.perf_counter() - start
    test_recon = helpers.reconstruction_error(model, test)
    path = helpers.save_checkpoint(
        model,
        PRETRAINED_DIR / f"{name}.pt",
        data="simulate (default parameters), train_test_split(seed=42)",
        recipe=recipe["train_vae"],
        epochs=history.epochs,
        train_seconds=round(seconds, 1),
        test_mse_per_coordinate=test_recon,
        prior_log_likelihood=helpers.generation.fit_prior(model, train),
        torch_version=str(torch.__version__),
    )
    print(f"{path}: {history.epochs} epochs in {seconds:.1f} s, test MSE per coordinate {test_recon:.4f}")
    return path


def train_diffusion(train, test):
    recipe = PRETRAINED["diffusion_polymer"]["recipe"]
    start, cpu_start = time.perf_counter(), time.process_time()
    model, history = helpers.diffusion.train_diffusion(train, test, progress=False, **recipe["train_diffusion"])
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    # weights in half precision: the file stays under 2 MB (the schedule and the scale stay float32)
    for p in model.parameters():
        p.data = p.data.half()
    path = helpers.save_checkpoint(
        model,
        PRETRAINED_DIR / "diffusion_polymer.pt",
        data="simulate (default parameters), train_test_split(seed=42)",
        recipe=recipe["train_diffusion"],
        epochs=len(history["train_loss"]),
        train_seconds=round(seconds, 1),
        train_cpu_seconds=round(cpu_seconds, 1),  # CPU time of its two threads together
        torch_version=str(torch.__version__),
        history={k: history[k] for k in ("train_loss", "test_loss")},
    )
    print(f"{path}: {len(history['train_loss'])} epochs in {seconds:.1f} s, test loss {history['test_loss'][-1]:.4f}")
    return path


def train_discriminator(train):
    recipe = PRETRAINED["diffusion_discriminator"]["recipe"]["train_discriminator"]
    model, _ = helpers.load_pretrained("diffusion_polymer")  # the shipped weights, as the notebook samples them
    start, cpu_start = time.perf_counter(), time.process_time()
    disc, history = helpers.discriminator.train_discriminator(model, train, progress=False, **recipe)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    path = helpers.save_checkpoint(
        disc,
        PRETRAINED_DIR / "diffusion_discriminator.pt",
        data="simulate (default parameters), train_test_split(seed=42); draws of diffusion_polymer.pt",
        recipe=recipe,
        train_seconds=round(seconds, 1),
        train_cpu_seconds=round(cpu_seconds, 1),  # CPU time of its two threads, drawing the chains included
        torch_version=str(torch.__version__),
        history={k: history[k] for k in ("loss", "accuracy", "round")},
    )
    print(f"{path}: {recipe['rounds']} rounds in {seconds:.1f} s, last accuracy {history['accuracy'][-1]:.3f}")
    return path


def train_beta_sweep(train, test):
    recipe = PRETRAINED["beta_sweep"]["recipe"]
    models, results = [], []
    for beta in recipe["betas"]:
        torch.manual_seed(0)
        model = helpers.PolymerVAE(**recipe["model"])
        helpers.train_vae(model, train, beta=beta, progress=False, **recipe["train_vae"])
        _, recon, kl = helpers.evaluate(model, test, beta=beta)
        models.append(model)
        results.append(dict(beta=beta, test_recon=recon, test_kl=kl))
        print(f"beta={beta:<8g} test recon (sum over 24 coordinates) {recon:7.3f}  KL {kl:6.3f} nats")
    path = save_beta_sweep(models, results)
    print(f"{path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        choices=[
            "default", "beta-sweep", "valid-polymer", "conditional-polymer", "diffusion-polymer",
            "diffusion-discriminator",
        ],
    )  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(1)  # reproducible (reduction order) and fastest for these small networks (the
    # diffusion recipes set their own fixed count, 2: see helpers.diffusion.RECIPE)
    train, test = split()
    if args.only in (None, "default"):
        train_default(train, test)
    if args.only in (None, "beta-sweep"):
        train_beta_sweep(train, test)
    if args.only in (None, "valid-polymer"):
        train_generator(train, test, "valid_polymer")
    if args.only in (None, "conditional-polymer"):
        train_generator(train, test, "conditional_polymer")
    if args.only in (None, "diffusion-polymer"):
        train_diffusion(train, test)
    if args.only in (None, "diffusion-polymer", "diffusion-discriminator"):
        train_discriminator(train)
    for path in sorted(PRETRAINED_DIR.glob("*.pt")):
        print(f'    "{path.name}": "{hashlib.sha256(path.read_bytes()).hexdigest()}",')


if __name__ == "__main__":
    main()
