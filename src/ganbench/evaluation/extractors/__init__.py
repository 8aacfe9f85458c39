"""Feature extractors for FID, KID, IS and precision/recall.

Two kinds, both registered with torch-fidelity (``torch_fidelity.register_feature_extractor``)
so every number is computed by torch-fidelity itself:

* ``inception-v3-compat``: torch-fidelity's standard Inception-v3 (the TF-FID port), for
  numbers comparable with papers. Weights from torch-fidelity's download cache, or a file given
  with ``--fid-weights PATH``.
* ``ganbench-DATASET``: small classifiers ganbench trains on a dataset's train split
  (``ganbench train-extractor --dataset NAME``) and ships inside the package with their sha256.
  Offline and fast on a CPU; the default where one exists for the dataset.

``select.resolve_extractor`` picks one for a run and returns what goes into the EvalSpec.
"""
