"""What a multiclass model's metrics read from incomplete or tied score vectors, against
scikit-learn and NumPy on the same rows under the documented rule (docs/analyses.md):

- a class score a row lacks (a version that did not log that class's column, or a
  missing value) is 0, and the row counts in every metric;
- an argmax tie goes to the first class in the classes' natural order (numeric for
  integer classes), as ``numpy.argmax``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

import evalstore as es
from test_metrics import expected_metrics

CLASSES = ("ant", "bee", "cat")
SCORES = {c: f"p_{c}" for c in CLASSES}
KEYS = ["accuracy", "f1_macro", "log_loss", "brier", "roc_auc_exact", "ece"]


def _probs(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    raw = rng.random((n, k))
    return np.asarray(raw / raw.sum(axis=1, keepdims=True))


def _frame(rng: np.random.Generator, n: int, start: int = 0) -> pd.DataFrame:
    probs = _probs(rng, n, len(CLASSES))
    frame = pd.DataFrame({"id": np.arange(start, start + n), "x": rng.random(n)})
    for i, c in enumerate(CLASSES):
        frame[f"p_{c}"] = probs[:, i]
    frame["y"] = [CLASSES[rng.choice(len(CLASSES), p=p)] for p in probs]
    return frame


def _oracle(frame: pd.DataFrame) -> dict[str, object]:
    """test_metrics' scikit-learn oracle on ``frame``, a missing score read as 0 and the
    predicted class the argmax of the completed vector."""
    full = frame.copy()
    for c in CLASSES:
        full[f"p_{c}"] = full[f"p_{c}"].fillna(0.0)
    scores = full[[f"p_{c}" for c in CLASSES]].to_numpy()
    full["pred"] = np.array(CLASSES)[scores.argmax(axis=1)]
    return expected_metrics("multiclass_classification", full, KEYS)


def _check(result: es.PerformanceResult, want: dict[str, object], n: int, **group: str) -> None:
    for key in KEYS:
        row = result.get(key, **group)
        assert row["n"] == n, (key, row["n"])
        assert row["value"] == pytest.approx(want[key], abs=1e-9), key


def test_a_class_a_version_did_not_log_scores_zero(store: es.Store) -> None:
    """v2, retrained without 'cat', logs two score columns and no label: its rows all count,
    'cat' scored 0 (the trial's 3,000 rows came out n=0, as if none had an actual)."""
    rng = np.random.default_rng(7)
    model = store.model("mc", task="multiclass_classification")
    v1 = _frame(rng, 300)
    schema = es.Schema(
        prediction_id="id", features=["x"], prediction_score=SCORES, actual_label="y"
    )
    model.log(v1, schema=schema, version="v1", environment="validation")
    v2 = _frame(rng, 400, start=1000)
    v2["p_cat"] = np.nan
    two = v2[["p_ant", "p_bee"]].to_numpy()
    v2[["p_ant", "p_bee"]] = two / two.sum(axis=1, keepdims=True)
    schema2 = es.Schema(
        prediction_id="id",
        features=["x"],
        prediction_score={c: SCORES[c] for c in ("ant", "bee")},
        actual_label="y",
    )
    model.log(v2.drop(columns="p_cat"), schema=schema2, version="v2", environment="validation")
    result = model.performance("validation", KEYS, by="version")
    _check(result, _oracle(v2), 400, version="v2")
    _check(result, _oracle(v1), 300, version="v1")
    # scikit-learn's own multiclass log loss and OvR AUC on the completed vectors
    completed = v2[["p_ant", "p_bee", "p_cat"]].fillna(0.0).to_numpy()
    loss = skm.log_loss(v2["y"], completed, labels=list(CLASSES))
    assert result.value("log_loss", version="v2") == pytest.approx(loss, rel=1e-9)
    auc = skm.roc_auc_score(v2["y"], completed, multi_class="ovr", labels=list(CLASSES))
    assert result.value("roc_auc_exact", version="v2") == pytest.approx(auc, rel=1e-9)


def test_a_missing_class_score_in_a_logged_column_scores_zero(store: es.Store) -> None:
    """A NaN (missing) class score in a column the batch logs: the row counts, the score 0
    (the trial's 100 such rows of 1,000 vanished from accuracy with nothing said)."""
    rng = np.random.default_rng(11)
    frame = _frame(rng, 500)
    # the 60 rows' other two scores sum to 1 (scikit-learn's multiclass AUC asks it)
    two = frame.loc[:59, ["p_ant", "p_bee"]].to_numpy()
    frame.loc[:59, ["p_ant", "p_bee"]] = two / two.sum(axis=1, keepdims=True)
    frame.loc[:59, "p_cat"] = np.nan
    model = store.model("mc", task="multiclass_classification")
    schema = es.Schema(
        prediction_id="id", features=["x"], prediction_score=SCORES, actual_label="y"
    )
    model.log(frame, schema=schema, version="v1", environment="validation")
    result = model.performance("validation", KEYS)
    want = _oracle(frame)
    for key in ("accuracy", "f1_macro", "roc_auc_exact", "ece"):
        row = result.get(key)
        assert row["n"] == 500, key
        assert row["value"] == pytest.approx(want[key], abs=1e-9), key
    # log loss by hand too: -ln p(actual), clipped to [eps, 1 - eps]
    scores = frame[[f"p_{c}" for c in CLASSES]].fillna(0.0).to_numpy()
    p_true = scores[np.arange(len(frame)), [CLASSES.index(y) for y in frame["y"]]]
    eps = np.finfo(np.float64).eps
    loss = float(np.mean(-np.log(np.clip(p_true, eps, 1 - eps))))
    assert result.get("log_loss")["n"] == 500
    assert result.value("log_loss") == pytest.approx(loss, rel=1e-9)


def test_a_row_without_any_class_score_is_left_out_of_score_metrics(store: es.Store) -> None:
    """A row with a label and no score at all has no score vector (not [0, 0, 0])."""
    rng = np.random.default_rng(3)
    frame = _frame(rng, 40)
    frame["pred"] = np.array(CLASSES)[frame[list(SCORES.values())].to_numpy().argmax(axis=1)]
    frame.loc[:9, list(SCORES.values())] = np.nan
    model = store.model("mc", task="multiclass_classification")
    schema = es.Schema(
        prediction_id="id",
        features=["x"],
        prediction_score=SCORES,
        prediction_label="pred",
        actual_label="y",
    )
    model.log(frame, schema=schema, version="v1", environment="validation")
    result = model.performance("validation", ["accuracy", "log_loss"])
    assert result.get("accuracy")["n"] == 40
    assert result.value("accuracy") == pytest.approx(skm.accuracy_score(frame["y"], frame["pred"]))
    assert result.get("log_loss")["n"] == 30


@pytest.mark.parametrize(
    ("classes", "labels"),
    [((1, 2, 10), [2, 2, 10, 1]), ((3, 20, 100), [20, 100, 3, 20])],
)
def test_argmax_ties_follow_numpy_over_integer_classes(
    store: es.Store, classes: tuple[int, ...], labels: list[int]
) -> None:
    """Integer classes tie-break in numeric order, as numpy.argmax: not '10' before '2'."""
    scores = np.array([[0.2, 0.4, 0.4], [0.4, 0.4, 0.2], [0.3, 0.3, 0.4], [1 / 3, 1 / 3, 1 / 3]])
    frame = pd.DataFrame({"id": ["a", "b", "c", "d"], "x": [1.0, 2.0, 3.0, 4.0], "y": labels})
    names = {c: f"p{c}" for c in classes}
    for i, c in enumerate(classes):
        frame[names[c]] = scores[:, i]
    model = store.model("tie", task="multiclass_classification")
    schema = es.Schema(prediction_id="id", features=["x"], prediction_score=names, actual_label="y")
    model.log(frame, schema=schema, version="v1", environment="production")
    predicted = np.array(classes)[scores.argmax(axis=1)]
    result = model.performance("production", ["accuracy", "confusion_matrix"])
    assert result.value("accuracy") == pytest.approx(skm.accuracy_score(labels, predicted))
    detail = result.get("confusion_matrix")["detail"]
    cells = {
        (a, p): detail["matrix"][i][j]
        for i, a in enumerate(detail["labels"])
        for j, p in enumerate(detail["labels"])
    }
    want = pd.crosstab(pd.Series(labels).astype(str), pd.Series(predicted).astype(str))
    for a in want.index:
        for p in want.columns:
            assert cells.get((a, p), 0) == want.loc[a, p], (a, p)


def _digits_frame() -> tuple[pd.DataFrame, dict[int, str]]:
    """scikit-learn's digits, relabelled 1..10, scored by a small logistic regression."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    x, digit = load_digits(return_X_y=True)
    fit = LogisticRegression(max_iter=300).fit(x[::2], digit[::2])
    probs = fit.predict_proba(x)
    frame = pd.DataFrame({"id": np.arange(len(x)), "x": x[:, 20], "y": digit + 1})
    names = {int(c) + 1: f"p{int(c) + 1}" for c in fit.classes_}
    for i, c in enumerate(names):
        frame[names[c]] = probs[:, i]
    return frame, names


def test_integer_classes_are_listed_in_numeric_order(store: es.Store) -> None:
    """Classes 1..10 in the confusion matrix and in per-class details come 1, 2, ..., 10,
    as scikit-learn's confusion_matrix with the numeric labels (not '1', '10', '2')."""
    frame, names = _digits_frame()
    model = store.model("digits", task="multiclass_classification")
    schema = es.Schema(prediction_id="id", features=["x"], prediction_score=names, actual_label="y")
    model.log(frame, schema=schema, version="v1", environment="production")
    scores = frame[list(names.values())].to_numpy()
    predicted = np.array(list(names))[scores.argmax(axis=1)]
    labels = sorted(names)
    result = model.performance("production", ["confusion_matrix", "roc_auc_exact"])
    detail = result.get("confusion_matrix")["detail"]
    assert detail["labels"] == [str(c) for c in labels]  # text, as before; in numeric order
    want = skm.confusion_matrix(frame["y"], predicted, labels=labels)
    assert np.array_equal(np.array(detail["matrix"]), want)
    per_class = result.get("roc_auc_exact")["detail"]["per_class"]
    assert list(per_class) == [str(c) for c in labels]
    for c in labels:
        auc = skm.roc_auc_score(frame["y"] == c, frame[names[c]])
        assert per_class[str(c)] == pytest.approx(auc, abs=1e-12)


def test_text_and_label_only_classes_keep_their_order(store: es.Store) -> None:
    """Text labels that look like numbers keep text order (as numpy.unique and scikit-learn
    sort strings); integer labels without score columns are numeric, through the same
    helper."""
    y = np.array([1, 2, 10, 10, 2, 1, 3, 10])
    pred = np.array([1, 10, 10, 2, 2, 3, 3, 1])
    frame = pd.DataFrame({"id": np.arange(len(y)), "x": 1.0, "y": y, "pred": pred})
    schema = es.Schema(
        prediction_id="id", features=["x"], prediction_label="pred", actual_label="y"
    )
    model = store.model("ints", task="multiclass_classification")
    model.log(frame, schema=schema, version="v1", environment="production")
    detail = model.performance("production", ["confusion_matrix"]).get("confusion_matrix")
    labels = sorted(set(y) | set(pred))
    assert detail["detail"]["labels"] == [str(c) for c in labels] == ["1", "2", "3", "10"]
    want = skm.confusion_matrix(y, pred, labels=labels)
    assert np.array_equal(np.array(detail["detail"]["matrix"]), want)

    text = frame.assign(y=y.astype(str), pred=pred.astype(str))
    model = store.model("text", task="multiclass_classification")
    model.log(text, schema=schema, version="v1", environment="production")
    detail = model.performance("production", ["confusion_matrix"]).get("confusion_matrix")
    labels_text = sorted(set(text["y"]) | set(text["pred"]))
    assert detail["detail"]["labels"] == labels_text == ["1", "10", "2", "3"]
    want = skm.confusion_matrix(text["y"], text["pred"], labels=labels_text)
    assert np.array_equal(np.array(detail["detail"]["matrix"]), want)


def test_the_argmax_sql_grows_with_the_classes() -> None:
    """A multiclass model's prepared rows name each class score a fixed number of times, in
    selects of their own: the SQL of a count on the predicted label grows in proportion to
    the classes (written out in place it grew with their cube: 0.44 MB at 10 classes, 3.1
    MB at 20, and DuckDB took 15 s to parse the slices of 64 columns of a 10-class model)."""
    import ibis

    from evalstore.analyses.metrics._base import ACTUAL, PREDICTED_LABEL
    from evalstore.analyses.metrics._inputs import prepare
    from evalstore.schema import Task

    sizes = {}
    for k in (10, 20, 40):
        columns = {f"prediction_score:{c}": "float64" for c in range(k)}
        t = ibis.table({**columns, "prediction_label": "string", "actual_label": "string"})
        x = prepare(t, Task.MULTICLASS_CLASSIFICATION, {}).table
        query = x.aggregate(n=x.count(where=x[PREDICTED_LABEL] == x[ACTUAL]))
        sizes[k] = len(ibis.to_sql(query, dialect="duckdb"))
    assert sizes[10] < 20_000
    assert sizes[20] < 2.2 * sizes[10] and sizes[40] < 2.2 * sizes[20]


def test_metrics_of_one_input_share_their_counts() -> None:
    """The confusion counts and the input's columns are built once per input for every
    metric that asks for them (each Ibis operation is validated as it is made): the
    metrics of a binary input return the same expressions, not equal copies."""
    import ibis

    from evalstore.analyses.metrics import get_metric
    from evalstore.analyses.metrics._inputs import prepare
    from evalstore.schema import Task

    t = ibis.table(
        {"prediction_score": "float64", "prediction_label": "int64", "actual_label": "int64"}
    )
    inputs = prepare(t, Task.BINARY_CLASSIFICATION, {})
    keys = ("accuracy", "precision", "recall", "f1", "fpr", "fnr", "specificity")
    found = [get_metric(k).aggregates_for(inputs) for k in keys]
    for counts in found:
        assert set(counts) == {"tp", "fp", "fn", "tn"}
        assert all(counts[c] is found[0][c] for c in counts)
    assert inputs.score is inputs.score
    assert inputs.is_positive is inputs.is_positive
