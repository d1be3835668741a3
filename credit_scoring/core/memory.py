"""Memory a run gives back: Arrow's allocator, the C heap, and the cycles pandas leaves.

pyarrow's wheels allocate with mimalloc, which keeps the pages it frees for later reuse. A run
executes its steps one after another in one process (the default executor), so each step
started from the largest footprint of the steps before it: on a 2M-transaction day the
reconciliation check peaked at 4.1 GB with mimalloc and 2.9 GB with jemalloc (also in the
wheels, and configured by Arrow to give freed pages back promptly); the whole run was no
slower (99 s against 110 s, one run each).

The C heap (glibc's malloc, where Python objects, response bodies and numpy arrays live) keeps
the free pages between its live chunks: after a 2M-transaction fetch the next step started with
300 MB of them, which ``malloc_trim`` gave back in well under a millisecond.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import os
import tempfile
from collections.abc import Callable, Iterator

import duckdb
import pyarrow as pa

#: Arrow's own setting; when an operator sets it, their choice stands.
ARROW_POOL_VAR = "ARROW_DEFAULT_MEMORY_POOL"


def use_returning_allocator() -> str:
    """Make jemalloc Arrow's default memory pool, unless ``ARROW_DEFAULT_MEMORY_POOL`` says
    otherwise or this build of pyarrow lacks it; returns the backend in use."""
    if not os.environ.get(ARROW_POOL_VAR):
        # a pyarrow built without jemalloc keeps its default
        with contextlib.suppress(NotImplementedError):
            pa.set_memory_pool(pa.jemalloc_memory_pool())
            # freed pages go back at once, not a second later: reading a day's bronze a row
            # group at a time otherwise held the groups already read, twice the payloads kept
            pa.jemalloc_set_decay_ms(0)
    return pa.default_memory_pool().backend_name


@contextlib.contextmanager
def collected_between_slices() -> Iterator[Callable[[], int]]:
    """Yields a function that frees the garbage cycles of the work done since entering.

    Every ``series.str`` or ``series.dt`` makes a cycle (pandas caches the accessor on the
    series, and the accessor points back to it), so the temporary series of a slice's work
    are freed only by the garbage collector, and that rarely runs a full collection: on a
    2M-transaction day silver carried 850 MB of dead slices into the next step. A full
    collection costs about 0.2 s over what the code location keeps alive; with those objects
    frozen for the duration it only visits what the slices made. Leaving, it unfreezes
    everything, what the caller may have frozen before included (``devtools.runner`` freezes
    what importing the code location built): a process's full collections after silver then
    visit those objects again (a third of a second each on the 2M day's run).
    """
    gc.freeze()
    try:
        yield gc.collect
    finally:
        gc.unfreeze()


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):  # not glibc (macOS, musl): nothing to trim this way
        return None


def release_free_heap() -> bool:
    """Give the C heap's free pages back to the system, where the C library can (glibc);
    returns whether it could. Called after each lake write, when a step's big objects have
    just been freed and the next step would otherwise start on top of their pages."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


#: What an in-process DuckDB database of day-sized tables may hold before it spills to disk.
SPILLING_DUCKDB_LIMIT = "256MB"


@contextlib.contextmanager
def spilling_duckdb(
    memory_limit: str = SPILLING_DUCKDB_LIMIT,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB database that holds at most ``memory_limit`` and spills the rest of
    its tables, joins and aggregates to a temporary folder of its own, removed on exit.

    Only for work DuckDB can spill: its JSON functions cannot, and fail with an out-of-memory
    error at the limit, so JSON is parsed elsewhere. Without a limit DuckDB keeps up to 80% of
    the machine's memory: the reconciliation of a 2M-transaction day grew its process by
    1.3-1.4 GB with its tables in an unbounded database, by 0.7 GB with them in this one, for
    about 3 s more. Two processes must never share a spill folder, so each database has its own.
    """
    with tempfile.TemporaryDirectory(prefix="credit-scoring-duckdb-") as spill:
        config = {"memory_limit": memory_limit, "temp_directory": spill, "threads": 2}
        with duckdb.connect(config=config) as connection:
            yield connection
