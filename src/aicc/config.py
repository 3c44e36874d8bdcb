"""Settings, from environment variables only (twelve-factor; nothing to edit in code).

AICC_HOME             working directory for the database, job directories and logs (default ./var)
AICC_DATABASE_URL     SQLAlchemy URL; default sqlite:///$AICC_HOME/aicc.db
AICC_MAX_BODY_BYTES   largest request body accepted (default 1 MiB)
AICC_TOKEN_TTL_DAYS   default lifetime of new API tokens (default 90)
AICC_MAX_TIME_LIMIT   longest time limit a job may ask for, in seconds (default 7 days)
AICC_MAX_ARRAY        most tasks in one job array (default 10,000)
AICC_CONTROLLER       "on" (default) runs the scheduling controller inside `aicc server`; "off" serves the API only
AICC_TICK_SECONDS     controller period between wake-ups (default 2 s); submits and finishes wake it at once
AICC_PREEMPT_GRACE    seconds between SIGTERM and SIGKILL when a job is cancelled or preempted (default 10)
AICC_MAX_STARTS       most jobs one scheduling cycle admits; the next cycle follows at once (default 1000)
AICC_PREEMPT_AFTER    seconds a job on borrowed capacity runs before it may be preempted (default 600)
AICC_JOB_PREFIX       engine-visible job names are PREFIX-<job>-<attempt> (default "aicc"); give each AICC
                      its own when several share one Slurm cluster
AICC_DATA_ROOT        the only directory datasets may be registered from (default $AICC_HOME/data)
AICC_OUTPUT_RETENTION_DAYS  days a sensitive job's held outputs are kept before they may be deleted (default 365)
AICC_OUTPUT_MAX_FILE  largest single output file that may leave the data zone, bytes (default 10 MiB)
AICC_TIMEZONE         the center's time zone, in which the portal shows times (default Asia/Seoul)
AICC_UID_BASE         first Unix uid of the range jobs run as, one per project (default 200000; the first is kept
                      for runs without a project); gid = uid
AICC_UID_COUNT        how many uids the range holds (default 65536)
AICC_AUDIT_KEY_FILE   the audit log's HMAC key (at least 32 bytes, not readable by others), e.g. mounted by a KMS
                      agent; default $AICC_HOME/secrets/audit.key, created mode 0600 at first start
AICC_AUDIT_ANCHORS    the append-only file of signed audit-head checkpoints (default $AICC_HOME/audit-anchors.log)
AICC_AUDIT_ANCHOR_EVENTS / AICC_AUDIT_ANCHOR_SECONDS  anchor the head at least every N events (default 1000)
                      or T seconds of activity (default 60), and at clean shutdown
AICC_SLURM_DIR        for a site with executor = "slurm": the directory with cluster.json (flavor -> GRES type
                      and partition) as scripts/slurm-up writes it (default /tmp/aicc-slurm)
AICC_SLURM_RELAY      how the server reaches a replica or a session on a Slurm node: unix (a socket; the node must be
                      this host, the default) or tcp (a port on the node, guarded by a per-replica secret)
AICC_SLURM_RELAY_BIND the address a tcp relay listens on (default: all, published as the node's host name)
AICC_REGISTRIES       comma list of image registries jobs may name (host[:port]); empty (default): no images
AICC_REGISTRY_MIRRORS comma list of name=host: pull references to registry `name` from `host` instead
AICC_INSECURE_REGISTRIES  comma list of hosts spoken to over plain HTTP (a loopback test registry only)
AICC_WORKSPACE_ROOT   where projects' workspaces live (default $AICC_HOME/workspaces); a btrfs file system with
                      quotas enabled enforces their size (scripts/workspaces-up), anything else is only measured
AICC_WORKSPACE_DEFAULT_GIB  a project's workspace quota when its active allocations grant less (default 10)
AICC_WORKSPACE_RETENTION_DAYS  days a deleted project's workspace is kept aside before it is removed (default 30)
AICC_JOB_FILES_RETENTION_DAYS  days an ended ordinary job's directory (what it wrote there) is kept (default 30)
AICC_OIDC_FILE        TOML file of the institutional identity providers (services/oidc/config.py); default none
AICC_PASSWORD_SIGNIN  "on" (default): local accounts sign in with a password too; "off": providers only
AICC_PUBLIC_URL       the portal's address as browsers see it (redirect URIs); default: the request's own
AICC_NOTIFY           "on" (default) runs the notification worker inside `aicc server`; "off" leaves the outbox
AICC_SMTP_HOST / AICC_SMTP_PORT  the mail relay (default none: email is not sent, webhooks still are; port 587)
AICC_SMTP_STARTTLS    "on" (default) upgrades the connection before authenticating; "off" only on loopback
AICC_SMTP_USER / AICC_SMTP_PASSWORD  credentials for the relay, if it asks
AICC_MAIL_FROM        the From address (default aicc@localhost)
AICC_SESSION_JUPYTER  JupyterLab for interactive sessions on the host system (default /opt/aicc/jupyter/bin/jupyter-lab,
                      made by scripts/install-jupyter); a session in an image runs the image's own jupyter-lab
AICC_SESSION_IDLE     seconds without activity after which a session is stopped (default 3600)
AICC_SESSION_POLL     seconds between the server's looks at live sessions: ready yet, idle (default 5)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from aicc.core.images import RegistryPolicy


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    database_url: str
    max_body_bytes: int = 1 << 20
    token_ttl_days: int = 90
    max_time_limit_s: int = 7 * 86400
    max_array: int = 10_000
    controller: bool = True
    tick_s: float = 2.0
    preempt_grace_s: float = 10.0
    preempt_after_s: float = 600.0
    age_after_s: float = 259_200.0
    """AICC_AGE_AFTER: a project's first waiting job older than this goes before fair share and holds the
    reservation (aging; 0 turns it off). Bounds a wait: see README, "How long can a job wait"."""
    max_starts_per_cycle: int = 1000
    job_prefix: str = "aicc"
    slurm_dir: Path | None = None
    data_root: Path | None = None
    output_retention_days: int = 365
    output_max_file_bytes: int = 10 * 1024 * 1024
    timezone: str = "Asia/Seoul"
    registries: str = ""
    registry_mirrors: str = ""
    insecure_registries: str = ""
    uid_base: int = 200_000
    uid_count: int = 65_536
    audit_key_file: Path | None = None
    audit_anchor_file: Path | None = None
    audit_anchor_events: int = 1000
    audit_anchor_seconds: float = 60.0
    workspace_root: Path | None = None
    workspace_default_gib: int = 10
    job_files_retention_days: int = 30
    workspace_retention_days: int = 30

    @property
    def workspaces_dir(self) -> Path:
        """Projects' workspaces (``aicc.workspaces.layout``), each mounted at ``/workspace`` in its runs."""
        return self.workspace_root or self.home / "workspaces"
    oidc_file: Path | None = None
    password_signin: bool = True
    public_url: str | None = None
    notify: bool = True
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    mail_from: str = "aicc@localhost"
    session_jupyter: str = "/opt/aicc/jupyter/bin/jupyter-lab"
    """JupyterLab for sessions on the host's system (``scripts/install-jupyter``); in an image, its own on PATH."""
    session_idle_s: int = 3600
    """A session nobody used for this long is stopped (JupyterLab's own ``last_activity``)."""
    session_poll_s: float = 5.0
    """How often the server looks at live sessions (ready yet? idle?)."""

    @property
    def registry_policy(self) -> RegistryPolicy:
        """Which registries images may come from (``aicc.core.images``)."""
        return RegistryPolicy.from_env(self.registries, self.registry_mirrors, self.insecure_registries)

    @property
    def images_dir(self) -> Path:
        """The node's image cache: blobs shared between images, one read-only root filesystem per digest."""
        return self.home / "images"

    @property
    def jobs_dir(self) -> Path:
        return self.home / "jobs"

    @property
    def datasets_root(self) -> Path:
        """Where datasets are registered from (custodians place them here)."""
        return self.data_root or self.home / "data"

    @property
    def published_dir(self) -> Path:
        """Pseudonymised copies of datasets, the only form grantees see of those."""
        return self.home / "published"

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"


