"""coroscope: a study kit for coroutine interop between Rust and Python.

Modules, one mechanism each (the Rust source of each is in ``src/<name>.rs``):

- ``coroscope.await_from_rust``: Rust drives Python coroutines by hand.
- ``coroscope.awaitable``: Rust objects that Python can ``await``.
- ``coroscope.bridge``: asyncio and tokio, bridged.

``coroscope.build_info()`` says what this build is (profile, versions).
"""

from coroscope._native import build_info

__all__ = ["__version__", "build_info"]
__version__: str = build_info()["coroscope"]
