"""synthral: connect people, shell scripts and CI jobs to SaaS APIs.

Use from Python::

    from synthral_cli import Synthral

    sy = Synthral()
    for c in sy.connectors(category="payments"):
        print(c["slug"], c["name"])
    slack = sy.connector("slack")
"""

from __future__ import annotations

import sys

__version__ = "0.1.0"

# httpx imports its own command-line tool (click, rich, pygments: ~50 ms) whenever click happens
# to be installed. synthral never uses that tool, so mark the module as absent: httpx then skips
# it (its import is guarded by ``except ImportError``). See README "Performance".
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time
    from typing import Any

    from .core import Synthral

__all__ = ["Synthral", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Synthral":
        from .core import Synthral

        return Synthral
    raise AttributeError(name)
