"""A Debian sid root that holds the CPythons this Debian 12 machine cannot run.

CPython 3.14 and 3.15 (with headers, venv and each version's own ``test``
package) and a Rust toolchain are packaged by Debian's unstable suite, sid,
built against a newer glibc than Debian 12's, so they run in a root of their
own. ``mmdebstrap`` makes it (about 80 seconds); it is kept outside the clone,
reused by every clone on the machine, and made again when the recipe below
changes. It needs root, as CI has; where PATH or pyenv already has
``python3.14``/``python3.15`` (a user's machine) the matrix uses those and
never comes here. No free-threaded build (3.14t, 3.15t) is packaged, so none
can be tested here.

    python tools/sid_root.py            # make (or reuse) the root, print its path
    python tools/sid_root.py -- CMD...  # run CMD in it, in this checkout

A command runs in a mount namespace of its own (``unshare --mount``): the
checkout is bound at its own path, ``/proc``, ``/dev``, ``/sys`` and ``/tmp``
are bound in, so every path means the same inside and out, and nothing stays
mounted when the command ends.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import threading

CHECKOUT = pathlib.Path(__file__).resolve().parent.parent
PYTHONS = ("3.14", "3.15")
# Each Python with what the kit's suite asks of it (headers to build against,
# venv, CPython's own asyncio tests), and the toolchain maturin builds with.
PACKAGES = sorted(
    {"build-essential", "ca-certificates", "cargo", "rustc"}
    | {f"python{v}{suffix}" for v in PYTHONS for suffix in ("", "-dev", "-venv")}
    | {f"libpython{v}-testsuite" for v in PYTHONS}
)
# The archive's Release file is a dated snapshot: its Valid-Until has passed.
MMDEBSTRAP_OPTIONS = ["--variant=apt", '--aptopt=Acquire::Check-Valid-Until "false"']
RECIPE = hashlib.sha256(" ".join(MMDEBSTRAP_OPTIONS + PACKAGES).encode()).hexdigest()[:16]
HOME = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache"))
LOCATION = pathlib.Path(os.environ.get("COROSCOPE_SID_ROOT", HOME / "coroscope" / "sid-root"))
HOST_CA_BUNDLE = pathlib.Path("/etc/ssl/certs/ca-certificates.crt")


def debian_mirror() -> str:
    """The Debian archive this machine's own apt sources name (never written in the repo)."""
    for source in sorted(pathlib.Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in source.read_text().splitlines():
            if line.startswith("URIs:") and "/debian" in line and "security" not in line:
                return line.split()[1]
    for line in pathlib.Path("/etc/apt/sources.list").read_text().splitlines():
        fields = line.split()
        if fields[:1] == ["deb"] and "security" not in line:
            return next(f for f in fields[1:] if "://" in f)
    raise SystemExit("no Debian archive found in /etc/apt/sources.list{,.d}")


def unavailable() -> str | None:
    """Why a sid root cannot be made or used here, or None when it can."""
    if os.geteuid() != 0:
        return "making and entering a sid root needs root"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is missing"
    return None


# The matrix may ask from two threads at once (`--jobs 2`): one makes the root.
_MAKING = threading.Lock()


def ensure() -> pathlib.Path:
    """The root, made first if it is missing or of another recipe."""
    with _MAKING:
        return _ensure()


def _ensure() -> pathlib.Path:
    stamp = LOCATION / ".coroscope-recipe"
    if stamp.exists() and stamp.read_text() == RECIPE:
        return LOCATION
    if shutil.which("mmdebstrap") is None:
        # A fresh machine's package lists may be empty or old: update first.
        subprocess.run(["apt-get", "update", "-q"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "mmdebstrap"], check=True)
    print(f"making a Debian sid root for CPython {', '.join(PYTHONS)} in {LOCATION} (~2 min)")
    partial = LOCATION.with_name(LOCATION.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(LOCATION, ignore_errors=True)
    # mmdebstrap refuses a target whose parent is missing (a fresh machine's cache).
    partial.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "mmdebstrap",
            "--quiet",
            *MMDEBSTRAP_OPTIONS,
            f"--include={','.join(PACKAGES)}",
            "sid",
            str(partial),
            debian_mirror(),
        ],
        check=True,
    )
    # The registries are reached through a proxy whose certificate only the
    # host's bundle holds; pip, uv and cargo in the root read this path.
    shutil.copy(HOST_CA_BUNDLE, partial / HOST_CA_BUNDLE.relative_to("/"))
    (partial / ".coroscope-recipe").write_text(RECIPE)
    partial.rename(LOCATION)
    return LOCATION


def command(argv: list[str], cwd: pathlib.Path = CHECKOUT) -> list[str]:
    """``argv`` as a command that runs it in the root, in ``cwd`` (inside the checkout)."""
    root = ensure()
    binds = [f"{p}:{root}{p}" for p in ("/proc", "/dev", "/sys", "/tmp", str(CHECKOUT))]
    script = "; ".join(
        [
            "set -e",
            *(
                f"mkdir -p {shlex.quote(inner)} && mount --rbind {shlex.quote(outer)} "
                f"{shlex.quote(inner)}"
                for outer, inner in (b.split(":", 1) for b in binds)
            ),
            f'exec chroot {shlex.quote(str(root))} /usr/bin/env -C {shlex.quote(str(cwd))} "$@"',
        ]
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sid", *argv]


def environment() -> dict[str, str]:
    """What a command in the root sees: the host's settings, its own PATH and HOME."""
    return {
        **os.environ,
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "SSL_CERT_FILE": str(HOST_CA_BUNDLE),
    }


def main(argv: list[str]) -> int:
    if reason := unavailable():
        print(f"sid root: {reason}", file=sys.stderr)
        return 1
    if argv[:1] == ["--"]:
        return subprocess.run(command(argv[1:]), env=environment()).returncode
    print(ensure())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
