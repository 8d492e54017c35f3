"""Device and randomness helpers: one code path for CPU and CUDA (STYLE.md, POT's backend idea)."""

from __future__ import annotations

import torch

from boundkit._checks import check_int
from boundkit.errors import InvalidArgument

DTYPE = torch.float64


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """The torch device to run on.

    Parameters
    ----------
    device : str or torch.device
        ``"cpu"`` (default), ``"cuda"``/``"cuda:N"`` or ``"auto"`` (CUDA when present).

    Returns
    -------
    torch.device

    Raises
    ------
    InvalidArgument
        A CUDA device that is not there (before any work).
    """
    if isinstance(device, torch.device):
        dev = device
    elif not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'cpu' or a torch.device; got "
                        f"{type(device).__name__} {device!r}. Pass device='cpu'.")
    elif device == "auto":
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(device)
        except RuntimeError:
            raise InvalidArgument(f"device={device!r} is not a device. Pass 'cpu', 'cuda' or "
                                  f"'auto'.", argument="device") from None
    if dev.type not in ("cpu", "cuda"):
        raise InvalidArgument(f"device={device!r} is not supported. Pass 'cpu', 'cuda' or "
                              f"'auto'.", argument="device")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgument(
            f"device={device!r} was asked for, but no CUDA device is available here. "
            f"Pass device='cpu', or 'auto' to use CUDA only when present.", argument="device")
    return dev


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A seeded torch generator on ``device``.

    Parameters
    ----------
    seed : int
        The seed (0 ≤ seed < 2^63).
    device : str or torch.device
        Where the generator lives.

    Returns
    -------
    torch.Generator
        The same seed gives the same numbers on CPU.
    """
    seed = check_int(seed, "seed", 0, 2**63 - 1, "0")
    return torch.Generator(device=resolve_device(device)).manual_seed(seed)


def check_counts(**values) -> None:
    """Each keyword must be an integer >= 1 (rounds, replicates, widths, steps, ...)."""
    for name, v in values.items():
        check_int(v, name, 1, None, "10")