def _on(value: str) -> bool:
    return value.lower() not in ("off", "0", "false", "no")


def load_settings(env: dict[str, str] | None = None) -> Settings:
    e = dict(os.environ) if env is None else env
    home = Path(e.get("AICC_HOME", "var")).absolute()
    url = e.get("AICC_DATABASE_URL") or f"sqlite:///{home / 'aicc.db'}"
    settings = Settings(
        home=home,
        database_url=url,
        max_body_bytes=int(e.get("AICC_MAX_BODY_BYTES", str(1 << 20))),
        token_ttl_days=int(e.get("AICC_TOKEN_TTL_DAYS", "90")),
        max_time_limit_s=int(e.get("AICC_MAX_TIME_LIMIT", str(7 * 86400))),
        max_array=int(e.get("AICC_MAX_ARRAY", "10000")),
        controller=e.get("AICC_CONTROLLER", "on").lower() not in ("off", "0", "false", "no"),
        tick_s=float(e.get("AICC_TICK_SECONDS", "2")),
        preempt_grace_s=float(e.get("AICC_PREEMPT_GRACE", "10")),
        preempt_after_s=float(e.get("AICC_PREEMPT_AFTER", "600")),
        age_after_s=float(e.get("AICC_AGE_AFTER", "259200")),
        max_starts_per_cycle=int(e.get("AICC_MAX_STARTS", "1000")),
        job_prefix=e.get("AICC_JOB_PREFIX", "aicc"),
        slurm_dir=Path(e["AICC_SLURM_DIR"]) if e.get("AICC_SLURM_DIR") else None,
        data_root=Path(e["AICC_DATA_ROOT"]).absolute() if e.get("AICC_DATA_ROOT") else None,
        output_retention_days=int(e.get("AICC_OUTPUT_RETENTION_DAYS", "365")),
        output_max_file_bytes=int(e.get("AICC_OUTPUT_MAX_FILE", str(10 * 1024 * 1024))),
        timezone=e.get("AICC_TIMEZONE", "Asia/Seoul"),
        registries=e.get("AICC_REGISTRIES", ""),
        registry_mirrors=e.get("AICC_REGISTRY_MIRRORS", ""),
        insecure_registries=e.get("AICC_INSECURE_REGISTRIES", ""),
        uid_base=int(e.get("AICC_UID_BASE", "200000")),
        uid_count=int(e.get("AICC_UID_COUNT", "65536")),
        audit_key_file=Path(e["AICC_AUDIT_KEY_FILE"]).absolute() if e.get("AICC_AUDIT_KEY_FILE") else None,
        audit_anchor_file=Path(e["AICC_AUDIT_ANCHORS"]).absolute() if e.get("AICC_AUDIT_ANCHORS") else None,
        audit_anchor_events=int(e.get("AICC_AUDIT_ANCHOR_EVENTS", "1000")),
        audit_anchor_seconds=float(e.get("AICC_AUDIT_ANCHOR_SECONDS", "60")),
        workspace_root=Path(e["AICC_WORKSPACE_ROOT"]).absolute() if e.get("AICC_WORKSPACE_ROOT") else None,
        workspace_default_gib=int(e.get("AICC_WORKSPACE_DEFAULT_GIB", "10")),
        job_files_retention_days=int(e.get("AICC_JOB_FILES_RETENTION_DAYS", "30")),
        workspace_retention_days=int(e.get("AICC_WORKSPACE_RETENTION_DAYS", "30")),
        oidc_file=Path(e["AICC_OIDC_FILE"]).absolute() if e.get("AICC_OIDC_FILE") else None,
        password_signin=_on(e.get("AICC_PASSWORD_SIGNIN", "on")),
        public_url=e.get("AICC_PUBLIC_URL", "").rstrip("/") or None,
        notify=_on(e.get("AICC_NOTIFY", "on")),
        smtp_host=e.get("AICC_SMTP_HOST") or None,
        smtp_port=int(e.get("AICC_SMTP_PORT", "587")),
        smtp_starttls=_on(e.get("AICC_SMTP_STARTTLS", "on")),
        smtp_user=e.get("AICC_SMTP_USER") or None,
        smtp_password=e.get("AICC_SMTP_PASSWORD") or None,
        mail_from=e.get("AICC_MAIL_FROM", "aicc@localhost"),
        session_jupyter=e.get("AICC_SESSION_JUPYTER", "/opt/aicc/jupyter/bin/jupyter-lab"),
        session_idle_s=int(e.get("AICC_SESSION_IDLE", "3600")),
        session_poll_s=float(e.get("AICC_SESSION_POLL", "5")),
    )
    settings.registry_policy  # noqa: B018 - a malformed registry list is a start-up error, never an open policy
    return settings
