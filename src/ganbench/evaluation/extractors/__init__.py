"""Feature extractors for FID, KID, IS and precision/recall.

Two kinds, both registered with torch-fidelity (``torch_fidelity.register_feature_extractor``)
so every number is computed by torch-fidelity itself:

* ``inception-v3-compat``: torch-fidelity's standard Inception-v3 (the TF-FID port), for
  numbers comparable with papers. Weights from torch-fidelity's download cache, or a file given
  with ``--fid-weights PATH``.
* ``ganbench-DATASET``: small classifiers ganbench trains on a dataset's train split
  (``ganbench train-extractor --dataset NAME``) and ships inside the package with their sha256.
  Offline and fast on a CPU; the default where one exists for the dataset.

* ``dinov2-vit-s-14`` (and -b/-l/-g): torch-fidelity's DINOv2 extractor, its network built
  offline from the ``facebookresearch/dinov2`` code in torch's hub cache and a weights file
  (``dinov2.py``); evaluated beside the main extractor as FD_DINOv2 under its own EvalSpec
  (``--extractor auto,dinov2-vit-s-14``), never as the run's FID.

``select.resolve_extractor`` picks one for a run and returns what goes into the EvalSpec.
"""
