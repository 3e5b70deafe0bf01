"""The ``evalstore`` command: log files, list models, show the store, run the demo.

Every command takes ``--store PATH`` (default ``$EVALSTORE_HOME``, else
``~/.evalstore``). On failure a command prints one line, ``error: ...``, and
exits with status 1 (2 for a usage error).
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from evalstore import __version__
from evalstore.errors import (
    EvalstoreError,
    ParameterError,
    UnmatchedActualsWarning,
    unmatched_actuals,
)

if TYPE_CHECKING:
    from evalstore.sdk import Store

# The store's stack (evalstore.sdk: ibis, DuckDB, SQLAlchemy, pyarrow) and rich's tables are
# imported inside the commands that use them: `evalstore --help` and a mistyped option
# then answer at once, and each command imports only what it runs.

__all__ = ["app", "main"]

app = typer.Typer(
    name="evalstore",
    help="ML observability backed by an evaluation store: log every inference, attach late "
    "actuals, and see how your models are doing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
# Piped output gets room for the tables rather than the 80 columns rich assumes.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)

StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="Store folder (default: $EVALSTORE_HOME, else ~/.evalstore).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ProgressOption = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help="Show a progress bar (default: on a terminal, for large files).",
        show_default=False,
    ),
]

T = TypeVar("T")


def _local_store(path: Path | None) -> None:
    """Refuse a --store that is a server's URL: the commands open a store on this machine."""
    from evalstore._settings import as_url

    url = as_url(path) if path is not None else None
    if url is not None:
        _fail(
            f"--store must be a store folder on this machine; got {url!r}. The command line "
            "has no remote mode: run the command on the server's machine with --store set to "
            f"its store folder, or use the server's REST API ({url.rstrip('/')}/docs) or, in "
            f'Python, es.connect("{url}").'
        )


@contextmanager
def _store(path: Path | None) -> Iterator[Store]:
    from evalstore.sdk import connect

    _local_store(path)
    with connect(path) as store:
        yield store


def _fail(message: str) -> None:
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(1)


#: the Python API's advice in error messages, as a shell user follows it
_SHELL_ADVICE = {
    "Create it with store.model(name, task=...).": (
        "Create it by logging to it: evalstore log FILE --model NAME --task TASK "
        "(see evalstore log --help)."
    ),
    "Create one with model.create_baseline(name, environment=...).": (
        "Create one with: evalstore baseline create NAME --model MODEL --environment ENV."
    ),
    "(model.info() shows what the store holds)": "(evalstore models shows what the store holds)",
    "Give current a later start": "Give --current a later start",
}


#: parameters of the Python API that the commands take as these flags (a command uses those of
#: them that it has: the report command has no --version, and names its sides' parts as theirs)
_FLAGS = {
    "window": "--window",
    "metrics": "--metric",
    "metric": "--metric",
    "start": "--start",
    "end": "--end",
    "environment": "--environment",
    "version": "--version",
    "positive_class": "--positive-class",
    "moving_days": "--moving-days",
    "reference": "--reference",
    "current": "--current",
}


def _for_the_shell(exc: EvalstoreError, flags: Collection[str] = ()) -> str:
    """``exc``'s message as a shell user reads it: a parameter named as its flag (a flag
    left out is None, so 'None or' goes), the advice given as commands. ``flags``: the
    command's options; a parameter is named as a flag only when the command has that flag.
    A part of a flag's value (``current.environment``, raised for ``--current
    environment=prod``) is named after the flag: ``--current: environment must be ...``."""
    message = str(exc)
    name = exc.name if isinstance(exc, ParameterError) else None
    if name is not None and message.startswith(f"{name} must be "):
        rest = message[len(f"{name} must be ") :].removeprefix("None or ")
        outer, dot, part = name.partition(".")
        if _FLAGS.get(name) in flags:
            message = f"{_FLAGS[name]} must be {rest}"
        elif dot and _FLAGS.get(outer) in flags:
            message = f"{_FLAGS[outer]}: {part} must be {rest}"
    for python, shell in _SHELL_ADVICE.items():
        message = message.replace(python, shell)
    return message


def _run(fn: Callable[[], T], ctx: typer.Context) -> T:
    """Run the body of the command ``ctx`` runs; evalstore errors become one line on stderr
    and exit status 1, in the shell's words (they are written for the Python API) and with
    the flags of that command."""
    try:
        return fn()
    except EvalstoreError as exc:
        flags = {opt for param in ctx.command.params for opt in param.opts}
        _fail(_for_the_shell(exc, flags))
        raise AssertionError("unreachable") from None


