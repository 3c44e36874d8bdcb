"""Projects' workspaces on disk: where they lie (``layout``), who enforces their size (``quota``: btrfs qgroups,
or measurement), file operations that never follow a link (``files``), and resumable uploads (``uploads``).
The use cases (who may, how big, audit) are in ``aicc.services.workspaces``; the run's ``/workspace`` bind is
``aicc.executors.local.isolation.workspace_binds``."""
