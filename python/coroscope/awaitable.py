"""Re-export of the native ``coroscope._native.awaitable``: see ``src/awaitable.rs``."""

from coroscope._native.awaitable import *  # noqa: F403
from coroscope._native.awaitable import __doc__ as __doc__
