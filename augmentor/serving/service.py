"""`augmentor serve`: exported generators behind an HTTP API, with dynamic batching.

    GET  /v1/models                       each model: name, modality, classes, shape, z_dim, sha256
    POST /v1/models/{name}/generate       {"counts": {"CLASS": n}, "seed": s, "format": "npz"} -> streamed body
    GET  /healthz                         {"status": "ok"}
    GET  /metrics                         Prometheus text format

Samples are exactly those of `augmentor generate` for the same model, seed and counts: every
sample's noise is a function of (seed, class, index within the class) (runtime.noise_stream),
and on CPU a row's output does not depend on which rows share its ONNX Runtime run (tested),
so the dynamic batcher may pack rows of many requests into one run. Formats:

  npz       x (uint8 N x C x H x W), y (label index), classes: the arrays of the shards
  png-zip   a zip of CLASS/syn-sSEED-NNNNNN.png, the files `generate --format png` writes
  csv       the rows (and columns) of `generate --format csv` for tables
  parquet   the same rows as one parquet file

npz, png-zip and csv are produced chunk by chunk while the client reads: a client that
disconnects stops its request's generation at the next chunk. Models are the files named on
the command line, loaded once at start; a request names a model by its name (the file's stem)
and never a path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fastapi import Request  # module level: FastAPI resolves the handlers' string annotations here

from ..core.errors import InvalidDataError
from ..synthesis.runtime import OnnxGenerator, noise_stream
from .body import encode

log = logging.getLogger(__name__)

MEDIA = {"npz": "application/octet-stream", "png-zip": "application/zip", "csv": "text/csv",
         "parquet": "application/vnd.apache.parquet"}


def _formats(gen: OnnxGenerator) -> tuple[str, ...]:
    """What the service returns for this model's modality (the first is the default)."""
    return gen.info.codec.MODALITY.serve_formats


CHUNK = 256  # rows per piece of a request handed to the batcher
MAX_BODY = 1 << 20  # bytes: a request is counts, seed and format (10,000 class names fit)
MAX_DEPTH = 4  # JSON nesting: {"counts": {...}} needs 2
SEED_LIMIT = 2**32  # the CLI's range (recipe.SEED_MAX + 1): the same seed gives the same bytes as `generate`


@dataclass
class _Job:
    z: np.ndarray
    label: np.ndarray
    future: asyncio.Future
    queued: float = field(default_factory=time.perf_counter)


class Batcher:
    """Packs the rows of concurrent requests into shared ONNX Runtime runs: a run starts when
    `max_batch` rows are waiting or the oldest has waited `max_wait_ms`; runs happen one at a
    time in a worker thread, and each job gets back exactly its own rows."""

    def __init__(self, gen: OnnxGenerator, max_batch: int, max_wait_ms: float, observe=None) -> None:
        self.gen, self.max_batch, self.max_wait = gen, max_batch, max_wait_ms / 1000
        self.queue: asyncio.Queue[_Job] = asyncio.Queue()
        self.observe = observe or (lambda rows: None)
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass

    async def run(self, z: np.ndarray, label: np.ndarray) -> np.ndarray:
        fut = asyncio.get_running_loop().create_future()
        await self.queue.put(_Job(z, label, fut))
        return await fut

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self.queue.get()]
            rows = len(jobs[0].z)
            deadline = jobs[0].queued + self.max_wait
            while rows < self.max_batch:
                try:
                    job = self.queue.get_nowait() if time.perf_counter() >= deadline else await asyncio.wait_for(
                        self.queue.get(), max(0.0, deadline - time.perf_counter()))
                except (asyncio.QueueEmpty, asyncio.TimeoutError):
                    break
                jobs.append(job)
                rows += len(job.z)
            jobs = [j for j in jobs if not j.future.cancelled()]
            if not jobs:
                continue
            z = np.concatenate([j.z for j in jobs])
            label = np.concatenate([j.label for j in jobs])
            try:
                out = await loop.run_in_executor(None, self.gen.run, z, label)
            except Exception as e:  # noqa: BLE001 - handed to every waiting request
                for j in jobs:
                    if not j.future.done():
                        j.future.set_exception(e)
                continue
            self.observe(len(z))
            pos = 0
            for j in jobs:
                if not j.future.done():
                    j.future.set_result(out[pos:pos + len(j.z)])
                pos += len(j.z)


class ServeError(Exception):
    """A request error: HTTP status, the field it concerns, and a message."""

    def __init__(self, status: int, where: str, message: str) -> None:
        super().__init__(message)
        self.status, self.where, self.message = status, where, message


