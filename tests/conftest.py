"""Shared pytest configuration: hypothesis profiles.

The default profile is derandomized, so a run is reproducible and CI cannot flake;
``pytest --hypothesis-profile=thorough`` explores many more random examples.
"""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=400, deadline=None)
settings.load_profile("default")
