"""Independent classifier fits in worker processes, one torch thread each.

A small CNN does not keep two CPU cores busy: on 28x28 images a SmallCNN step takes 21 ms with
two threads and 27 ms with one, so two single-threaded fits side by side finish about 1.5x
sooner than the same two fits one after the other (reports/learner-width-pilot.md). Every fit
is seeded and independent of the others, and a worker always runs one thread, so the results
do not depend on the order the jobs finish in, nor on how many cores the machine has.

Workers are spawned (not forked: a forked child of a process whose OpenMP pool has run can
hang), receive the evaluation inputs once, and stay up for the whole evaluation.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np

_SHARED: dict = {}


def _init(shared: dict) -> None:
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    _SHARED.update(shared)


def _call(fn: Callable, job) -> object:
    return fn(job, _SHARED)


class FitPool:
    """`workers` spawned processes; `shared` (e.g. the validation and test inputs every fit
    predicts) is sent to each once and passed to every job as its second argument."""

    def __init__(self, workers: int, shared: dict) -> None:
        if workers < 2:
            raise ValueError(f"a fit pool needs at least 2 workers, got {workers}")
        self.workers = workers
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init, initargs=(shared,))

    def imap(self, fn: Callable, jobs: Iterable) -> Iterator:
        """fn(job, shared) for every job, results in the jobs' order. Jobs are drawn from the
        iterable only as workers free up (at most 2 x workers in flight), so a long list of
        large training sets is never held in memory at once."""
        pending: deque[Future] = deque()
        for job in jobs:
            pending.append(self._pool.submit(_call, fn, job))
            if len(pending) >= 2 * self.workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def state_arrays(model) -> dict[str, np.ndarray]:
    """A torch module's state as numpy arrays (what a worker sends back to be rebuilt)."""
    return {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
