"""A client for `augmentor serve`: samples as arrays (images) or DataFrames (tables).

Standard library HTTP plus numpy/pandas: no torch, no ONNX Runtime on the client's machine.

    from augmentor.serving.client import Client
    c = Client("http://127.0.0.1:8000")              # the only model, or Client(url, model="NAME")
    x, y = c.generate({"0": 5, "3": 7}, seed=7)       # pixels in [0, 1] (8-bit as stored), label indices
    u8 = c.generate_raw({"0": 5}, seed=7)["x"]        # the npz arrays as sent

A `Client` has `classes` and `generate(counts, seed=..., stored=True)` like `OnnxGenerator`,
so `OnlineSynthetic` can draw its fresh samples from a server instead of a local model.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from urllib.parse import quote

import numpy as np


class ClientError(RuntimeError):
    """Any fault between this client and the server: unreachable, timed out, cut off, or not an
    augmentor server's answer. `ServerError` (the server answered with an error) is one kind."""


# what urllib and http.client raise for transport faults and truncated or malformed answers
TRANSPORT = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, socket.timeout,
             OSError, ValueError, KeyError, TypeError)


class ServerError(ClientError):
    """The server answered with an error: `status`, `field` and `message` from its JSON body."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(f"HTTP {status} ({field}): {message}")
        self.status, self.field, self.message = status, field, message


class Client:
    def __init__(self, url: str, model: str | None = None, timeout: float = 300.0) -> None:
        self.url, self.timeout = url.rstrip("/"), timeout
        try:
            models = {m["name"]: m for m in self._get("/v1/models")["models"]}
        except (KeyError, TypeError) as e:
            raise ClientError(f"{self.url} did not answer like an augmentor server ({e!r})") from None
        if model is None:
            if len(models) != 1:
                raise ValueError(f"the server has {len(models)} models {sorted(models)}; pass model=NAME")
            model = next(iter(models))
        if model not in models:
            raise ValueError(f"the server has no model {model!r}; it has {sorted(models)}")
        self.model, self.info = model, models[model]
        self.classes: tuple[str, ...] = tuple(self.info["classes"])
        self.modality: str = self.info["modality"]

    def _get(self, path: str) -> dict:
        try:
            with urllib.request.urlopen(self.url + path, timeout=self.timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise _server_error(e) from None
        except TRANSPORT as e:
            raise ClientError(f"{self.url}{path}: {type(e).__name__}: {e}") from e

    def request(self, counts: Mapping[str, int], seed: int = 0, fmt: str | None = None) -> bytes:
        """The raw body for `counts` (a dict of class name -> n) in `fmt` (the modality's default)."""
        body = {"counts": dict(counts), "seed": seed}
        if fmt is not None:
            body["format"] = fmt
        req = urllib.request.Request(f"{self.url}/v1/models/{quote(self.model, safe='')}/generate",
                                     data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            raise _server_error(e) from None
        except TRANSPORT as e:
            raise ClientError(f"{req.full_url}: {type(e).__name__}: {e}") from e

    def generate_raw(self, counts: Mapping[str, int], seed: int = 0) -> dict[str, np.ndarray]:
        """Images: the npz arrays as sent (x uint8 N x C x H x W, y, classes)."""
        body = self.request(counts, seed, "npz")
        try:
            with np.load(io.BytesIO(body), allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (ValueError, OSError, EOFError) as e:
            raise ClientError(f"the server's npz body ({len(body)} bytes) is not readable: {e}") from None

    def generate(self, counts: Mapping[str, int], seed: int = 0, stored: bool = True):
        """(x, y): images as float pixels in [0, 1] (8-bit values, as stored), or a DataFrame of
        table rows in the model's columns; y are label indices into `classes`. `stored` is
        accepted for compatibility with OnnxGenerator: a server always sends stored values."""
        if self.info["formats"][0] == "npz":  # the server's default: arrays (8-bit pixels or float signals)
            arrays = self.generate_raw(counts, seed)
            x = arrays["x"]
            return (x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x), arrays["y"].astype(np.int64)
        import pandas as pd

        try:
            frame = pd.read_parquet(io.BytesIO(self.request(counts, seed, "parquet")))
        except (ValueError, OSError) as e:
            raise ClientError(f"the server's parquet body is not readable: {e}") from None
        label = frame.columns[-2]  # rows end with the label and source columns
        y = np.array([self.classes.index(str(v)) for v in frame[label]], np.int64)
        return frame.drop(columns=list(frame.columns[-2:])), y


def _server_error(e: urllib.error.HTTPError) -> ServerError:
    try:
        err = json.loads(e.read())["error"]
        field, message = str(err.get("field", "?")), str(err.get("message", ""))
    except (*TRANSPORT, AttributeError):
        field, message = "?", str(e)
    return ServerError(e.code, field, message)
