"""Planning: suites, variants, datasets, budgets and seeds into small picklable jobs, checked up front."""
