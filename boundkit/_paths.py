"""Output paths checked before any work (CLI ``--out`` / ``--output``): created or refused
with one line naming the option and the fix. No torch, no click."""

from __future__ import annotations

from pathlib import Path

from boundkit.errors import InvalidArgument


def check_output_dir(out: str | Path, option: str = "--out") -> Path:
    """Create ``out`` (a folder) and prove it writable, before any work."""
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".boundkit-write-test"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise InvalidArgument(f"{option}={str(out)!r} cannot be created or written "
                              f"({exc.strerror or exc}). Pass a writable folder.",
                              argument="out") from None
    return path


def check_output_file(path: str | Path, option: str = "--output", *,
                      create_parent: bool = True, protected: tuple = ()) -> Path:
    """Prove that ``path`` (a file) can be written, before any work; leave no file behind.

    With ``create_parent`` a missing parent folder is created first. A path that is one of
    ``protected`` (an input the command reads, e.g. a SQLite store and its ``-wal``,
    ``-shm`` and ``-journal`` files) is refused.
    """
    target = Path(path)
    for other in protected:
        if target.resolve() == Path(other).resolve():
            raise InvalidArgument(f"{option}={str(path)!r} is {str(other)!r}, a file this "
                                  f"command reads; writing it would destroy the input. Pass "
                                  f"another file name.", argument="output")
    try:
        if create_parent and target.parent and not target.parent.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
        existed = target.exists()
        with target.open("a", encoding="utf-8"):
            pass
        if not existed:
            target.unlink()
    except OSError as exc:
        raise InvalidArgument(f"{option}={str(path)!r} cannot be written "
                              f"({exc.strerror or exc}). Pass a writable file path.",
                              argument="output") from None
    return target


def sqlite_files(store: str | Path) -> tuple[Path, ...]:
    """A SQLite database and the files SQLite keeps beside it."""
    base = Path(store)
    return (base, *(base.with_name(base.name + s) for s in ("-wal", "-shm", "-journal")))
