"""Tools for plugin authors and CI: conformance checks, the plugin scaffold, the pytest plugin, overhead."""
