"""The catalogue: the manifest model, its JSON Schema and semantic validation, and loading the
bundled and user manifest folders (with their cache). Imports only ``basics``."""
