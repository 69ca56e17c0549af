"""Processes a job starts die with the job, even when it is killed with SIGKILL.

A local Ray cluster (`ray.init()` without an address) starts a GCS server, a raylet, agents and
workers; when the driver is killed they are re-parented to PID 1 and some of them linger and
keep writing. `Reaper` starts a small watchdog in its own session that records every
descendant of the job's process while it lives and, the moment it is gone, SIGKILLs every one
of them that is still the same process (same start time), then exits. A job that ends
normally stops the watchdog first (`stop`). Linux only (it reads /proc); elsewhere it does
nothing, as docs/reliability.md says.
"""

from __future__ import annotations

import os
import subprocess
import sys

_WATCH = r"""
import os, signal, sys, time
root = int(sys.argv[1])

def table():
    out = {}
    for d in os.listdir('/proc'):
        if d.isdigit():
            try:
                with open(f'/proc/{d}/stat', 'rb') as f:
                    rest = f.read().rsplit(b')', 1)[1].split()
                out[int(d)] = (int(rest[1]), rest[0], int(rest[19]))  # ppid, state, start time
            except (OSError, IndexError, ValueError):
                pass
    return out

seen = {}
while True:
    t = table()
    alive = root in t and t[root][1] != b'Z'
    if alive:
        kids = {p: v for p, v in t.items() if v[0] == root}
        while kids:
            for p, v in kids.items():
                seen.setdefault(p, v[2])
            kids = {p: v for p, v in t.items() if v[0] in kids and p not in seen}
        time.sleep(0.2)
        continue
    for p, start in seen.items():
        if p in t and t[p][2] == start and p != os.getpid():
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
    break
"""


class Reaper:
    """Watch the current process; kill its descendants if it dies before `stop`."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        if sys.platform.startswith("linux") and os.path.isdir("/proc"):
            self.proc = subprocess.Popen([sys.executable, "-c", _WATCH, str(os.getpid())], start_new_session=True,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def __enter__(self) -> Reaper:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
