"""The docs run, and what they state about the code still holds.

Every ```python block of each ``docs/*.md`` file runs, the file's blocks in order in one
namespace, in a temporary folder with ``EVALSTORE_HOME`` inside it. A block that shows an error
catches it itself, so a block that raises is a broken example. Beyond running, the docs are held
to the code: the message pasted in errors.md is what evalstore produces now, every refusal the
ingest can make has a row in errors.md, the schema files shown are valid, and the names the docs
list (fields, tasks, environments, reserved columns, the exception tree) are the code's.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import evalstore as es
from evalstore import errors
from evalstore.ingest.plan import ENVIRONMENTS
from evalstore.schema import RESERVED_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SRC = ROOT / "src" / "evalstore"
#: the docs that must teach by runnable examples
EXAMPLE_DOCS = ("analyses.md", "concepts.md", "errors.md", "schema.md")

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def _text(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _blocks(name: str, lang: str) -> list[tuple[int, str]]:
    """(first line number in the file, code) of each fenced block in language ``lang``."""
    text = _text(name)
    return [
        (text.count("\n", 0, m.start()) + 2, m.group(2))
        for m in _FENCE.finditer(text)
        if m.group(1) == lang
    ]


def _run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run a doc's python blocks in order in one namespace; return the namespace."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALSTORE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("EVALSTORE_METADATA_URL", raising=False)
    namespace: dict[str, Any] = {"__name__": f"docs.{name}"}
    ran = 0
    try:
        for line, code in _blocks(name, "python"):
            # pad so that a traceback names the line of the markdown file
            exec(compile("\n" * (line - 1) + code, str(DOCS / name), "exec"), namespace)
            ran += 1
    finally:
        for value in namespace.values():
            if isinstance(value, es.Store):
                value.close()
    namespace["__blocks_run__"] = ran
    return namespace


@pytest.mark.parametrize("name", sorted(p.name for p in DOCS.glob("*.md")))
def test_doc_examples_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    namespace = _run(name, tmp_path, monkeypatch)
    assert namespace["__blocks_run__"] == len(_blocks(name, "python"))


@pytest.mark.parametrize("name", EXAMPLE_DOCS)
def test_doc_has_examples(name: str) -> None:
    assert (DOCS / name).is_file(), f"docs/{name} is missing"
    assert _blocks(name, "python"), f"docs/{name} has no python example"


def test_batch_rejected_message_is_current(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _text("errors.md")
    pasted = re.search(r"<!-- the message below[^>]*-->\n```text\n(.*?)\n```", text, re.S)
    assert pasted, "errors.md has no pasted BatchRejected message"
    produced = _run("errors.md", tmp_path, monkeypatch)["message"]
    assert pasted.group(1) == produced
    # and it has the form errors.md describes
    form = (
        r"column '[^']+': \d+ of \d+ rows [^(]+ \(e\.g\. '.+' at row \d+, prediction_id '.+'\)\. "
        r"Fix: .+\. Nothing was written\."
    )
    assert re.fullmatch(form, produced), produced


def _refusal_texts() -> list[str]:
    """The fixed parts of every BatchRejected problem the ingest can raise, read from the code."""
    position = {"Check": 2, "_reject": 1, "BatchRejected": 0}
    found = []
    for path in ("ingest/plan.py", "ingest/sources.py", "store/_batch.py"):
        tree = ast.parse((SRC / path).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            index = position.get(str(name))
            if index is None or len(node.args) <= index:
                continue
            arg = node.args[index]
            parts = arg.values if isinstance(arg, ast.JoinedStr) else [arg]
            for part in parts:
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    piece = " ".join(part.value.split())
                    if len(piece) >= 6:
                        found.append(piece)
    return found


def test_every_refusal_is_documented() -> None:
    doc = " ".join(_text("errors.md").split())
    texts = _refusal_texts()
    assert len(texts) > 40, "the scan of the ingest code found too few refusals"
    missing = sorted({t for t in texts if t not in doc})
    assert not missing, f"refusals without a row in docs/errors.md: {missing}"


def test_schema_files_shown_are_valid(tmp_path: Path) -> None:
    shown = [yaml.safe_load(code) for _, code in _blocks("schema.md", "yaml")]
    shown += [json.loads(code) for _, code in _blocks("schema.md", "json")]
    assert len(shown) == 2
    schemas = [es.Schema.from_dict(data) for data in shown]
    assert schemas[0] == schemas[1], "the YAML and JSON examples should be the same schema"
    target = tmp_path / "schema.yaml"
    target.write_text(_blocks("schema.md", "yaml")[0][1], encoding="utf-8")
    assert es.Schema.from_file(target) == schemas[0]


def test_docs_name_what_the_code_has() -> None:
    schema_doc, concepts = _text("schema.md"), _text("concepts.md")
    for field in es.Schema.__dataclass_fields__:
        assert f"| `{field}` |" in schema_doc, f"Schema.{field} missing from the fields table"
    for task in es.Task:
        assert f"`{task.value}`" in concepts and f"`{task.value}`" in schema_doc, task
    for environment in ENVIRONMENTS:
        assert f"`{environment}`" in concepts, environment
    for column in RESERVED_COLUMNS:
        assert f"`{column}`" in concepts, column


def test_exception_tree_is_the_code_tree() -> None:
    tree = next(code for _, code in _blocks("errors.md", "text") if "EvalstoreError" in code)
    code_tree = [line.strip() for line in (errors.__doc__ or "").splitlines() if "──" in line]
    doc_tree = [line.strip() for line in tree.splitlines() if "──" in line]
    assert doc_tree == code_tree
    for name in errors.__all__:
        assert name in tree and hasattr(es, name), name


def test_the_serve_section_says_what_a_keyed_server_answers() -> None:
    # it said a server with a key "answers its pages with 401"; browsers are sent to /login
    # (tests/test_ui_login.py holds the server to that) and only the API answers 401
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    section = text[text.index("## `evalstore serve`") :]
    section = " ".join(section[: section.index("```")].split())
    assert "pages with 401" not in section
    assert "`/login`" in section and "ui.md#signing-in" in section
    assert "under `/api/` without the key gets 401" in section
    ui = " ".join((DOCS / "ui.md").read_text(encoding="utf-8").split())
    assert "sends the browser to `/login?next=<the page>`" in ui


def metrics_table() -> str:
    """The table of docs/metrics.md, from the registry: one row per metric."""
    from evalstore.analyses.metrics import available_metrics
    from evalstore.schema import Task

    short = {Task.BINARY_CLASSIFICATION: "binary", Task.MULTICLASS_CLASSIFICATION: "multiclass",
             Task.REGRESSION: "regression"}  # fmt: skip
    better = {True: "higher", False: "lower", None: "-"}
    rows = [
        "| metric | tasks | better | needs | interval | default for | what it is |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in available_metrics():
        tasks = ", ".join(short[t] for t in Task if t in m.tasks)
        default = ", ".join(short[t] for t in Task if t in m.default) or "-"
        needs = ", ".join(sorted(m.needs)) or "-"
        what = m.description.replace("|", "\\|")
        rows.append(
            f"| `{m.key}` | {tasks} | {better[m.higher_is_better]} | {needs} | "
            f"{m.interval or '-'} | {default} | {what} |"
        )
    return "\n".join(rows)


def test_the_metrics_table_is_the_registry() -> None:
    """docs/metrics.md lists every registered metric as the registry describes it
    (regenerate with ``python -c "import sys; sys.path.insert(0, 'tests');
    from test_docs import metrics_table; print(metrics_table())"``)."""
    text = _text("metrics.md")
    assert metrics_table() in text
