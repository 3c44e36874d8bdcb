"""Shell completion: the script `aicc completion bash` prints completes commands and each command's options in a
real bash, although `aicc` loads its commands lazily."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.cli.conftest import AICC


def _complete(*words: str) -> list[str]:
    """What bash offers after ``words`` (the last one being typed), through the installed script."""
    line = " ".join(words)
    script = (f'eval "$({AICC} completion bash)"; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; '
              '_aicc_completion aicc; printf "%s\\n" "${COMPREPLY[@]}"')
    env = {**os.environ, "PATH": f"{Path(AICC).parent}:{os.environ['PATH']}"}
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, env=env, check=True)
    return [w for w in out.stdout.splitlines() if w]


def test_bash_completes_commands_and_the_options_of_a_lazily_loaded_command() -> None:
    assert {"hold", "requeue"} <= set(_complete("aicc", "re")) | set(_complete("aicc", "ho"))
    assert "release" in _complete("aicc", "rel")
    assert _complete("aicc", "submit", "--par") == ["--partition"]
    assert "--time" in _complete("aicc", "update", "1", "--ti")


def test_an_unknown_shell_is_a_usage_error() -> None:
    out = subprocess.run([AICC, "completion", "tcsh"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "bash, zsh or fish" in out.stderr
