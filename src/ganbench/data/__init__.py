"""Where dataset files live and the data options the core applies to every image dataset."""
