"""Hypothesis profiles for the parser tests (the parser properties use them).

``HYPOTHESIS_PROFILE`` picks one; unset means ``ci``:

- ``ci``: a short fuzz, the same examples on every run (``derandomize``): a failure in CI
  comes from the change under test, never from a new random draw, and no example
  database is written into the working tree.
- ``fuzz``: a long random hunt (``HYPOTHESIS_MAX_EXAMPLES`` examples per test, 5000 unless
  set) that keeps what it finds in ``.hypothesis/`` so a failure replays on the next run.

Timing varies with the machine and with whatever else it runs, so no profile has a
deadline. See docs/fuzzing.md.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "5000")),
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
