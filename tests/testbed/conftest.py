"""The testbed's tests reuse the controller harness (real database, real local executor)."""

from tests.controller.conftest import Harness, harness

__all__ = ["Harness", "harness"]
