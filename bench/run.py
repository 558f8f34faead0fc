"""synthral's benchmark: whole processes, repeated after a warm-up, medians and ratios side by side.

    .venv/bin/python bench/run.py                 # full run, prints the table with PASS/MISS
    .venv/bin/python bench/run.py --quick         # a few runs of each (CI smoke, no thresholds)
    .venv/bin/python bench/run.py --update-readme # also rewrite README's "Performance" table
    .venv/bin/python bench/run.py --vs 5c3e8c1    # that commit and the current tree, side by side

synthral is measured the way users run it: a regular, non-editable, byte-compiled ``pip install``
of this tree into a venv of its own (``--dev``: the current interpreter's install instead). Every
figure is a median measured in this run on this machine, and its ratio is to a reference measured
in the same run: the Python floor (``python -c pass`` of that venv), curl and httpie's ``http``
(installed by the benchmark into a throwaway venv) for the same request, ``gh help`` / ``rclone``
where installed. On a shared machine trust the ratios more than the absolute figures; the header
says the machine, the Python and the load average at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import os
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
SYNTHRAL = str(BIN / "synthral")  # main() points these at the benchmark's own install
PYTHON = sys.executable
HTTPIE: str | None = None


@dataclass
class Row:
    name: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None
    note: str = ""
    block: str = "bench"  # the README block it is written to (<!-- bench:start --> ...)

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
    floor = timed([PYTHON, "-c", "pass"], env, args.runs)
    version = timed([SYNTHRAL, "--version"], env, args.runs)
    listing = timed([SYNTHRAL, "connectors", "list", "--json"], env, args.runs)
    helps = [(" ".join(a), timed([SYNTHRAL, *a], env, args.runs)) for a in (["--help"], ["invoke", "--help"])]
    rows = [
        Row("python -c pass (floor)", floor, "ms"),
        Row("synthral --version", version, "ms", note=f"{version / floor:.1f}x floor"),
        Row("synthral connectors list --json", listing, "ms", "<= 100 ms and <= 5x floor",
            listing <= 100 and listing <= 5 * floor, f"{listing / floor:.1f}x floor"),
        *[Row(f"synthral {name}", t, "ms", "<= 100 ms", t <= 100, f"{t / floor:.1f}x floor") for name, t in helps],
    ]
    for tool, cmd in (("gh help", ["gh", "help"]), ("rclone help", ["rclone", "help"])):
        if shutil.which(cmd[0]):
            t = timed(cmd, env, args.runs)
            rows.append(Row(tool, t, "ms", note=f"list is {listing / t:.2f}x this; --help is {helps[0][1] / t:.2f}x"))
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
        Row(f"list --json, +{args.extra_manifests} user manifests (first run, parses YAML)", cold, "ms",
            "<= 2 s", cold <= 2000, f"{cold / bundled:.1f}x bundled"),
    ]


@bench
def memory(args: argparse.Namespace, tmp: Path) -> list[Row]:
    env = base_env(tmp / "memory")
    subprocess.run([SYNTHRAL, "list", "--json"], env=env, stdout=subprocess.DEVNULL, check=True)
    rss = peak_rss_mib([SYNTHRAL, "connectors", "list", "--json"], env)
    floor = peak_rss_mib([PYTHON, "-c", "pass"], env)
    return [Row("peak memory, connectors list --json", rss, "MiB", "<= 40 MiB", rss <= 40,
                f"python -c pass: {floor:.1f} MiB")]


STORE_KEY = "u7wbHqVgqXW0vO5xQ9f6b3aZrJ2nS1mT8kLcE4dYpG0"
TOKEN = "bench-bearer-token-0123456789abcdef"


from refs import LocalHTTPBin  # noqa: E402 - bench/ is on sys.path when this file runs as a script


def bench_manifest(folder: Path, url: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    doc = {
        "schema_version": 1, "slug": "benchbin", "name": "Bench httpbin", "category": "Development & Code",
        "status": "beta", "version": "1.0.0", "description": "Local httpbin for the benchmark.",
        "docs_url": "https://httpbin.org/", "base_url": url, "auth": {"type": "bearer"},
        "nango": {"enabled": False},
        "actions": [
            {"name": "test_connection", "description": "Check the token.", "method": "GET", "path": "/bearer"},
            {"name": "bearer", "description": "Check the token.", "method": "GET", "path": "/bearer"},
        ],
    }
    (folder / "benchbin.yaml").write_text(json.dumps(doc))


def store_connections(env: dict[str, str], conns: list[object]) -> None:
    from synthral_cli.basics.settings import Settings
    from synthral_cli.store.encrypted import Store

    store = Store.open(Settings(env))
    try:
        with store.locked():
            for c in conns:
                store.put(c)  # type: ignore[arg-type]
    finally:
        store.close()


def invoke_env(tmp: Path, name: str, url: str) -> dict[str, str]:
    from synthral_cli.store.model import Connection

    env = base_env(tmp / name)
    env["SYNTHRAL_STORE_KEY"] = STORE_KEY
    env["SYNTHRAL_MANIFESTS_PATH"] = str(tmp / f"{name}-manifests")
    bench_manifest(tmp / f"{name}-manifests", url)
    store_connections(env, [Connection(slug="benchbin", method="bearer", secrets={"token": TOKEN})])
    return env


@bench
def invoke(args: argparse.Namespace, tmp: Path) -> list[Row]:
    cmd = [SYNTHRAL, "invoke", "benchbin", "bearer", "--json"]
    auth = f"Authorization: Bearer {TOKEN}"
    with LocalHTTPBin() as bin_:
        env = invoke_env(tmp, "invoke", bin_.url)
        ours = timed(cmd, env, args.runs)
        refs: dict[str, float] = {"floor": timed([PYTHON, "-c", "pass"], env, args.runs)}
        if shutil.which("curl"):
            refs["curl"] = timed(["curl", "-sf", "-H", auth, f"{bin_.url}/bearer"], env, args.runs)
        if HTTPIE:
            refs["httpie"] = timed([HTTPIE, "--ignore-stdin", "GET", f"{bin_.url}/bearer", auth.replace(" ", "", 1)],
                                   env, args.runs)
        httpie = refs.get("httpie")
        ok = ours <= 150 and (httpie is None or ours <= 0.35 * httpie)
        note = "; ".join(f"{ours / t:.2f}x {name}" for name, t in refs.items())
        if httpie is None:
            note += "; httpie not measured (no ratio verdict)"
        rows = [Row("synthral invoke (stored bearer token, GET local httpbin, --json)", ours, "ms",
                    "<= 150 ms and <= 0.35x httpie (stretch 100)", ok, note + ("; stretch met" if ours <= 100 else ""))]
        for name in ("curl", "httpie"):
            if name in refs:
                label = "curl" if name == "curl" else "httpie's http"
                rows.append(Row(f"{label}, the same request", refs[name], "ms",
                                note=f"{refs[name] / refs['floor']:.1f}x floor"))
        rss = peak_rss_mib(cmd, env)
        rows.append(Row("peak memory, invoke", rss, "MiB", "<= 40 MiB", rss <= 40))
    with LocalHTTPBin(tls=True, folder=tmp / "tls") as sbin:
        env = invoke_env(tmp, "invoke-tls", sbin.url)
        tls_cmd = [*cmd, "--ca-bundle", sbin.ca_file]
        ours_tls = timed(tls_cmd, env, args.runs)
        note = f"{ours_tls / ours:.2f}x plain http"
        if shutil.which("curl"):
            curl = ["curl", "-sf", "--cacert", sbin.ca_file, "-H", auth, f"{sbin.url}/bearer"]
            curl_tls = timed(curl, env, args.runs)
            note += f"; curl: {curl_tls:.1f} ms"
        rows.append(Row("synthral invoke over HTTPS (local TLS httpbin, trustme CA via --ca-bundle)", ours_tls, "ms",
                        "<= 200 ms", ours_tls <= 200, note))
    return rows


@bench
def batch(args: argparse.Namespace, tmp: Path) -> list[Row]:
    with LocalHTTPBin() as bin_:
        env = invoke_env(tmp, "batch", bin_.url)
        lines = "".join(json.dumps({"connector": "benchbin", "action": "bearer", "id": i}) + "\n"
                        for i in range(args.batch))
        cmd = [SYNTHRAL, "batch", "--parallel", "8"]
        subprocess.run(cmd, input=lines.encode(), env=env, stdout=subprocess.DEVNULL, check=True)  # warm-up
        samples = []
        for _ in range(max(3, args.runs // 7)):
            start = time.perf_counter()
            p = subprocess.run(cmd, input=lines.encode(), env=env, capture_output=True, check=False)
            samples.append((time.perf_counter() - start) * 1000)
            if p.returncode != 0 or p.stdout.count(b'"success": true') != args.batch:
                raise SystemExit(f"bench: synthral batch failed ({p.returncode}): {p.stderr.decode()[-500:]}")
        total = statistics.median(samples)
        per = total / args.batch
        step = {"type": "connector", "config": {"connectorType": "benchbin", "action": "bearer"}}
        one, many = tmp / "one.json", tmp / "many.json"
        one.write_text(json.dumps({"steps": [{"name": "s0", **step}]}))
        many.write_text(json.dumps({"steps": [{"name": f"s{i}", **step} for i in range(args.batch)]}))
        runs = max(3, args.runs // 5)
        t1 = timed([SYNTHRAL, "run", str(one)], env, runs, warmup=1)
        tn = timed([SYNTHRAL, "run", str(many)], env, runs, warmup=1)
        per_step = (tn - t1) / (args.batch - 1)
        return [
            Row(f"synthral batch --parallel 8, {args.batch} lines against httpbin", total, "ms"),
            Row("batch: wall time per line (whole process)", per, "ms", "<= 3 ms", per <= 3),
            Row(f"synthral run, {args.batch} invoke steps against httpbin", tn, "ms"),
            Row("per action inside one run (sequential)", per_step, "ms", "<= 5 ms", per_step <= 5,
                f"1-step run: {t1:.0f} ms"),
        ]


@bench
def store_scale(args: argparse.Namespace, tmp: Path) -> list[Row]:
    import secrets
    import time as _time

    from synthral_cli.store.model import Connection

    env = base_env(tmp / "store")
    env["SYNTHRAL_STORE_KEY"] = STORE_KEY
    slugs = ["slack", "github", "stripe", "gmail", "hubspot"]
    conns = [
        Connection(slug=slugs[i % len(slugs)], name=f"c{i:05d}", method="direct", scopes=["read", "write"],
                   expires_at=_time.time() + 3600, secrets={"access_token": secrets.token_urlsafe(24),
                                                             "refresh_token": secrets.token_urlsafe(24)})
        for i in range(args.connections)
    ]
    store_connections(env, conns)
    listing = timed([SYNTHRAL, "connections", "list"], env, args.runs)
    as_json = timed([SYNTHRAL, "connections", "list", "--json"], env, args.runs)
    token = timed([SYNTHRAL, "token", "slack", "--connection", "c00000"], env, args.runs)
    n = f"{args.connections:,}"
    return [
        Row(f"connections list, {n} connections", listing, "ms", "<= 100 ms", listing <= 100),
        Row(f"connections list --json, {n} connections", as_json, "ms"),
        Row(f"token (stored, fresh), {n} connections", token, "ms", "<= 100 ms", token <= 100),
    ]


@bench
def concurrency(args: argparse.Namespace, tmp: Path) -> list[Row]:
    from tests.authserver import OAuthServer, Provider

    server = OAuthServer().start()
    try:
        client = server.add_client("bench-client")
        folder = tmp / "conc-manifests"
        folder.mkdir()
        env = base_env(tmp / "conc")
        env.update(SYNTHRAL_STORE_KEY=STORE_KEY, SYNTHRAL_MANIFESTS_PATH=str(folder),
                   SYNTHRAL_TESTPROV_CLIENT_ID="bench-client",
                   SYNTHRAL_TESTPROV_CLIENT_SECRET=str(client.client_secret))
        prov = Provider(server, "bench-client", client.client_secret, folder)
        prov.manifest()
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            prov.seed(expires_in=-5)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        start = time.perf_counter()
        procs = [subprocess.Popen([SYNTHRAL, "invoke", "testprov", "test_connection", "--json"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(16)]
        codes = [p.wait(timeout=120) for p in procs]
        wall = (time.perf_counter() - start) * 1000
        ok = sum(c == 0 for c in codes)
        grants = server.count("refresh_token", "bench-client")
        return [
            Row("16 parallel invokes, expired token: wall time", wall, "ms"),
            Row("16 parallel invokes: successes", ok, "of 16", "16", ok == 16),
            Row("16 parallel invokes: refresh grants at the server", grants, "grants", "exactly 1", grants == 1),
        ]
    finally:
        server.stop()


@bench
def teams(args: argparse.Namespace, tmp: Path) -> list[Row]:
    import bench_store  # bench/ is on sys.path when this file runs as a script

    return bench_store.teams_rows(args, tmp, sys.modules[__name__])


@bench
def mcp(args: argparse.Namespace, tmp: Path) -> list[Row]:
    import bench_mcp  # bench/ is on sys.path when this file runs as a script

    return bench_mcp.rows(args, tmp, sys.modules[__name__])


@bench
def triggers(args: argparse.Namespace, tmp: Path) -> list[Row]:
    import bench_triggers  # bench/ is on sys.path when this file runs as a script

    return bench_triggers.rows(args, tmp, sys.modules[__name__])


def render(rows: list[Row]) -> str:
    lines = [
        "| measurement | median | target | result | note |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        value = f"{r.value:,.1f} {r.unit}" if r.unit in {"ms", "MiB"} else f"{r.value:g} {r.unit}"
        lines.append(f"| {r.name} | {value} | {r.target} | {r.verdict()} | {r.note} |")
    return "\n".join(lines)


def machine() -> str:
    import refs

    return refs.machine()


def write_block(name: str, table: str, when: str) -> None:
    """Replace the README's ``<!-- name:start -->`` ... ``<!-- name:end -->`` block with ``table``."""
    readme = REPO / "README.md"
    text = readme.read_text()
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text:
        raise SystemExit(f"README.md has no {start} marker")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    block = f"{start}\nMeasured {when} on {machine()} by `bench/run.py`{LOAD_NOTE[0]}:\n\n{table}\n{end}"
    readme.write_text(head + block + tail)


