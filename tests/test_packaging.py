"""The folder platform/ is the package camnet and never shadows the standard platform module."""
import os
import platform
import subprocess
import sys
from pathlib import Path

import camnet

ROOT = Path(__file__).resolve().parent.parent


def test_camnet_imports_and_standard_platform_still_works():
    assert Path(camnet.__file__).parent.name == "platform"
    assert platform.system() == "Linux"
    assert hasattr(platform, "python_version") and not hasattr(platform, "create_app")


def test_import_from_repo_root_with_safe_path_keeps_standard_platform():
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    out = subprocess.run([sys.executable, "-c", "import platform, camnet; print(platform.system())"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Linux"


def test_nothing_is_importable_as_a_top_level_platform_package():
    out = subprocess.run([sys.executable, "-c", "import platform; print(platform.__file__)"],
                         cwd="/tmp", capture_output=True, text=True, timeout=60)
    assert "/platform/__init__.py" not in out.stdout
    assert out.stdout.strip().endswith("platform.py")


def test_requirements_name_the_stack_with_lower_bounds():
    text = (ROOT / "requirements.txt").read_text()
    for name in ("flask", "flask-sqlalchemy", "flask-login", "flask-migrate", "gevent", "minio",
                 "opencv-python-headless", "redis", "psycopg"):
        line = next((ln for ln in text.splitlines() if ln.split(">=")[0].split("[")[0].strip() == name), None)
        assert line and ">=" in line, name
    assert "redis-py-cluster" not in text
