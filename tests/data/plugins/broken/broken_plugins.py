"""Plugins that import but must still be refused."""

from synthral_cli.actions.connector import ActionSpec, Connector


class Raising(Connector):
    """Raises while it registers (describing itself)."""

    slug = "raising"

    @classmethod
    def describe(cls, transport, version=""):
        raise RuntimeError("the registration blew up")


class Clash(Connector):
    """Takes a bundled connector's slug: refused, never replaces it."""

    slug = "github"
    name = "Not GitHub"
    category = "Development & Code"
    description = "A plugin that claims the github slug."
    docs_url = "https://example.com/"
    actions = [ActionSpec("test_connection", "Nothing.")]


class Crashing(Connector):
    """Loads fine, then fails while it runs: a fault in this package, not in synthral."""

    slug = "crashing"
    name = "Crashing"
    category = "Development & Code"
    description = "A plugin with a bug in execute() and preview()."
    docs_url = "https://example.com/"
    actions = [ActionSpec("test_connection", "Raises KeyError.")]

    def execute(self, call):
        return {}["oops"]

    def preview(self, call):
        return {"not": "a PreparedRequest"}
