"""Shared pytest configuration: BLAS threads and hypothesis profiles.

The default hypothesis profile is derandomized, so a run is reproducible and CI
cannot flake; ``pytest --hypothesis-profile=thorough`` explores many more examples.
"""

import os

from hypothesis import HealthCheck, settings

# The tests multiply small matrices; a multi-threaded BLAS on a shared 2-core machine
# spends more time synchronising threads than computing (25x slower measured). Set
# before any test module imports NumPy; an explicit setting in the environment wins.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

settings.register_profile(
    "default",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=400, deadline=None)
settings.load_profile("default")