def json_depth(raw: bytes, limit: int) -> int:
    """The nesting depth of JSON text, counted without parsing (stops once past `limit`)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == 0x5C:  # backslash
                escaped = True
            elif ch == 0x22:  # quote
                in_string = False
        elif ch == 0x22:
            in_string = True
        elif ch in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
        elif ch in (0x5D, 0x7D):
            depth -= 1
    return deepest


def parse_body(raw: bytes) -> object:
    """A request body as JSON: bounded depth, no key named twice (the CLI refuses a class twice too)."""
    if json_depth(raw, MAX_DEPTH) > MAX_DEPTH:
        raise ServeError(422, "body", f"the body nests JSON deeper than {MAX_DEPTH} levels")

    def pairs(items: list) -> dict:
        out = {}
        for key, value in items:
            if key in out:
                raise ServeError(422, str(key)[:100], f"key {str(key)[:100]!r} is given twice")
            out[key] = value
        return out

    try:
        return json.loads(raw, object_pairs_hook=pairs)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise ServeError(400, "body", f"the body is not valid JSON ({e})") from None


def check_request(body: object, gen: OnnxGenerator, max_samples: int) -> tuple[dict[str, int], int, str]:
    """(counts in request order, seed, format) from a decoded JSON body, or a ServeError naming the field."""
    if not isinstance(body, dict):
        raise ServeError(422, "body", "the body must be a JSON object with counts, seed and format")
    unknown = sorted(set(body) - {"counts", "seed", "format"})
    if unknown:
        raise ServeError(422, unknown[0], f"unknown field {unknown[0]!r}; allowed: counts, seed, format")
    counts = body.get("counts")
    if not isinstance(counts, dict) or not counts:
        raise ServeError(422, "counts", 'counts must be a non-empty object {"CLASS": n, ...}')
    out = {}
    for name, n in counts.items():
        if name not in gen.classes:
            raise ServeError(404, f"counts.{name}", f"unknown class {name!r}; the model has {list(gen.classes)}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ServeError(422, f"counts.{name}", f"count of {name!r} must be a non-negative integer, got {n!r}")
        out[name] = n
    total = sum(out.values())
    if total > max_samples:
        raise ServeError(413, "counts", f"{total} samples requested; this server allows at most {max_samples} "
                         "per request (--max-samples): split the request")
    seed = body.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise ServeError(422, "seed", f"seed must be an integer in [0, 2^32), as for `generate --seed`, got {seed!r}")
    fmt = body.get("format", _formats(gen)[0])
    if fmt not in _formats(gen):
        raise ServeError(422, "format", f"format {fmt!r} is not available for {gen.info.modality} models; "
                         f"use one of {list(_formats(gen))}")
    return out, seed, fmt


async def model_rows(batcher: Batcher, gen: OnnxGenerator, counts: dict[str, int],
                     seed: int) -> AsyncIterator[tuple[str, int, np.ndarray]]:
    """(class, index of the first row, model-space rows) in chunks, class by class: the noise
    of `augmentor generate` (noise_stream), run through the shared batcher."""
    for name, n in counts.items():
        label = gen.class_index(name)
        draw = noise_stream(seed, label, gen.info.z_dim)
        for start in range(0, n, CHUNK):
            size = min(CHUNK, n - start)
            yield name, start, await batcher.run(draw(size), np.full(size, label, np.int64))


def model_names(paths: Sequence[str | Path]) -> dict[str, Path]:
    """Each model's name (its file's stem); two models with one name are refused."""
    names: dict[str, Path] = {}
    for p in paths:
        name = Path(p).stem
        if name in names:
            raise InvalidDataError(f"two models are named {name!r} ({names[name]} and {p}); rename one file")
        names[name] = Path(p)
    return names


class InFlight:
    """Samples admitted and not yet sent, across requests: a request that would pass `limit`
    is answered 503 with Retry-After instead of queueing without bound."""

    def __init__(self, limit: int) -> None:
        self.limit, self.now = limit, 0

    def admit(self, n: int) -> bool:
        if self.now and self.now + n > self.limit:  # one request alone (<= max_samples) is always admitted
            return False
        self.now += n
        return True

    def release(self, n: int) -> None:
        self.now -= n


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it passes `limit` bytes: never read whole first."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ServeError(413, "body", f"the body has {declared} bytes; this server reads at most {limit}")
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ServeError(413, "body", f"the body passes {limit} bytes; this server reads at most {limit}")
        parts.append(chunk)
    return b"".join(parts)


class _Metrics:
    """The service's Prometheus metrics, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = registry = CollectorRegistry()
        self.requests = Counter("augmentor_requests", "generate requests by model and HTTP status",
                                ["model", "status"], registry=registry)
        self.samples = Counter("augmentor_samples", "samples sent, by model", ["model"], registry=registry)
        self.cancelled = Counter("augmentor_cancelled_requests", "requests whose client left mid-stream", ["model"],
                                 registry=registry)
        self.batch_rows = Histogram("augmentor_batch_rows", "rows per ONNX Runtime run", ["model"], registry=registry,
                                    buckets=(1, 8, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192))
        self.latency = Histogram("augmentor_request_seconds", "time from request to last byte", ["model"],
                                 registry=registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


async def _stream(name: str, gen: OnnxGenerator, batcher: Batcher, counts: dict, seed: int, fmt: str,
                  metrics: _Metrics, in_flight: InFlight, t0: float) -> AsyncIterator[bytes]:
    """One response's body: the samples in `fmt` as the batcher makes them; the admitted samples released and the
    metrics counted however it ends (a client that leaves mid-stream is counted as cancelled)."""
    sent, total = 0, sum(counts.values())

    async def counted():
        nonlocal sent
        async for name_, start, batch in model_rows(batcher, gen, counts, seed):
            yield name_, start, batch
            sent += len(batch)

    try:
        async for piece in encode(fmt, counted(), gen, counts, seed):
            if piece:
                yield piece
    except (asyncio.CancelledError, GeneratorExit):
        metrics.cancelled.labels(name).inc()
        metrics.requests.labels(name, "cancelled").inc()
        log.info("client left; request stopped after %d of %d samples", sent, total)
        raise
    else:
        metrics.requests.labels(name, "200").inc()
    finally:
        in_flight.release(total)
        metrics.samples.labels(name).inc(sent)
    metrics.latency.labels(name).observe(time.perf_counter() - t0)


def create_app(models: Sequence[str | Path], *, device: str = "cpu", max_batch: int = 1024,
               max_wait_ms: float = 5.0, max_samples: int = 100_000, threads: int = 0,
               max_in_flight: int | None = None, max_body: int = MAX_BODY, codecs: Callable[[dict], object]):
    """The FastAPI app serving `models` (ONNX files exported by augmentor; `codecs` builds each one's
    codec from its metadata: the registry's `for_codec`). At most `max_in_flight` samples (default
    4 x `max_samples`) are admitted across requests at once."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, Response, StreamingResponse
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    gens = {name: OnnxGenerator(path, device, threads=threads, codecs=codecs)
            for name, path in model_names(models).items()}
    metrics = _Metrics()
    batchers = {name: Batcher(g, max_batch, max_wait_ms, metrics.batch_rows.labels(name).observe)
                for name, g in gens.items()}
    in_flight = InFlight(max_in_flight or 4 * max_samples)

    @asynccontextmanager
    async def lifespan(app):
        for b in batchers.values():
            b.start()
        yield
        for b in batchers.values():
            await b.stop()

    app = FastAPI(title="augmentor", lifespan=lifespan)

    def error(status: int, where: str, message: str) -> JSONResponse:
        return JSONResponse({"error": {"field": where, "message": message}}, status_code=status)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok", "models": len(gens)}

    @app.get("/metrics")
    async def metrics_page() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    async def list_models() -> dict:
        return {"models": [{"name": n, "modality": g.info.modality, "classes": list(g.classes),
                            "shape": list(g.info.shape), "z_dim": g.info.z_dim, "sha256": g.info.sha256,
                            "formats": list(_formats(g))} for n, g in gens.items()]}

    @app.post("/v1/models/{name}/generate")
    async def generate(name: str, request: Request):
        t0 = time.perf_counter()
        if name not in gens:
            metrics.requests.labels("?", "404").inc()
            return error(404, "model", f"unknown model {name!r}; models: {sorted(gens)}")
        gen = gens[name]
        try:
            counts, seed, fmt = check_request(parse_body(await read_body(request, max_body)), gen, max_samples)
        except ServeError as e:
            metrics.requests.labels(name, str(e.status)).inc()
            return error(e.status, e.where, e.message)
        if not in_flight.admit(sum(counts.values())):
            metrics.requests.labels(name, "503").inc()
            response = error(503, "counts", f"{in_flight.now} samples are in flight (limit {in_flight.limit}); "
                             "retry shortly")
            response.headers["Retry-After"] = "1"
            return response
        ext = {"npz": "npz", "png-zip": "zip", "csv": "csv", "parquet": "parquet"}[fmt]
        return StreamingResponse(_stream(name, gen, batchers[name], counts, seed, fmt, metrics, in_flight, t0),
                                 media_type=MEDIA[fmt],
                                 headers={"Content-Disposition": f'attachment; filename="samples.{ext}"',
                                          "X-Augmentor-Model-Sha256": gen.info.sha256})

    return app


def serve(models: Sequence[str | Path], *, host: str = "127.0.0.1", port: int = 8000, quiet: bool = False,
          **options) -> None:
    """Run the app under uvicorn until interrupted (`quiet`: warnings only, no access log)."""
    import uvicorn

    uvicorn.run(create_app(models, **options), host=host, port=port, log_level="warning" if quiet else "info",
                access_log=not quiet)

