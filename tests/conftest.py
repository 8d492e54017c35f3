"""Strict test settings: float64, warnings that matter are errors, hypothesis profiles.

Profiles: ``ci`` (default; derandomized and small) and ``thorough``
(``HYPOTHESIS_PROFILE=thorough pytest``).
"""

import os

import numpy as np
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("thorough", max_examples=500, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two workers on two cores: one intra-op thread each, so that the
    # workers do not oversubscribe the cores (a spinning OpenMP pool slows both)
    import torch

    torch.set_num_threads(1)

np.seterr(over="raise", divide="raise", invalid="raise", under="ignore")  # no silent inf/NaN


# ---------------------------------------------------------------------------------------
# A clean house: every test runs in its own temporary folder, and the session fails if the
# repository's working tree changed (a test or a command wrote outside its tmp_path).
# ---------------------------------------------------------------------------------------
import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _tree_state() -> str | None:
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def pytest_sessionstart(session) -> None:
    session.config._tree_before = _tree_state()


def pytest_sessionfinish(session, exitstatus) -> None:
    before = getattr(session.config, "_tree_before", None)
    after = _tree_state()
    if before is None or after is None or before == after:
        return
    new = sorted(set(after.splitlines()) - set(before.splitlines()))
    session.config._tree_dirty = new
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    new = getattr(config, "_tree_dirty", None)
    if new:
        terminalreporter.write_line(
            "FAILED: the test run changed the repository's working tree (tests must write "
            "only into tmp_path): " + ", ".join(new[:20]), red=True)


@pytest.fixture(autouse=True)
def _run_in_tmp_path(tmp_path, monkeypatch):
    """Every test starts in its own temporary folder, so relative outputs land there."""
    monkeypatch.chdir(tmp_path)
