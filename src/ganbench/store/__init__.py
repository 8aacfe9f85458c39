"""The results store: run files, what runs leave beside them (generators, pictures), safe paths, environment facts."""
