"""The README's first set-up command works in a fresh virtualenv with nothing else installed.

The test environment has far more packages than a user who only runs the demo, so a
dependency evalstore uses but does not declare would pass every other test. This one
installs the checkout into an empty virtualenv, as the README says, and runs the demo.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_fresh_install_runs_the_demo(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    install = subprocess.run(
        # without compiling every installed module (plotly's thousands): 25 s rather than 60 s;
        # the demo compiles what it imports
        [str(python), "-m", "pip", "install", "-q", "--no-compile", f"{ROOT}[demo]"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EVALSTORE_HOME")}
    env["HOME"] = str(tmp_path / "home")
    demo = subprocess.run(
        [str(venv / "bin" / "evalstore"), "demo", "--no-serve"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "Delivered 5,859 late actuals for production" in demo.stdout
    assert (tmp_path / "home" / ".evalstore" / "evalstore.duckdb").is_file()
    models = subprocess.run(
        [str(venv / "bin" / "evalstore"), "models", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert models.returncode == 0 and '"bikeshare-demo"' in models.stdout
