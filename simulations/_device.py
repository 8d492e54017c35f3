"""Device and randomness helpers: one code path for CPU and CUDA (STYLE.md, POT's backend idea)."""

from __future__ import annotations

import torch

DTYPE = torch.float64


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """``"cpu"`` (default), ``"cuda"``/``"cuda:N"`` or ``"auto"`` (CUDA when present).

    Refuses a CUDA device that is not there, before any work.
    """
    if isinstance(device, torch.device):
        dev = device
    elif device == "auto":
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(device)
        except RuntimeError:
            raise ValueError(
                f"device={device!r} is not a device. Pass 'cpu', 'cuda' or 'auto'."
            ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was asked for, but no CUDA device is available here. "
            f"Pass device='cpu', or 'auto' to use CUDA only when present."
        )
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r} is not supported. Pass 'cpu', 'cuda' or 'auto'.")
    return dev


def make_generator(seed: int, device: torch.device) -> torch.Generator:
    """A seeded generator on ``device``: the same seed gives the same numbers on CPU."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}. Pass e.g. seed=0.")
    return torch.Generator(device=device).manual_seed(seed)


def check_counts(**values) -> None:
    """Each keyword must be an integer >= 1 (rounds, replicates, widths, steps, ...)."""
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {v!r}. Pass e.g. {name}=10.")
