"""``evalstore report`` and ``evalstore baseline``: compare two selections from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalstore.cli import (
    JsonOption,
    ProgressOption,
    StoreOption,
    _run,
    _size,
    _store,
    app,
    err,
    out,
)
from evalstore.errors import ParameterError
from evalstore.selection import parse_selection

__all__ = ["parse_selection"]  # kept here for the CLI; it lives in evalstore.selection

baseline_app = typer.Typer(
    help="Create and list baselines: a reference selection with its fitted bins, "
    "expectations and performance, stored and versioned.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(baseline_app, name="baseline")

_FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".json": "json"}

PositiveClassOption = Annotated[
    str | None,
    typer.Option(
        "--positive-class",
        help="Binary models: the label counted as positive, e.g. yes (text labels need it; "
        "default: the baseline's, else true / 1 for boolean / integer labels).",
        show_default=False,
    ),
]


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    model: Annotated[str, typer.Option("--model", "-m", help="Model name.", show_default=False)],
    reference: Annotated[
        str,
        typer.Option(
            "--reference",
            "-r",
            help="What to compare against: a baseline or environment name, baseline=NAME[@N], "
            "or environment=...,version=...,start=...,end=...",
            show_default=False,
        ),
    ],
    current: Annotated[
        str,
        typer.Option(
            "--current",
            "-c",
            help="What to check: an environment name or environment=...,version=...,"
            "start=...,end=...",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write the report here: .html (self-contained page), .md or .json. "
            "Without it, print the Markdown summary.",
            show_default=False,
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            help="A metric to compute (repeat; default: the task's).",
            show_default=False,
        ),
    ] = None,
    window: Annotated[
        str | None,
        typer.Option(
            "--window",
            help="hour, day, week, month or year (default: by the span).",
            show_default=False,
        ),
    ] = None,
    positive_class: PositiveClassOption = None,
    store: StoreOption = None,
    progress: ProgressOption = None,
) -> None:
    """Performance, drift, data quality and worst slices of --current against --reference."""

    def body() -> None:
        fmt = "markdown"
        if output is not None:
            fmt = _FORMATS.get(output.suffix.lower(), "")
            if not fmt:
                raise ParameterError("--out", "a path ending in .html, .md or .json", str(output))
        from evalstore.analyses.baseline import Baseline
        from evalstore.analyses.metrics._inputs import parse_positive_class, require_positive_class
        from evalstore.dataset import Dataset

        with _store(store) as s:
            m = s.model(model)
            # named as the Python arguments, which the shell's words name as --reference and
            # --current, with the part of the value at fault (--current: environment ...)
            ref_sel = m._selection(reference, "reference", baselines=True)
            cur_ds = m._selection(current, "current", baselines=False)
            assert isinstance(cur_ds, Dataset)  # without baselines, a selection is rows
            positive = parse_positive_class(cur_ds.table, positive_class, "--positive-class")
            stored = ref_sel.positive_class if isinstance(ref_sel, Baseline) else None
            given = positive if positive is not None else stored
            require_positive_class(cur_ds, given, "evalstore report", "--positive-class")
            result = m.report(
                ref_sel,
                cur_ds,
                metrics=metric or None,
                window=window,
                progress=progress,
                positive_class=positive,
            )
        if output is None:
            out.print(result.to_markdown(), markup=False)
            return
        if fmt == "html":
            result.save_html(output)
        elif fmt == "markdown":
            result.save_markdown(output)
        else:
            output.write_text(result.to_json(indent=2), encoding="utf-8")
        for item in result.summary:
            out.print(f"[{item['status']}] {item['text']}", markup=False)
        out.print(f"wrote {output} ({_size(output.stat().st_size)})", markup=False)

    _run(body, ctx)


@baseline_app.command("create")
def baseline_create_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Baseline name.", show_default=False)],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name.", show_default=False)],
    environment: Annotated[
        str | None,
        typer.Option(
            "--environment", "-e", help="training, validation or production.", show_default=False
        ),
    ] = None,
    version: Annotated[
        str | None,
        typer.Option("--version", "-v", help="Model version.", show_default=False),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option("--start", help="First timestamp (inclusive, UTC).", show_default=False),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--end", help="End timestamp (exclusive, UTC).", show_default=False),
    ] = None,
    moving_days: Annotated[
        int | None,
        typer.Option(
            "--moving-days",
            help="A moving baseline: the N days before the current data.",
            show_default=False,
        ),
    ] = None,
    positive_class: PositiveClassOption = None,
    store: StoreOption = None,
) -> None:
    """Fit a baseline on a selection and store it (a new version when the name exists)."""

    def body() -> None:
        from evalstore.analyses.metrics._inputs import parse_positive_class, require_positive_class

        with _store(store) as s:
            m = s.model(model)
            chosen = m.dataset(environment=environment, version=version, start=start, end=end)
            positive = parse_positive_class(chosen.table, positive_class, "--positive-class")
            require_positive_class(
                chosen, positive, "evalstore baseline create", "--positive-class"
            )
            base = m.create_baseline(
                name,
                environment=environment,
                version=version,
                start=start,
                end=end,
                moving_days=moving_days,
                positive_class=positive,
            )
        rows = "moving" if base.is_moving else f"{base.n_rows_:,} rows"
        out.print(
            f"baseline {base.name} version {base.version}: {base.selector.describe()} "
            f"({rows}, {len(base.binnings_)} columns binned)",
            markup=False,
        )

    _run(body, ctx)


@baseline_app.command("list")
def baseline_list_cmd(
    ctx: typer.Context,
    model: Annotated[str, typer.Option("--model", "-m", help="Model name.", show_default=False)],
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every baseline of a model with its latest version."""

    def body() -> None:
        import json

        with _store(store) as s:
            found = s.model(model).baselines()
        if as_json:
            out.print(json.dumps(found, default=str), markup=False)
            return
        if not found:
            err.print(
                f"model {model!r} has no baseline yet; create one with "
                f"'evalstore baseline create NAME --model {model} --environment training'",
                markup=False,
            )
            return
        for b in found:
            out.print(f"{b['name']}\tversion {b['version']}\t{b['created_at']}", markup=False)

    _run(body, ctx)
