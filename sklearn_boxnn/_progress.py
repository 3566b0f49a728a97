"""Progress lines of the long computations over samples.

The certificates' best-first search and the attack work through samples in
chunks, for minutes on large models; with ``verbose`` they say how far they
are at most every ``progress_interval`` seconds (``_tuning.py``), so that they
are never silent for long.
"""

import time

from ._tuning import get_tuning

__all__ = ["SampleProgress", "print_now"]


def print_now(line):
    print(line, flush=True)


class SampleProgress:
    """Samples done, time elapsed and, with ``estimate``, the time left.

    :meth:`update` may be called as often as is convenient (every round,
    batch or step); a line is written at most every ``progress_interval``
    seconds, and :meth:`finish` writes a last one. Samples are counted across
    chunks: :meth:`chunk_done` adds a finished chunk. The estimate assumes
    the samples left take as long as those done.

    Parameters
    ----------
    verbose : int
        Nothing is written when it is 0.
    n_samples : int
    prefix : str
        Start of every line, e.g. ``'[sparse_attack]'``.
    estimate : bool, default=True
        Whether lines end with an estimate of the time left.
    sink : callable, default=print_now
        Receives every line.
    """

    def __init__(self, verbose, n_samples, prefix, *, estimate=True, sink=print_now):
        self.verbose, self.n_samples, self.sink = verbose, n_samples, sink
        self.prefix, self.estimate = prefix, estimate
        self.before = 0  # samples of the chunks finished
        self.start = self.last = time.perf_counter()

    def update(self, done_in_chunk=0):
        """Write a line if one is due.

        ``done_in_chunk`` is the number of samples done in the current chunk,
        or a function that counts them, called only when a line is due.
        """
        if not self.verbose:
            return
        now = time.perf_counter()
        if now - self.last < get_tuning().progress_interval:
            return
        self.last = now
        if callable(done_in_chunk):
            done_in_chunk = done_in_chunk()
        done, elapsed = self.before + done_in_chunk, now - self.start
        line = f"{self.prefix} {done}/{self.n_samples} samples done, {elapsed:.1f} s elapsed"
        if self.estimate:
            if done:
                line += f", about {elapsed * (self.n_samples - done) / done:.1f} s left"
            else:
                line += ", time left not known yet"
        self.sink(line)

    def chunk_done(self, n_rows):
        self.before += n_rows
        self.update()

    def finish(self, detail=""):
        """The last line; ``detail`` is appended to it."""
        if not self.verbose:
            return
        elapsed = time.perf_counter() - self.start
        self.sink(
            f"{self.prefix} {self.n_samples}/{self.n_samples} samples done in "
            f"{elapsed:.1f} s{detail}"
        )
