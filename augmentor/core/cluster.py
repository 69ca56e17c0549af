"""A Ray cluster for the stages that scale out (sharded synthesis, the evaluation's fits): its address checked
before Ray is asked, and a session that starts a local cluster when none is named and takes it along when the
job ends or is killed (reaper.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .errors import InvalidDataError
from .reaper import Reaper


def check_address(address: str, timeout: float = 5.0) -> None:
    """A Ray cluster address must be HOST:PORT (or ray://HOST:PORT, or 'auto') and answer a TCP
    connect within `timeout` seconds: otherwise one clear error instead of Ray's endless retries."""
    import socket
    from urllib.parse import urlsplit

    if address == "auto":
        return
    try:
        parts = urlsplit(address if "://" in address else f"ray://{address}")
        host, port = parts.hostname, parts.port
    except ValueError as e:
        raise InvalidDataError(f"--address {address!r} is not HOST:PORT ({e}); e.g. --address 10.0.0.5:6379") from None
    if parts.scheme not in ("ray", "") or not host or port is None or parts.path not in ("", "/"):
        raise InvalidDataError(f"--address {address!r} is not HOST:PORT or ray://HOST:PORT; "
                               "e.g. --address 10.0.0.5:6379")
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as e:
        raise InvalidDataError(f"--address {address}: no Ray cluster answers at {host}:{port} within {timeout:g} s "
                               f"({e.strerror or e}); start one with `ray start --head` or drop --address to "
                               "start a local one") from None


@contextmanager
def ray_session(address: str | None, num_cpus: int) -> Iterator[object]:
    """The `ray` module, connected: to `address` (checked first), or to a local cluster of `num_cpus` CPUs
    started here and stopped (with every process it started) when the block ends. An already connected
    driver is used as it is and left connected."""
    try:
        import ray
    except ImportError:
        raise InvalidDataError("Ray is not installed; pip install 'augmentor[ray]'") from None
    if address is not None:
        check_address(address)
    started = not ray.is_initialized()
    reaper = Reaper() if started and address is None else None  # a killed driver takes its cluster along
    if started:
        ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()
        if reaper is not None:
            reaper.stop()
