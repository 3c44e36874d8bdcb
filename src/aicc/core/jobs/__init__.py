"""Jobs in the pure core: their states and moves, and the sizes users type."""

from aicc.core.jobs.kind import RunKind
from aicc.core.jobs.spec import ArraySpec, parse_array, parse_memory, parse_time_limit
from aicc.core.jobs.state import FINISHED, LIVE, JobEvent, JobState, transition

__all__ = [
    "FINISHED",
    "LIVE",
    "ArraySpec",
    "JobEvent",
    "JobState",
    "RunKind",
    "parse_array",
    "parse_memory",
    "parse_time_limit",
    "transition",
]
