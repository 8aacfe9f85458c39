"""torch-fidelity's ``inception-v3-compat`` extractor: where its weights come from.

ganbench always hands torch-fidelity an explicit weights file, so a missing file is one clear
message instead of a network traceback: ``--fid-weights PATH``, else torch-fidelity's usual
download location in the torch hub cache (downloaded there when allowed).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Optional

from ganbench.api.errors import DataUnavailableError, UsageError

NAME = "inception-v3-compat"
FILENAME = "weights-inception-2015-12-05-6726825d.pth"
URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + FILENAME


def default_path() -> Path:
    """Where torch-fidelity's own download puts the weights (``$TORCH_HOME/hub/checkpoints``)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / FILENAME


def weights_path(path: Optional[str], download: bool = True) -> str:
    """The Inception weights file to use; DataUnavailableError when there is none."""
    if path:
        if not os.path.isfile(path):
            raise UsageError(f"--fid-weights: no such file '{path}'")
        return path
    dst = default_path()
    if dst.is_file():
        return str(dst)
    hint = (f"download {URL} and pass --fid-weights PATH (or put it at {dst}), or use a "
            "ganbench extractor (--extractor auto) or --extractor none")
    if not download:
        raise DataUnavailableError(f"the Inception-v3 FID weights are not at {dst} and "
                                   f"downloads are off (--no-download): {hint}")
    import torch

    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(URL, str(dst), progress=False)
    except Exception as exc:  # no network, proxy, HTTP error...
        raise DataUnavailableError(f"the Inception-v3 FID weights could not be downloaded "
                                   f"({type(exc).__name__}: {exc}): {hint}") from None
    return str(dst)


@lru_cache(maxsize=None)
def _sha256(path: str, mtime: float, size: int) -> str:
    from ganbench.evaluation.extractors.domain import sha256_file

    return sha256_file(path)


def weights_hash(path: str) -> str:
    st = os.stat(path)
    return _sha256(os.path.abspath(path), st.st_mtime, st.st_size)


def standin_network(seed: int = 0):
    """torch-fidelity's Inception-v3 extractor (2048-d pool features) with random weights,
    seeded, and nothing downloaded: the real network's shapes and cost, for tests and
    benchmarks on machines without the official weights. Its FID values mean nothing."""
    import torch
    from torch_fidelity import feature_extractor_inceptionv3 as fi

    cls = fi.FeatureExtractorInceptionV3
    saved = fi.load_state_dict_from_url, cls.load_state_dict
    fi.load_state_dict_from_url = lambda *a, **k: {}  # no download: keep the random init
    cls.load_state_dict = lambda self, sd, *a, **k: None
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return cls(NAME, ["2048"])
    finally:
        fi.load_state_dict_from_url, cls.load_state_dict = saved
