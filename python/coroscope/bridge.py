"""Re-export of the native ``coroscope._native.bridge``: see ``src/bridge.rs``."""

from coroscope._native.bridge import *  # noqa: F403
from coroscope._native.bridge import __doc__ as __doc__
