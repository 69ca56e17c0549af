"""Print this machine's pip settings (its configuration files and PIP_* variables) as uv's options.

    uv pip install $(python tools/pip_settings.py) -e .

`make` installs with uv (it unpacks wheels in parallel: set-up in about a quarter of pip's time), but uv
reads no pip.conf: the indexes, local wheel folders and constraints the machine gives pip are passed on
here, so both install the same releases. Standard library only; prints nothing where pip has no settings.
"""

from __future__ import annotations

import shlex
import subprocess
import sys

OPTIONS = {"index-url": "--index-url", "extra-index-url": "--extra-index-url", "find-links": "--find-links",
           "constraint": "--constraint"}


def main() -> None:
    out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    seen: dict[str, list[str]] = {}
    for line in out.splitlines():  # e.g. global.extra-index-url='file:///a file:///b'
        key, _, value = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        if name in OPTIONS:
            for v in shlex.split(value.strip()):
                for item in v.split():
                    if item not in seen.setdefault(name, []):
                        seen[name].append(item)
    args = []
    for name, values in seen.items():
        for v in values:
            args += [OPTIONS[name], v]
    if "extra-index-url" in seen or "find-links" in seen:
        args += ["--index-strategy", "unsafe-best-match"]  # as pip: the best release across every index
    print(" ".join(shlex.quote(a) for a in args))


if __name__ == "__main__":
    main()
