"""Where dataset files live: ``--data-root``, else ``$GANBENCH_DATA_ROOT``, else a user cache.

The default is ``$XDG_CACHE_HOME/ganbench/data`` (``~/.cache/ganbench/data`` when
``XDG_CACHE_HOME`` is unset). Loaders read their files under the root in torchvision's layout
(``MNIST/raw/*.gz``, ``FashionMNIST/raw/*.gz``, ``cifar-10-batches-py/``) and only write into it
when they download.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

ENV_VAR = "GANBENCH_DATA_ROOT"


def user_cache_dir() -> Path:
    """ganbench's directory in the user cache: ``$XDG_CACHE_HOME/ganbench`` or
    ``~/.cache/ganbench``."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "ganbench"


def default_data_root() -> Path:
    """The user cache directory for data: ``$XDG_CACHE_HOME/ganbench/data`` or
    ``~/.cache/ganbench/data``."""
    return user_cache_dir() / "data"


def resolve_data_root(root: Optional[str] = None) -> Path:
    """``root`` when given, else ``$GANBENCH_DATA_ROOT``, else :func:`default_data_root`."""
    chosen = root or os.environ.get(ENV_VAR)
    return Path(chosen).expanduser() if chosen else default_data_root()
