"""synthral's benchmark: whole processes, repeated after a warm-up, medians and ratios side by side.

    .venv/bin/python bench/run.py                 # full run, prints the table with PASS/MISS
    .venv/bin/python bench/run.py --quick         # a few runs of each (CI smoke, no thresholds)
    .venv/bin/python bench/run.py --update-readme # also rewrite README's "Performance" table

Every figure is measured in this run on this machine; ratios compare figures from the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
BIN = Path(sys.executable).parent
SYNTHRAL = str(BIN / "synthral")


@dataclass
class Row:
    name: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None
    note: str = ""

    def verdict(self) -> str:
        return "" if self.ok is None else ("PASS" if self.ok else "MISS")


def timed(cmd: list[str], env: dict[str, str], runs: int, warmup: int = 2) -> float:
    """Median wall time in ms of a whole process."""
    for _ in range(warmup):
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        samples.append((time.perf_counter() - start) * 1000)
        if p.returncode != 0:
            raise SystemExit(f"bench: {' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode()[-500:]}")
    return statistics.median(samples)


def peak_rss_mib(cmd: list[str], env: dict[str, str]) -> float:
    """Peak resident memory of one child process (ru_maxrss of a fresh wrapper)."""
    code = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, *cmd], env=env, capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def base_env(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNTHRAL_", "NANGO_"))}
    env["SYNTHRAL_CONFIG_DIR"] = str(config)
    return env


def gen_manifests(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    template = (REPO / "tests" / "data" / "bench_manifest.yaml").read_text()
    for i in range(count):
        (folder / f"gen-{i:05d}.yaml").write_text(template.replace("SLUG", f"gen-{i:05d}"))


BENCHES: list[Callable[[argparse.Namespace, Path], list[Row]]] = []


def bench(fn: Callable[[argparse.Namespace, Path], list[Row]]) -> Callable[[argparse.Namespace, Path], list[Row]]:
    BENCHES.append(fn)
    return fn


@bench
def startup(args: argparse.Namespace, tmp: Path) -> list[Row]:
    env = base_env(tmp / "startup")
    floor = timed([sys.executable, "-c", "pass"], env, args.runs)
    version = timed([SYNTHRAL, "--version"], env, args.runs)
    listing = timed([SYNTHRAL, "connectors", "list", "--json"], env, args.runs)
    rows = [
        Row("python -c pass (floor)", floor, "ms"),
        Row("synthral --version", version, "ms", note=f"{version / floor:.1f}x floor"),
        Row("synthral connectors list --json", listing, "ms", "<= 100 ms and <= 5x floor",
            listing <= 100 and listing <= 5 * floor, f"{listing / floor:.1f}x floor"),
    ]
    for tool, cmd in (("gh help", ["gh", "help"]), ("rclone listremotes", ["rclone", "listremotes"])):
        if shutil.which(cmd[0]):
            t = timed(cmd, env, args.runs)
            rows.append(Row(tool, t, "ms", note=f"list is {listing / t:.2f}x this"))
    return rows


@bench
def catalogue_scale(args: argparse.Namespace, tmp: Path) -> list[Row]:
    env = base_env(tmp / "scale-bundled")
    bundled = timed([SYNTHRAL, "connectors", "list", "--json"], env, args.runs)
    extra = tmp / "extra-manifests"
    gen_manifests(extra, args.extra_manifests)
    env2 = base_env(tmp / "scale-extra")
    env2["SYNTHRAL_MANIFESTS_PATH"] = str(extra)
    start = time.perf_counter()
    subprocess.run([SYNTHRAL, "connectors", "list", "--json"], env=env2, stdout=subprocess.DEVNULL, check=True)
    cold = (time.perf_counter() - start) * 1000
    scaled = timed([SYNTHRAL, "connectors", "list", "--json"], env2, args.runs)
    ratio = scaled / bundled
    return [
        Row("list --json, bundled catalogue", bundled, "ms"),
        Row(f"list --json, +{args.extra_manifests} user manifests (cached)", scaled, "ms", "<= 1.3x bundled",
            ratio <= 1.3, f"{ratio:.2f}x bundled"),
        Row(f"list --json, +{args.extra_manifests} user manifests (first run, parses YAML)", cold, "ms"),
    ]


@bench
def memory(args: argparse.Namespace, tmp: Path) -> list[Row]:
    env = base_env(tmp / "memory")
    subprocess.run([SYNTHRAL, "list", "--json"], env=env, stdout=subprocess.DEVNULL, check=True)
    rss = peak_rss_mib([SYNTHRAL, "connectors", "list", "--json"], env)
    return [Row("peak memory, connectors list --json", rss, "MiB", "<= 40 MiB", rss <= 40)]


def render(rows: list[Row]) -> str:
    lines = [
        "| measurement | median | target | result | note |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        value = f"{r.value:,.1f} {r.unit}"
        lines.append(f"| {r.name} | {value} | {r.target} | {r.verdict()} | {r.note} |")
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def update_readme(table: str, when: str) -> None:
    readme = REPO / "README.md"
    text = readme.read_text()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start not in text:
        raise SystemExit("README.md has no <!-- bench:start --> marker")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    block = f"{start}\nMeasured {when} on {machine()} by `bench/run.py`:\n\n{table}\n{end}"
    readme.write_text(head + block + tail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 runs each, small inputs, no verdicts")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--only", action="append", default=[], help="run only these benchmarks")
    parser.add_argument("--update-readme", action="store_true")
    parser.add_argument("--json", action="store_true", help="print rows as JSON too")
    args = parser.parse_args()
    args.extra_manifests = 2000
    args.connections = 10_000
    args.batch = 1000
    if args.quick:
        args.runs = 3
        args.extra_manifests = 50
        args.connections = 200
        args.batch = 20
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="synthral-bench-") as tmp:
        for fn in BENCHES:
            if args.only and fn.__name__ not in args.only:
                continue
            print(f"bench: {fn.__name__} ...", file=sys.stderr, flush=True)
            got = fn(args, Path(tmp))
            if args.quick:
                for r in got:
                    r.ok = None
            rows.extend(got)
    table = render(rows)
    print(table)
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=1))
    if args.update_readme and not args.quick:
        update_readme(table, time.strftime("%Y-%m-%d"))
    misses = [r.name for r in rows if r.ok is False]
    if misses:
        print(f"bench: MISS: {', '.join(misses)}", file=sys.stderr)


if __name__ == "__main__":
    main()
