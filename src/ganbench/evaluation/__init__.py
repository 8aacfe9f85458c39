"""Evaluation: FID/KID/IS/PR through torch-fidelity, extractors, label metrics, calibration, cross-checks."""
