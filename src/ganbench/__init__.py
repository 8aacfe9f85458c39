"""ganbench: a plugin-based benchmark suite of GAN variants."""

__version__ = "0.1.0"

from ganbench.api.hookspecs import hookimpl  # noqa: E402  (pluggy only; no torch at import)

__all__ = ["__version__", "hookimpl"]
