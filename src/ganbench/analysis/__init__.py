"""Analysis of stored results: statistics, the gate, anytime curves, the study, latent pictures, the report."""
