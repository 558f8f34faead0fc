"""A plugin whose dependency is not installed: importing it fails."""

import acme_missing_dependency  # noqa: F401


class Missing:
    pass
