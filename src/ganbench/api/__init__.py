"""The public plugin API: hook specifications, the specs plugins register, the evaluation protocol's spec and context, errors."""
