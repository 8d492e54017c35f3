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

np.seterr(over="raise", divide="raise", invalid="raise", under="ignore")  # no silent inf/NaN
