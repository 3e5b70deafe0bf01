"""The README's quickstart runs as written, and its set-up commands are what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _quickstart() -> str:
    match = re.search(r"<!-- quickstart[^>]*-->\s*```python\n(.*?)```", README, re.S)
    assert match, "README has no quickstart block"
    return match.group(1)


def test_quickstart_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _quickstart()
    assert len([ln for ln in code.splitlines() if ln.strip()]) <= 16
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
    printed = capsys.readouterr().out
    # three predictions; the two actuals that arrived are joined
    assert "churned" not in printed and "actual_label" in printed
    import evalstore as es

    with es.connect(tmp_path / "my-store") as store:
        df = store.model("churn").dataset().to_pandas().set_index("prediction_id")
    assert df.loc["a", "actual_label"] == 1 and df.loc["c", "actual_label"] == 0
    assert df["actual_label"].isna().sum() == 1


def test_setup_commands_match_ci() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    commands = [b.strip() for b in blocks if "venv" in b]
    assert len(commands) == 2, commands
    demo, tests = commands
    assert demo.endswith("evalstore demo") and "\n" not in demo
    assert tests.endswith("pytest") and "\n" not in tests
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci


def test_docs_name_every_cli_command_and_flag() -> None:
    from typer.main import get_command

    from evalstore.cli import app

    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    todo = list(get_command(app).commands.items())  # type: ignore[attr-defined]
    assert todo
    while todo:
        name, cmd = todo.pop()
        assert f"evalstore {name}" in doc, name
        # a command group: its subcommands are documented as "evalstore group sub"
        todo += [(f"{name} {sub}", c) for sub, c in getattr(cmd, "commands", {}).items()]
        for param in cmd.params:
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help":
                    assert opt in doc, f"{name} {opt}"
