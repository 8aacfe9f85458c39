"""ganbench's built-in plugins, installed as the import package ``ganbench_plugins``.

Each module is a plugin declared in the ``ganbench`` entry-point group of ganbench's own
distribution: the same route a third-party plugin takes.
"""
