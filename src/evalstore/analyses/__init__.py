"""Analyses of the evaluation store: each is config -> fit(reference) -> compute(current) -> Result.

Every analysis builds Ibis aggregate expressions on ``Dataset.table`` and runs
them in the store's engine; rows are never pulled into Python.
"""
