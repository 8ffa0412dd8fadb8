"""coroscope: a study kit for coroutine interop between Rust and Python.

Modules, one mechanism each (the Rust source of each is in ``src/<name>.rs``):

- ``coroscope.await_from_rust``: Rust drives Python coroutines by hand.
- ``coroscope.awaitable``: Rust objects that Python can ``await``.
- ``coroscope.bridge``: asyncio and tokio, bridged.

``coroscope.build_info()`` says what this build is (profile, versions), and
``coroscope.alive()`` how many Rust futures are alive (made and not yet
dropped), whichever bridge made them.

The kit owns the tokio runtime and the threads its Rust side runs on
(``src/support/runtime.rs``): ``coroscope.shutdown()`` stops them (it runs by itself at
interpreter exit), ``coroscope.is_shut_down()`` tells, and
``coroscope.quiesce()`` waits until tokio has nothing of the kit's in flight.

In IPython or Jupyter, ``%load_ext coroscope`` adds ``%atimeit`` (``%timeit`` for an
``await``: ``coroscope.magics``).
"""

from coroscope._native import alive, build_info, is_shut_down, quiesce, shutdown

__all__ = ["__version__", "alive", "build_info", "is_shut_down", "quiesce", "shutdown"]
__version__: str = build_info()["coroscope"]


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext coroscope``: ``%atimeit`` and ``%%atimeit`` (see ``coroscope.magics``)."""
    from coroscope.magics import load_ipython_extension as load

    load(ipython)
