"""The small languages inside manifests: YAML documents, response paths (``errors[0].message``),
the URL safety rule (https, or http to loopback), "did you mean" for misspelt names, and YAML
written without aliases (``dump_yaml``)."""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from typing import Any


def _did_you_mean(word: str, choices: list[str], n: int = 3) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=n, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


# Where an anchor (&a) or alias (*a) can start: after a separator, never inside a word or a URL.
_ANCHOR_OR_ALIAS = re.compile(r"(?<![^\s\[{,:\ufeff])[&*][^\s\[\]{},]")


class YAMLAliasError(ValueError):
    """An anchor or alias in a manifest or flow file (refused before anything is expanded).
    ``problem`` and ``problem_mark`` read like PyYAML's errors, so callers report it the same way."""

    problem = "anchors and aliases (&name, *name) are not allowed here; write each value out"

    def __init__(self, mark: Any) -> None:
        self.problem_mark = mark
        super().__init__(f"line {mark.line + 1}: {self.problem}")


def _yaml_load(text: str) -> Any:
    """One YAML document with the C loader. Anchors and aliases are refused without expanding
    them (a few KB of nested aliases expand to gigabytes): text that might hold one is first
    read as an event stream, which never builds the aliased values."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    if _ANCHOR_OR_ALIAS.search(text):
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise YAMLAliasError(event.start_mark)
    return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader


def dump_yaml(doc: Any, comment: str = "") -> str:
    """YAML a manifest loader reads back as the same value: no anchors or aliases (a value used
    twice is written twice), text that would read as another type quoted, keys in their order."""
    import yaml

    class Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
        def ignore_aliases(self, data: Any) -> bool:
            return True

    text = yaml.dump(doc, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=1000, default_flow_style=False)
    head = "".join(f"# {line}\n".replace("# \n", "#\n") for line in comment.splitlines())
    return head + text


def _is_safe_url(url: str) -> bool:
    """HTTPS, or plain HTTP only to a loopback host (local test servers)."""
    if url.startswith("https://"):
        return True
    m = re.match(r"http://(\[::1\]|127\.\d+\.\d+\.\d+|localhost)(:\d+)?(/|$)", url)
    return m is not None


_PATH_TOKEN = re.compile(
    r"""\[\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(-?\d+))\s*\]|([^.\[\]]+)|(\.)"""
)


def split_path(path: str) -> list[str | int]:
    """A response path as keys and list indexes.

    ``data.items`` -> ``["data", "items"]``; ``errors[0].message`` and ``errors.0.message`` ->
    ``["errors", 0, "message"]`` (a bare number is an index into a list, a key in an object);
    ``[0].message`` starts in a top-level list; a key that holds dots or brackets is quoted in
    brackets: ``["@odata.nextLink"]``. Raises ``ValueError`` on a malformed path.
    """
    out: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = _PATH_TOKEN.match(path, pos)
        if m is None:
            raise ValueError(f"cannot read the path {path!r} at {path[pos:]!r}")
        dq, sq, index, bare, _dot = m.groups()
        if dq is not None or sq is not None:
            out.append(re.sub(r"\\(.)", r"\1", dq if dq is not None else sq))
        elif index is not None:
            out.append(int(index))
        elif bare is not None:
            out.append(int(bare) if re.fullmatch(r"-?\d+", bare) else bare)
        pos = m.end()
    return out
