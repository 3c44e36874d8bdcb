"""AICC: software for a shared public AI computing center.

Layers point inward: portal and CLI call the REST API; the API calls services;
services use the store, the pure core and the executors. ``aicc.core`` never
imports anything outside the standard library, so the live controller and the
simulator run exactly the same policy.
"""

__version__ = "0.1.0"