LOAD_NOTE = [""]


def update_readme(rows: list[Row], when: str) -> None:
    """Rewrite each README block that this run measured rows for (``--only`` leaves the others)."""
    for name in dict.fromkeys(r.block for r in rows):
        write_block(name, render([r for r in rows if r.block == name]), when)


def versus(args: argparse.Namespace) -> None:
    import versus as vs  # bench/versus.py, beside this file

    args.warmup = 1 if args.quick else 2
    if args.quick:
        args.runs = 3
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-vs-") as tmp:
        table = vs.compare(args, Path(tmp), LocalHTTPBin, bench_manifest)
    print(table)
    note = (f"Medians of {args.runs} interleaved runs each (± half the interquartile range). The machine's "
            f"1-minute load average was {load:.1f} at the start and {os.getloadavg()[0]:.1f} at the end.")
    print(note)
    if args.update_readme and not args.quick:
        write_block("bench-vs", f"{table}\n\n{note}", time.strftime("%Y-%m-%d"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 runs each, small inputs, no verdicts")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--only", action="append", default=[], help="run only these benchmarks")
    parser.add_argument("--update-readme", action="store_true")
    parser.add_argument("--json", action="store_true", help="print rows as JSON too")
    parser.add_argument("--more", action="store_true", help="with --vs: also token, --help and invoke --help")
    parser.add_argument("--dev", action="store_true",
                        help="time this interpreter's synthral (e.g. an editable install), not a fresh pip install")
    parser.add_argument("--vs", metavar="GIT_REF",
                        help="install GIT_REF and the current tree into two venvs; time both side by side")
    args = parser.parse_args()
    if args.vs:
        versus(args)
        return
    args.extra_manifests = 2000
    args.connections = 10_000
    args.batch = 1000
    if args.quick:
        args.runs = 3
        args.extra_manifests = 50
        args.connections = 200
        args.batch = 20
    rows: list[Row] = []
    global SYNTHRAL, PYTHON, HTTPIE
    import refs

    start_load = refs.load()
    with tempfile.TemporaryDirectory(prefix="bench-synthral-") as tmp:
        if not args.dev:
            bin_dir = refs.install_synthral(Path(tmp), args.quick)
            SYNTHRAL, PYTHON = str(bin_dir / "synthral"), str(bin_dir / "python")
        if not args.only or "invoke" in args.only:
            HTTPIE = refs.install_httpie(Path(tmp), args.quick)
        print(f"bench: {machine()}; synthral {SYNTHRAL}; load average {start_load:.1f}", file=sys.stderr, flush=True)
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
    LOAD_NOTE[0] = (f" (a regular pip install in its own venv{'' if not args.dev else ' — no: --dev'}; 1-minute load "
                    f"average {start_load:.1f} at the start, {refs.load():.1f} at the end)")
    print(f"{machine()}{LOAD_NOTE[0]}\n")
    print(table)
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=1))
    if args.update_readme and not args.quick:
        update_readme(rows, time.strftime("%Y-%m-%d"))
    misses = [r.name for r in rows if r.ok is False]
    if misses:
        print(f"bench: MISS: {', '.join(misses)}", file=sys.stderr)


if __name__ == "__main__":
    main()