def _version_callback(value: bool) -> None:
    if value:
        out.print(f"evalstore {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """evalstore: ML observability backed by an evaluation store."""


@app.command("log")
def log_cmd(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="A Parquet or CSV file of inferences.", show_default=False)
    ],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name.", show_default=False)],
    version: Annotated[
        str, typer.Option("--version", "-v", help="Model version.", show_default=False)
    ],
    environment: Annotated[
        str,
        typer.Option(
            "--environment", "-e", help="training, validation or production.", show_default=False
        ),
    ],
    schema: Annotated[
        Path,
        typer.Option(
            "--schema",
            "-s",
            help="Schema file (YAML or JSON) naming the columns' roles.",
            show_default=False,
        ),
    ],
    task: Annotated[
        str | None,
        typer.Option(
            "--task",
            help="Task, to create a new model: binary_classification, "
            "multiclass_classification or regression.",
            show_default=False,
        ),
    ] = None,
    store: StoreOption = None,
    progress: ProgressOption = None,
) -> None:
    """Log a file of inferences as one batch: all rows are written, or none.

    Example: evalstore log preds.parquet --model churn --version v3 --environment production
    --schema schema.yaml
    """

    from evalstore.schema import Schema
    from evalstore.sdk import check_environment, check_name

    def body() -> None:
        parsed = Schema.from_file(schema)
        check_environment(environment)  # before a new model is created
        check_name(version, "version")
        with _store(store) as s:
            report = s.model(model, task=task).log(
                file, schema=parsed, version=version, environment=environment, progress=progress
            )
        extra = f", replacing {report.replaced:,} earlier rows" if report.replaced else ""
        acts = f", {report.actuals:,} actuals" if report.actuals else ""
        out.print(
            f"logged {report.rows:,} inferences{acts} to {model} {version} ({environment})"
            f" as batch {report.batch_id}{extra} in {report.seconds:.2f} s"
        )

    _run(body, ctx)


@app.command("log-actuals")
def log_actuals_cmd(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="A Parquet or CSV file of actual outcomes.", show_default=False)
    ],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name.", show_default=False)],
    prediction_id: Annotated[
        str,
        typer.Option(
            "--prediction-id",
            help="Column with the prediction id the actual belongs to.",
            show_default=False,
        ),
    ],
    actual: Annotated[
        str,
        typer.Option(
            "--actual",
            help="Column with the true class (classification) or value (regression).",
            show_default=False,
        ),
    ],
    environment: Annotated[
        str, typer.Option("--environment", "-e", help="Environment of the predictions.")
    ] = "production",
    store: StoreOption = None,
    progress: ProgressOption = None,
) -> None:
    """Log actual outcomes, joined to their predictions by prediction id (late or early).

    Example: evalstore log-actuals labels.csv --model churn --prediction-id id --actual churned
    """

    from evalstore.sdk import check_environment

    def body() -> None:
        check_environment(environment)
        with _store(store) as s, warnings.catch_warnings():
            # said below as a note, from the report (other warnings still show)
            warnings.simplefilter("ignore", UnmatchedActualsWarning)
            report = s.model(model).log_actuals(
                file,
                prediction_id=prediction_id,
                actual=actual,
                environment=environment,
                progress=progress,
            )
        extra = (
            f", replacing the earlier actual of {report.replaced:,} of them"
            if report.replaced
            else ""
        )
        out.print(
            f"logged {report.rows:,} actuals to {model} ({environment}) as batch "
            f"{report.batch_id} in {report.seconds:.2f} s; they joined "
            f"{report.matched or 0:,} logged predictions{extra}"
        )
        if report.elsewhere:  # the ids are predictions of another environment
            said = unmatched_actuals(report.rows, environment, report.elsewhere)
            text = said.replace("environment=", "--environment ")
            out.print(f"note: {text}", markup=False)
        elif not report.matched:
            out.print(
                f"note: no {environment} prediction of {model} has these ids yet. The "
                "actuals are kept and join predictions logged later with the same ids; if "
                "they were logged already, check --prediction-id and --environment."
            )

    _run(body, ctx)


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "-"


@app.command("models")
def models_cmd(ctx: typer.Context, store: StoreOption = None, as_json: JsonOption = False) -> None:
    """List the models in the store with their versions, rows and actuals."""
    from rich.table import Table

    def body() -> None:
        with _store(store) as s:
            infos = s.models()
        if as_json:
            out.print_json(json.dumps([i.to_dict() for i in infos], default=str))
            return
        if not infos:
            out.print("no models yet: log some with `evalstore log` or try `evalstore demo`")
            return
        table = Table(
            "model", "task", "versions", "environment", "rows", "with actuals", "first", "last"
        )
        for info in infos:
            envs = sorted(info.rows) or ["-"]
            for i, env in enumerate(envs):
                table.add_row(
                    info.name if i == 0 else "",
                    info.task if i == 0 else "",
                    ", ".join(info.versions) if i == 0 else "",
                    env,
                    f"{info.rows.get(env, 0):,}",
                    f"{info.with_actuals.get(env, 0):,}",
                    _when(info.ranges.get(env, [None, None])[0]),
                    _when(info.ranges.get(env, [None, None])[1]),
                )
        out.print(table)

    _run(body, ctx)


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} B"


@app.command("info")
def info_cmd(ctx: typer.Context, store: StoreOption = None, as_json: JsonOption = False) -> None:
    """Show where the store is, what it holds and its size on disk."""

    def body() -> None:
        with _store(store) as s:
            info = s.info()
        if as_json:
            out.print_json(json.dumps(info.to_dict()))
            return
        out.print(f"store:     {info.home}")
        out.print(f"data:      {info.data_file} ({_size(info.size_bytes)})")
        out.print(f"metadata:  {info.metadata_url}")
        out.print(f"models:    {info.models:,}")
        out.print(f"rows:      {info.rows:,} inferences in {info.batches:,} batches")

    _run(body, ctx)


@app.command("demo")
def demo_cmd(
    ctx: typer.Context,
    store: StoreOption = None,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve",
            help="After loading, serve the store and its web UI until Ctrl+C "
            "(--no-serve: only load, for scripts and CI).",
        ),
    ] = True,
    port: Annotated[
        int, typer.Option("--port", help="Port the web UI listens on (0: any free one).")
    ] = 8080,
) -> None:
    """Train a real model on real data (2011 Capital Bikeshare) and log it, offline; then
    serve the web UI on it.

    Logs training and validation with their outcomes, production month by month
    without them, then delivers the production outcomes late; prints what the
    store holds and how the model's error moved; then starts the server (the web UI
    and the REST API, on 127.0.0.1) and prints the URL to open.
    """
    from rich.table import Table

    from evalstore.demo import MODEL_NAME, REPORT_FILE, run_demo

    def body() -> None:
        with _store(store) as s:
            out.print(f"evalstore demo, store at {s.location.home}")
            result = run_demo(s, say=lambda m: out.print(f"  {m}"))
            info = s.model(MODEL_NAME).info()
        table = Table(
            "environment",
            "rows",
            "with actuals",
            "MAE (bikes/hour)",
            title=f"{MODEL_NAME}: what the store holds",
        )
        for env in ("training", "validation", "production"):
            table.add_row(
                env,
                f"{result.rows.get(env, 0):,}",
                f"{result.with_actuals.get(env, 0):,}",
                f"{result.mae.get(env, 0):.1f}",
            )
        out.print(table)
        months = Table("month", "MAE (bikes/hour)", title="production error by month")
        for month, mae in result.mae_by_month.items():
            months.add_row(month, f"{mae:.1f}")
        out.print(months)
        shifted = Table("feature", "PSI", "drifted", title="what changed: training -> production")
        for column, psi, drifted in result.drift:
            shifted.add_row(column, f"{psi:.3f}", "yes" if drifted else "")
        out.print(shifted)
        worst = max(result.mae_by_month, key=result.mae_by_month.__getitem__)
        ratio = result.mae_by_month[worst] / result.mae["validation"]
        moved = [c for c, _, drifted in result.drift if drifted]
        out.print(
            f"Production error peaks in {worst} at {ratio:.1f}x the validation error: the "
            "model learned January-March and serves the rest of the year; "
            f"{len(moved)} of {len(result.drift)} features drifted ({', '.join(moved[:4])}...)."
        )
        out.print("Report, production against the training baseline:")
        for item in result.report.summary:
            out.print(f"  [{item['status']}] {item['text']}", markup=False)
        path = result.report.save_html(s.location.home / REPORT_FILE)
        out.print(f"Full report (one offline HTML file): {path}", markup=False)
        # while the server runs it owns the store: the command works once it stopped
        command = "evalstore models" + (f" --store {store}" if store else "")
        later = f"Once the server stopped, try: {command}" if serve else f"Try: {command}"
        out.print(f"Versions: {', '.join(info.versions)}. {later}")
        if serve:  # the store is closed: the server owns it now
            from evalstore.server import serve as serve_store

            out.print("Serving the web UI (Ctrl+C to stop):")
            serve_store(
                store,
                port=port,
                page=f"/models/{MODEL_NAME}",
                say=lambda m: out.print(f"  {m}", markup=False),
            )

    _run(body, ctx)


# Command groups in their own modules register themselves on ``app`` when imported.
from evalstore.cli import report as _report  # noqa: E402

del _report


@app.command("serve")
def serve_cmd(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option("--host", help="Address to listen on; any but loopback needs an API key."),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on (0: any free one).")
    ] = 8080,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="EVALSTORE_API_KEY",
            help="Key every request must carry (Authorization: Bearer KEY); prefer the "
            "environment variable, which other users cannot see in the process list.",
            show_default=False,
        ),
    ] = None,
    max_body_size: Annotated[
        str,
        typer.Option("--max-body-size", help="Largest request body accepted, e.g. 256MB, 1GiB."),
    ] = "256MB",
    store: StoreOption = None,
) -> None:
    """Serve the store over HTTP: the REST API (docs at /docs) and es.connect("http://...").

    The server owns the store file; any number of processes then log to it through
    es.connect("http://127.0.0.1:8080"). Stops on Ctrl+C or SIGTERM once the batch being
    written is committed.
    """

    def body() -> None:
        from evalstore.server import serve

        _local_store(store)
        serve(
            store,
            host=host,
            port=port,
            api_key=api_key,
            max_body_size=max_body_size,
            say=lambda m: out.print(m, markup=False),
        )

    _run(body, ctx)


def main() -> None:
    """Entry point of the ``evalstore`` command."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted: the batch in progress was not written")
        sys.exit(130)
