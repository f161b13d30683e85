"""Dockyard's own settings plus one URL for the benchmarks' baseline: production code has
no benchmark hook, this module exists only under bench/."""

from hub.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
