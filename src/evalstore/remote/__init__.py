"""The SDK over HTTP: ``es.connect("http://host:port")`` talks to an evalstore server.

::

    import evalstore as es

    store = es.connect("http://127.0.0.1:8080", api_key=None)   # `evalstore serve` runs it
    model = store.model("churn", task="binary_classification")
    report = model.log(df, schema=schema, version="v3", environment="production")
    model.log_actuals(labels, prediction_id="id", actual="churned")
    model.info(); model.versions(); model.batches(); store.models(); store.info()

The same calls as the embedded store, returning the same types (``BatchReport``,
``ModelInfo``, ``StoreInfo``), raising the same exceptions with the same messages
(``BatchRejected``, ``ModelNotFound``...); what only HTTP can go wrong with (no server
at the URL, a wrong API key, a body over the server's limit) is a ``ServerError``.

A batch of any size goes as an upload: the data is read as the embedded SDK reads it (a
DataFrame slice by slice, a Parquet file row group by row group), sent as Arrow IPC
chunks, then committed; the server writes it to the store at the commit, in one
transaction. A chunk or a commit that fails on the way is sent again, and that cannot
duplicate a row: chunk ``n`` sent twice is chunk ``n``, and a commit sent twice answers
the first commit's report.

The analyses run in the server, next to the data, and come back as the embedded types::

    model.report("training", {"environment": "production", "start": "2024-06-01"})  # Report
    model.performance("production", ["accuracy"], by="day")     # PerformanceResult
    model.drift("training", "production")                        # DriftResult
    model.drift_over_time("training", "production", by="week")   # DriftOverTime
    model.quality("production", reference="training")            # QualityResult
    model.slices("production", "accuracy", reference="training") # SliceResult
    model.create_baseline("training", environment="training")    # Baseline
    model.baseline("training"); model.baselines()

A selection is a name (a stored baseline's, else an environment's), a dict of
``model.dataset()`` arguments (``where`` a dict of column -> value(s)), or a stored
``Baseline``; a ``Dataset`` object cannot travel, give its selection as a dict.

Rows come back lazily, as the embedded ``Dataset`` reads them, streamed as Arrow::

    ds = model.dataset(environment="production", where={"region": "EU"})   # RemoteDataset
    ds.count(); ds.columns; ds.to_pandas(); ds.to_arrow(columns=["score"], limit=1000)

An Ibis expression cannot travel either: ``ds.table`` and ``ds.execute()`` raise
``NotSupported``; the analyses above run in the server instead.
"""

from __future__ import annotations

from evalstore.remote._dataset import RemoteDataset
from evalstore.remote._model import RemoteModel
from evalstore.remote._store import RemoteStore

# where it always was, for the tests that build upload chunks by hand
from evalstore.remote._upload import _ipc as _ipc

__all__ = ["RemoteDataset", "RemoteModel", "RemoteStore"]
