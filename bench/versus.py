"""Before and after side by side: a baseline git ref and the current tree, timed in one run.

    .venv/bin/python bench/run.py --vs 5c3e8c1                  # 21 interleaved runs of each
    .venv/bin/python bench/run.py --vs 5c3e8c1 --update-readme  # also rewrite README's before/after table

Each side gets its own venv and a regular, non-editable, byte-compiled ``pip install`` (the ref
from ``git archive``, the current tree as it is on disk, uncommitted changes included), so both
start the way a user's install does. The same whole-process commands then run on both sides,
alternating before/after on every round so that load on a shared machine falls on both alike:
``synthral --version``, ``connectors list --json`` and ``invoke`` of a stored bearer token
(stored with ``authorize --with-token``, which every version has) against a local httpbin.
``python -c pass`` on each side is the noise floor: its ratio should be 1.00. CPU time (user +
system) and the modules each command imports are reported as well: load on a shared machine blurs
them far less than wall time.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TOKEN = "bench-bearer-token-0123456789abcdef"
STORE_KEY = "u7wbHqVgqXW0vO5xQ9f6b3aZrJ2nS1mT8kLcE4dYpG0"


@dataclass
class Side:
    label: str
    source: Path
    root: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def synthral(self) -> str:
        return str(self.venv / "bin" / "synthral")

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")


def git(*args: str) -> str:
    p = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise SystemExit(f"bench: git {' '.join(args)} failed: {p.stderr.strip()}")
    return p.stdout.strip()


def export_ref(ref: str, dest: Path) -> str:
    """Write the tree of ``ref`` into ``dest``; return its short commit id."""
    commit = git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit], capture_output=True,
                             check=True).stdout
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4+
            tar.extractall(dest, filter="data")
        else:
            tar.extractall(dest)  # our own repository's archive
    return commit[:7]


def current_label() -> str:
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short=7", "HEAD") + (" + working tree" if dirty else "")


def install(sides: list[Side], quick: bool) -> None:
    """Create each side's venv and pip-install its source into it, both at once (one per core).

    The venvs have no pip of their own: the pip running this script installs into them
    (``pip --python``). ``quick`` (the CI smoke run) installs synthral alone, built without build
    isolation, and lets each venv see this Python's packages for its dependencies (a ``.pth``):
    seconds instead of a minute, the same code path otherwise.
    """
    import sysconfig

    procs = []
    for side in sides:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(side.venv)], check=True)
        extra = ["--no-deps", "--no-build-isolation"] if quick else []
        if quick:
            purelib = Path(subprocess.run([side.python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                          capture_output=True, text=True, check=True).stdout.strip())
            (purelib / "bench-shared-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
        log = open(side.root / "pip.log", "w")  # noqa: SIM115 - closed below
        cmd = [sys.executable, "-m", "pip", "--python", side.python, "install", "--quiet", "--compile",
               "--no-input", "--disable-pip-version-check", *extra,
               f"{side.source}[postgres]"]  # the teams group times the PostgreSQL store too
        procs.append((side, log, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)))
    for side, log, proc in procs:
        rc = proc.wait()
        log.close()
        if rc != 0:
            tail = (side.root / "pip.log").read_text()[-2000:]
            raise SystemExit(f"bench: pip install of {side.label} failed ({rc}):\n{tail}")


def prepare(side: Side, manifests: Path) -> None:
    """A fresh config dir with the bench connector's bearer token stored through the CLI itself."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNTHRAL_", "NANGO_"))}
    env.update(SYNTHRAL_CONFIG_DIR=str(side.root / "config"), SYNTHRAL_STORE_KEY=STORE_KEY,
               SYNTHRAL_MANIFESTS_PATH=str(manifests))
    side.env = env
    probe = [side.python, "-c", "import synthral_cli; print(synthral_cli.__file__)"]
    where = subprocess.run(probe, env=env, cwd=side.root, capture_output=True, text=True, check=True).stdout.strip()
    if not Path(where).is_relative_to(side.venv):
        raise SystemExit(f"bench: {side.label} imports synthral_cli from {where}, not from its own venv")
    p = subprocess.run([side.synthral, "authorize", "benchbin", "--with-token"], input=TOKEN + "\n", env=env,
                       capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise SystemExit(f"bench: {side.label}: authorize --with-token failed ({p.returncode}): {p.stderr[-800:]}")
    check = subprocess.run([side.synthral, "invoke", "benchbin", "bearer", "--json"], env=env,
                           capture_output=True, text=True, check=False)
    if check.returncode != 0 or "authenticated" not in check.stdout:
        raise SystemExit(f"bench: {side.label}: invoke with the stored token failed: {check.stderr[-800:]}")


def interleaved(commands: list[tuple[list[str], dict[str, str]]], runs: int,
                warmup: int) -> tuple[list[list[float]], list[list[float]]]:
    """Wall times and CPU times (user + system) in ms of each command, run in rounds that alternate
    the order of the commands. CPU time leaves out waiting for a core, so a busy machine blurs it less."""
    import resource

    def once(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        took = (time.perf_counter() - start) * 1000
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            raise SystemExit(f"bench: {' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode()[-500:]}")
        cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000
        return took, cpu

    for _ in range(warmup):
        for cmd, env in commands:
            once(cmd, env)
    wall: list[list[float]] = [[] for _ in commands]
    cpu: list[list[float]] = [[] for _ in commands]
    for i in range(runs):
        order = list(enumerate(commands))
        for j, (cmd, env) in order if i % 2 == 0 else reversed(order):
            w, c = once(cmd, env)
            wall[j].append(w)
            cpu[j].append(c)
    return wall, cpu


def imported(cmd: list[str], env: dict[str, str]) -> int:
    """How many modules one run of ``cmd`` imports (``PYTHONPROFILEIMPORTTIME``): a count that load
    on the machine does not blur."""
    p = subprocess.run(cmd, env={**env, "PYTHONPROFILEIMPORTTIME": "1"}, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, check=False)
    return sum(1 for line in p.stderr.splitlines() if line.startswith("import time:") and "|" in line) - 1


def cell(samples: list[float]) -> str:
    """Median, and half the interquartile range as the spread."""
    q = statistics.quantiles(samples, n=4) if len(samples) > 1 else [samples[0]] * 3
    return f"{statistics.median(samples):,.1f} ms (±{(q[2] - q[0]) / 2:.1f})"


def compare(args: argparse.Namespace, tmp: Path, local_httpbin: Callable[[], AbstractContextManager[Any]],
            bench_manifest: Callable[[Path, str], None]) -> str:
    """Install both sides, time them interleaved, and return the markdown table."""
    before = Side("before", tmp / "before" / "src", tmp / "before")
    before.root.mkdir()
    before_label = export_ref(args.vs, before.source)
    after = Side("after", REPO, tmp / "after")
    after.root.mkdir()
    after_label = current_label()
    sides = [before, after]
    print(f"bench: installing {before_label} and {after_label} into two venvs ...", file=sys.stderr, flush=True)
    install(sides, args.quick)
    rows: list[tuple[str, list[list[float]], list[list[float]], list[int]]] = []
    with local_httpbin() as bin_:
        manifests = tmp / "vs-manifests"
        bench_manifest(manifests, bin_.url)
        for side in sides:
            prepare(side, manifests)
        listing_env = {s.label: {k: v for k, v in s.env.items() if k != "SYNTHRAL_MANIFESTS_PATH"} for s in sides}
        measured = [
            ("python -c pass (noise floor)", lambda s: [s.python, "-c", "pass"], lambda s: s.env),
            ("synthral --version", lambda s: [s.synthral, "--version"], lambda s: s.env),
            ("synthral connectors list --json", lambda s: [s.synthral, "connectors", "list", "--json"],
             lambda s: listing_env[s.label]),
            ("synthral invoke (stored bearer token, GET local httpbin, --json)",
             lambda s: [s.synthral, "invoke", "benchbin", "bearer", "--json"], lambda s: s.env),
        ]
        if args.more:
            measured += [
                ("synthral token (stored)", lambda s: [s.synthral, "token", "benchbin"], lambda s: s.env),
                ("synthral --help", lambda s: [s.synthral, "--help"], lambda s: s.env),
                ("synthral invoke --help", lambda s: [s.synthral, "invoke", "--help"], lambda s: s.env),
            ]
        for name, cmd, env in measured:
            print(f"bench: {name} ...", file=sys.stderr, flush=True)
            wall, cpu = interleaved([(cmd(s), env(s)) for s in sides], args.runs, args.warmup)
            rows.append((name, wall, cpu, [imported(cmd(s), env(s)) for s in sides]))
    lines = [
        f"| measurement | before: {before_label} | after: {after_label} | after / before "
        "| CPU time, before → after | modules imported |",
        "|---|---|---|---|---|---|",
    ]
    for name, (b, a), (cb, ca), (mb, ma) in rows:
        ratio = statistics.median(a) / statistics.median(b)
        cb_, ca_ = statistics.median(cb), statistics.median(ca)
        lines.append(f"| {name} | {cell(b)} | {cell(a)} | {ratio:.2f}x "
                     f"| {cb_:,.1f} → {ca_:,.1f} ms ({ca_ / cb_:.2f}x) | {mb} → {ma} |")
    return "\n".join(lines)
