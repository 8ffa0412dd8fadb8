"""Re-export of the native ``coroscope._native.await_from_rust``: see ``src/await_from_rust.rs``."""

from coroscope._native.await_from_rust import *  # noqa: F403
from coroscope._native.await_from_rust import __doc__ as __doc__
