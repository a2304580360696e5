"""A survey import pauses the cyclic garbage collector and always gives it back, even when imports
overlap or fail."""

from __future__ import annotations

import gc

import pytest

from estate_register.application.survey import cyclic_gc_paused


def test_the_collector_runs_again_after_overlapping_imports_end_in_any_order() -> None:
    assert gc.isenabled()
    first = cyclic_gc_paused()
    second = cyclic_gc_paused()
    first.__enter__()
    second.__enter__()
    assert not gc.isenabled()
    first.__exit__(None, None, None)
    assert not gc.isenabled(), "the second import is still running"
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_the_collector_runs_again_after_a_failed_import() -> None:
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        raise RuntimeError("a bad survey")
    assert gc.isenabled()


def test_a_collector_switched_off_beforehand_stays_off() -> None:
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
