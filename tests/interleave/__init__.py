"""A deterministic interleaving harness for writes and maintenance (azof issue 14).

- :mod:`interleave.gate`: a Storage wrapper that pauses an operation at its k-th storage
  call, and a runner that starts and resumes operations in threads;
- :mod:`interleave.model`: the starting table, the seven operations and a naive oracle;
- :mod:`interleave.scenario`: one scenario and the invariants (a)-(f) checked on it;
- :mod:`interleave.pairs`: pair scenarios (X paused at call k, Y run to completion).

Tests: every ordered pair at every pause point (``test_interleave_pairs``), random
three-operation schedules (``test_interleave_random``; ``AZOF_INTERLEAVE_EXAMPLES`` sets how
many), the harness itself (``test_interleave_harness``), and a few pairs on the S3 test
server (``tests/s3/test_s3_interleave.py``).
"""
