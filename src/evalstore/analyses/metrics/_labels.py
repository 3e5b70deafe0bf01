"""Is a positive class one of the model's labels?

A value of the right type that no label holds (``positive_class=7`` on 0/1 labels) would
give no positives at all: precision and recall of None on n=0, with nothing to say why.
The check asks the model's rows, not the selection's: a class that is simply absent from a
window (a quiet day) is a valid question whose answer is "no positives here".

Cost: one ``LIMIT 1`` lookup, run only for a ``positive_class`` the caller gave (the
defaults, ``True`` and ``1``, are not checked); the labels are listed only when the value
is not among them.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from evalstore.errors import ParameterError

__all__ = ["check_positive_class"]

LABELS = ("prediction_label", "actual_label")
SHOWN = 20


def _model_rows(ds: Any) -> tuple[ir.Table, Any]:
    """Every row of the dataset's model (any environment, version or time), and what runs
    an expression on them; a dataset-like object without a store answers for itself."""
    store: Any = getattr(ds, "_store", None)
    model_id = getattr(ds, "model_id", None)
    if model_id is not None and callable(getattr(store, "inferences", None)):
        return store.with_actuals(model_id, store.inferences(model_id)), store.execute
    return ds.table, ds.execute


def check_positive_class(ds: Any, given: Any, positive_class: Any) -> None:
    """Raise ParameterError when ``given`` (the caller's value, typed as ``positive_class``)
    is no label of the model's rows; None (the default) is not checked."""
    if given is None:
        return
    table, execute = _model_rows(ds)
    names = [c for c in LABELS if c in table.columns and not table[c].type().is_null()]
    if not names:
        return  # scores only: no labels to compare with
    hit = ibis.or_(*[table[c] == positive_class for c in names])
    found: pa.Table = execute(table.filter(hit).select(found=ibis.literal(1)).limit(1))
    if found.num_rows:
        return
    values = ibis.union(*[table.select(label=table[c]) for c in names], distinct=True)
    values = values.filter(values.label.notnull()).order_by("label").limit(SHOWN + 1)
    seen = [v.as_py() for v in execute(values).column("label")]
    if not seen:
        return  # no label logged yet (actuals may come later): nothing to tell it from
    shown = ", ".join(repr(v) for v in seen[:SHOWN])
    more = ", ..." if len(seen) > SHOWN else ""
    raise ParameterError(
        "positive_class",
        "one of the model's labels",
        given,
        f"The labels logged are {shown}{more}; pass one of them.",
    )
