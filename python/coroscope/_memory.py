"""Memory readings shared by the benchmarks and the reliability trials.

Three views, because each misses something: tracemalloc sees Python's own
allocations only; glibc's ``mallinfo2`` sees the C heap, where Rust's boxes,
wakers and tokio's tasks live (and Python objects larger than 512 bytes, which
tracemalloc sees too); RSS sees everything the process touched, pages and
fragmentation included, so it is the coarsest.
"""

from __future__ import annotations

import ctypes
import os
import tracemalloc


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


_libc = ctypes.CDLL(None)
_libc.mallinfo2.restype = _MallInfo2


def c_heap_bytes() -> int:
    """Bytes in use on the C heap, every malloc arena (tokio's threads' too)."""
    info: _MallInfo2 = _libc.mallinfo2()
    return int(info.uordblks + info.hblkhd)


def python_bytes() -> int:
    """Bytes tracemalloc traces now (0 unless it is tracing)."""
    return tracemalloc.get_traced_memory()[0]


def rss_bytes() -> int:
    """The process's resident set size."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
