"""Tuning constants (block sizes, buffers, intervals), in one place, and a way to change them.

They trade time for memory and never change a result (the tests check that
every setting gives the same answers). Modules read them from
:func:`get_tuning` when called, so that tests and benchmarks can change them
for a block of code with :func:`tuning` instead of assigning module globals.
The defaults were measured on MNIST-sized problems (``docs/speed.rst``).
"""

import dataclasses
from contextlib import contextmanager

__all__ = ["Tuning", "get_tuning", "tuning"]


@dataclasses.dataclass(frozen=True)
class Tuning:
    """The constants; see each field's comment for what it bounds."""

    # Boxes per block of the l0 kernel: a feature's table has at most
    # 2 * box_block + 2 rows of box_block / 8 bytes (256 KiB), small enough
    # to stay in the L2 cache.
    box_block: int = 1024
    # Bytes of one bit plane of a row block; a handful of planes is the
    # working set of the adder, sized for the L2 cache.
    row_block_bytes: int = 2**17
    # Bytes of the tables one worker builds at a time (one feature at least).
    table_block_bytes: int = 2**22
    # Most features whose tables are built at once (bounds the positions).
    max_block_features: int = 64
    # Above this many keys, values of which more than this fraction differ
    # from the previous one are sorted before the search (_positions).
    sort_min_keys: float = 64
    sort_min_changes: float = 0.7
    # Sample values that are whole multiples of 1 / step for one of these
    # steps (8-bit images scaled by 255, integers) are located with a table
    # of at most max_codes codes instead of a search (_positions).
    quantization_steps: tuple = (255, 1)
    max_codes: int = 4096
    # Below this many samples per chunk, building the tables costs more than
    # it saves and the reference loop is used.
    min_table_rows: float = 64
    # Features compared at once where every box agrees.
    constant_block: int = 64
    # Seconds between two progress lines of the certificates' search and the
    # attack when verbose (_progress.py).
    progress_interval: float = 2.0
    # IDX reader (datasets/_idx.py): where the data size cannot be checked
    # before reading (gzip: the trailer only holds the size mod 2**32), the
    # buffer starts at this many bytes and doubles as data arrives, so it
    # never holds more than twice what was read; data past the end of the
    # array is counted for the error message up to idx_rest_limit bytes.
    idx_first_buffer_bytes: int = 2**20
    idx_rest_limit: int = 64 * 2**20
    # Elements of one encoded block of ablated samples that the randomized
    # ablation peer passes to its base estimator at once (2 * n_features per
    # sample): 2**22 float64 values are 32 MiB.
    ablation_block_elements: int = 2**22


_current = Tuning()


def get_tuning():
    """The constants in force."""
    return _current


@contextmanager
def tuning(**changes):
    """Change some constants inside a ``with`` block (tests and benchmarks).

    Not thread-safe: the change is seen by every thread, which is what the
    kernel's own worker threads need.

    Examples
    --------
    >>> from sklearn_boxnn._tuning import get_tuning, tuning
    >>> with tuning(min_table_rows=1):
    ...     get_tuning().min_table_rows
    1
    >>> get_tuning().min_table_rows
    64
    """
    global _current
    unknown = set(changes) - {field.name for field in dataclasses.fields(Tuning)}
    if unknown:
        raise TypeError(f"unknown tuning constants {sorted(unknown)}")
    saved = _current
    _current = dataclasses.replace(_current, **changes)
    try:
        yield _current
    finally:
        _current = saved
