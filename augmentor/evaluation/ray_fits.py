"""Classifier fits as Ray tasks: the evaluation beyond one machine (`augmentor run ... --ray ADDRESS`).

`RayFitPool` has `FitPool`'s interface — `imap(fn, jobs)` calls `fn(job, shared)` for every job and yields the
results in the jobs' order — but each call is a Ray task asking for one CPU (and a GPU where the fit runs on
CUDA). `shared` (the validation and test inputs every fit predicts) is put in the object store once. Each task
runs one torch thread, as a local worker does, and every fit is seeded, so the predictions are bit-identical to
local workers' for the same seeds. A worker lost mid-fit: Ray runs the task again elsewhere (`max_retries`);
results are taken by position, once, so nothing is counted twice.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..core.cluster import ray_session
from ..core.errors import InvalidDataError


def _task(fn: Callable, job, shared: dict, die_once: str = ""):
    import torch

    torch.set_num_threads(1)
    if die_once and not Path(die_once).exists():  # tests: the first attempt of one fit loses its worker
        Path(die_once).write_text("died")
        os._exit(1)
    return fn(job, shared)


class RayFitPool:
    """Fits as Ray tasks on the cluster at `address` ("local": a cluster of `workers` CPUs started here and
    stopped with the pool); at most `2 x workers` fits in flight. `gpus`: GPUs per fit (0 on CPU)."""

    def __init__(self, address: str, workers: int, shared: dict, gpus: float = 0.0, die_once: str = "") -> None:
        self.workers, self.gpus, self.die_once = max(1, workers), gpus, die_once
        self._session = ray_session(None if address == "local" else address, num_cpus=self.workers)
        ray = self._session.__enter__()
        need = {"CPU": 1.0, **({"GPU": gpus} if gpus else {})}
        have = ray.cluster_resources()
        missing = [k for k, v in need.items() if have.get(k, 0) < v]
        if missing:
            self.close()
            raise InvalidDataError(f"--ray {address}: the cluster has {have.get(missing[0], 0):g} {missing[0]}, a fit "
                                   f"asks for {need[missing[0]]:g}; add workers with that resource or run on CPU")
        self._ray = ray
        self._shared = ray.put(shared)
        self._remote = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=3)(_task)

    def imap(self, fn: Callable, jobs: Iterable) -> Iterator:
        pending: deque = deque()
        for i, job in enumerate(jobs):
            pending.append(self._remote.remote(fn, job, self._shared, self.die_once if i == 0 else ""))
            if len(pending) >= 2 * self.workers:
                yield self._ray.get(pending.popleft())
        while pending:
            yield self._ray.get(pending.popleft())

    def close(self) -> None:
        if self._session is not None:
            self._session.__exit__(None, None, None)
            self._session = None


class RayFits:
    """A learner whose fits may run as Ray tasks (`self.ray`: a cluster's address, or "" for this process).

    The learner splits a fit in two: `fit_job(arm, x, y, seed) -> dict`, in this process (what the fit needs, the
    teacher's picks of a teacher arm included: its teacher's model lives here), and `run_job(job, evals) ->
    (predictions, model or None)`, which runs here or in a task on a copy of the learner without its models. The
    model of a non-GAN arm comes back for later teacher arms (`models`)."""

    ray: str = ""
    workers: int = 1
    device: str = "cpu"
    die_once: str = ""  # tests: a marker file; the first fit's first attempt loses its worker
    _pool: RayFitPool | None = None

    def fit_predict(self, arm, x, y, seed: int, evals) -> list:
        preds, model = self.run_job(self.fit_job(arm, x, y, seed), evals)
        if model is not None:
            self.models[(arm.name, seed)] = model
        return preds

    def fit_predict_many(self, jobs: Iterable[tuple], evals) -> Iterator:
        """`fit_predict` for each (arm, x, y, seed), in order; as Ray tasks when `ray` names a cluster (the
        evaluation inputs put in its object store once)."""
        if not self.ray:
            for arm, x, y, seed in jobs:
                yield self.fit_predict(arm, x, y, seed, evals)
            return
        if self._pool is None:
            gpus = 1.0 if str(self.device).startswith("cuda") else 0.0
            self._pool = RayFitPool(self.ray, self.workers, {"evals": list(evals)}, gpus=gpus, die_once=self.die_once)
        bare = self.bare()
        order = []

        def remote():
            for arm, x, y, seed in jobs:
                order.append((arm, seed))
                yield bare, self.fit_job(arm, x, y, seed)

        for k, (preds, model) in enumerate(self._pool.imap(_run_job, remote())):
            arm, seed = order[k]
            if model is not None:
                self.models[(arm.name, seed)] = model
            yield preds

    def bare(self):
        """This learner without its fitted models and pool: what a task gets."""
        import copy

        out = copy.copy(self)
        out.models, out._pool = {}, None
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def _run_job(job: tuple, shared: dict):
    learner, spec = job
    return learner.run_job(spec, shared["evals"])
