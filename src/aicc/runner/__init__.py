"""The runner: the one place that builds a run's environment, for every engine.

The local shepherd and a Slurm batch step both hand it a ``RunSpec`` (``spec.py``); it makes the run's
cgroups (``cgroups.py``), drops to the project's uid/gid (``identity.py``) and executes bubblewrap with the
run's mounts (``mounts.py``) and a seccomp filter (``seccomp.py``), in the profile the run needs
(``profiles.py``: STANDARD for every job, SENSITIVE for the data zone). ``python -m aicc.runner spec.json``
does the same from a shell. Kept to the standard library and cheap to import: the shepherd loads it for
every job.
"""
