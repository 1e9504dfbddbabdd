"""CPU settings for torch with networks as small as the course's: one thread, no denormal numbers."""

from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def one_thread(threads: int = 1):
    """Temporarily use ``threads`` torch threads (default one), then restore the previous setting.

    For networks this small (a (1, 2) -> (1, 24) decode, a 2-D latent optimization) waking
    torch's thread pool costs more than the work itself (benchmarks/RESULTS.md). A fixed count
    also fixes how torch splits its sums, so results do not depend on the machine's cores.
    """
    n = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def flushing_denormals() -> bool:
    """True if this thread currently flushes denormal floats to zero."""
    return bool((torch.tensor([1e-39], dtype=torch.float32) * 1.0).item() == 0.0)


@contextmanager
def flush_denormals():
    """Temporarily treat denormal floats (|x| < 1.2e-38 in float32) as zero on this thread.

    Once a ReLU unit stops firing, its weights get zero gradients and Adam's first moment
    (``exp_avg``) shrinks by beta1 every step until it passes through the denormal range,
    where x86 CPUs compute far more slowly. Late in a training run many such numbers slow
    every optimizer step (benchmarks/RESULTS.md). Values that small change no result here.

    The setting belongs to the calling thread only (torch's worker threads keep theirs): use
    it with ``one_thread()``, as ``small_network_cpu()`` does. No-op where the CPU cannot flush.
    """
    before = flushing_denormals()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)


@contextmanager
def small_network_cpu(threads: int = 1):
    """Run the enclosed torch code on this one thread (or ``threads``), with denormal floats flushed to zero.

    ``train_vae`` wraps its whole run in it: one thread keeps the small networks of the course
    fast and their results independent of the number of cores, and the flushing applies to all
    the work because no worker thread takes part. The diffusion model of notebook 9 is larger:
    its training uses two threads (``diffusion.RECIPE``), still a fixed count, so its results do
    not depend on the cores either. Settings are restored afterwards.
    """
    with one_thread(threads), flush_denormals():
        yield
