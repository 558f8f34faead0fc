"""synthral: connect people, shell scripts and CI jobs to SaaS APIs.

Use from Python::

    from synthral_cli import Synthral

    sy = Synthral()
    for c in sy.connectors(category="payments"):
        print(c["slug"], c["name"])
    slack = sy.connector("slack")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .core import Synthral

__all__ = ["Synthral", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Synthral":
        from .core import Synthral

        return Synthral
    raise AttributeError(name)
