"""Pausing Python's cyclic garbage collector around bulk work.

Bulk work (a survey import, a sweep over a national estate) holds thousands of records, rows and events
at once; the cyclic collector walks that growing heap again and again. Measured on a survey import of
5,000 systems and 10,000 contracts, it took about 40% of the CPU. Reference counting still frees almost
everything during the pause; the cycles made meanwhile are collected once the last pause in the process
ends. Pure Python: any layer may use it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

_pauses = 0
_was_enabled = False


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """The cyclic collector is off inside; nested and concurrent pauses (two imports on one event loop)
    keep it off until the last one ends, and then it is back as it was before the first."""
    global _pauses, _was_enabled
    if _pauses == 0:
        _was_enabled = gc.isenabled()
        gc.disable()
    _pauses += 1
    try:
        yield
    finally:
        _pauses -= 1
        if _pauses == 0 and _was_enabled:
            gc.enable()


__all__ = ["cyclic_gc_paused"]
