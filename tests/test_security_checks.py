"""Static and dependency checks that CI runs with the suite: ruff, bandit, pip-audit."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PYTHONSAFEPATH": "1"}


def _run(*args, timeout=300):
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


def test_ruff_finds_nothing():
    out = _run("ruff", "check", "platform", "tests", "bench", "migrations")
    assert out.returncode == 0, out.stdout[-4000:]


def test_bandit_finds_no_medium_or_high_issue():
    out = _run("bandit", "-q", "-r", "platform", "-ll", "-c", "pyproject.toml")
    assert out.returncode == 0, out.stdout[-4000:]


def test_pip_audit_finds_no_known_vulnerability():
    out = _run("pip-audit", "-r", "requirements.txt", "--progress-spinner", "off")
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    assert "No known vulnerabilities found" in out.stdout + out.stderr
