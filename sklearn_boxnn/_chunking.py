"""Chunks of samples sized from ``working_memory``: the one rule the package uses.

Every computation that grows with the number of samples (the distances and
their reductions in ``predict`` and ``certify``, the attack's walk, the
kernel's own temporaries) is cut into chunks of consecutive rows whose
temporaries fit in scikit-learn's ``working_memory`` setting, as
:func:`sklearn.metrics.pairwise_distances_chunked` does.
"""

from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows

__all__ = ["chunk_slices"]


def chunk_slices(n_rows, row_bytes, working_memory=None):
    """Slices of consecutive rows whose temporaries fit in ``working_memory``.

    Parameters
    ----------
    n_rows : int
        Number of rows to cover.
    row_bytes : int
        Bytes of temporaries one row needs.
    working_memory : float, default=None
        MiB; ``None`` uses ``sklearn.get_config()['working_memory']``. At
        least one row per chunk, whatever the budget.

    Returns
    -------
    slices : generator of slice
    """
    chunk = get_chunk_n_rows(
        row_bytes=max(1, int(row_bytes)),
        max_n_rows=max(1, n_rows),
        working_memory=working_memory,
    )
    return gen_batches(n_rows, chunk)
