"""`aicc` imports only the command it runs; the list in `aicc --help` and every command's own help still work,
so the table of lazily loaded commands cannot drift from the modules."""

from __future__ import annotations

import subprocess

from aicc.cli import main
from tests.cli.conftest import AICC


def test_the_top_level_help_lists_every_command_without_loading_them() -> None:
    out = subprocess.run([AICC, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    listed = {line.split()[0] for line in out.stdout.splitlines() if line.startswith("  ") and line.split()}
    assert set(main.LAZY) <= listed and {"server", "login", "db", "demo"} <= listed


def test_each_lazy_command_loads_its_real_options() -> None:
    for name, (_, _, group, _) in main.LAZY.items():
        out = subprocess.run([AICC, name, "--help"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, (name, out.stderr)
        assert ("Commands:" in out.stdout) == group, name  # a group lists its commands
    submit = subprocess.run([AICC, "submit", "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "--partition" in submit and "--mail-type" in submit


def test_a_mistyped_command_is_refused_with_a_usage_error() -> None:
    out = subprocess.run([AICC, "sumbit"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "No such command" in out.stderr
