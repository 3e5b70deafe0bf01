"""The garbage collector: the store's stack frozen once imported, a server's warm state frozen
after a full collection (``evalstore/_gc.py``). Each check runs in a new interpreter: freezing
is a state of the whole process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest


def _run(code: str, **env: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
        timeout=120,
    )
    return done.stdout.split()


def test_importing_the_store_freezes_its_stack() -> None:
    code = """
        import gc
        before = gc.get_freeze_count()
        import evalstore.sdk
        print(before, gc.get_freeze_count())
    """
    before, after = map(int, _run(code))
    assert before == 0
    assert after > 50_000  # Ibis, sqlglot, SQLAlchemy, pyarrow: ~300k objects
    assert list(map(int, _run(code, EVALSTORE_GC_FREEZE="0"))) == [0, 0]


REFREEZE = """
    import gc, weakref
    from evalstore import _gc

    class Node:
        pass

    # a reference cycle, frozen (as the store's stack is), then dropped: no collection
    # reaches it but one that unfreezes first
    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    gc.freeze()
    del a, b
    gc.collect()
    print(gone() is not None, _gc.refreeze(), gone() is None, gc.get_freeze_count() > 0)
    print(_gc.refreeze())  # the second, at once: too soon
"""


def test_refreeze_collects_the_frozen_cycles_then_freezes_at_most_every_few_minutes() -> None:
    assert _run(REFREEZE) == ["True", "True", "True", "True", "False"]


@pytest.mark.parametrize("setting", ["0", "off"])
def test_refreeze_can_be_turned_off(setting: str) -> None:
    found = _run(REFREEZE, EVALSTORE_GC_FREEZE=setting)
    assert found == ["True", "False", "False", "True", "False"]  # frozen as the script froze it
