"""Trace-driven simulator: replays a workload on a virtual clock through the controller's admission policy.

Modules: ``trace`` (the job model and the trace formats: Philly/Gavel, CSV, synthetic), ``center``
(the simulated center from an inventory TOML plus ``[[projects]]``), ``engine`` (the event loop that
drives :class:`aicc.core.scheduling.Scheduler`), ``metrics``, ``report`` (JSON + self-contained HTML
with hand-written SVG charts) and ``plan`` (capacity planning by binary search).
"""
