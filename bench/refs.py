"""What bench/run.py measures against, set up in the same run: synthral installed the way the
README installs it (a regular, non-editable, byte-compiled ``pip install`` into a venv of its
own), httpie's ``http`` in a throwaway venv, a local httpbin over plain HTTP and over TLS (a
trustme CA that ``--ca-bundle`` trusts), and the machine it all runs on."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def install_synthral(tmp: Path, quick: bool) -> Path:
    """A venv with synthral pip-installed from this tree (``versus.install``); its ``bin``."""
    import versus  # bench/versus.py, beside this file

    side = versus.Side("bench", REPO, tmp / "synthral-install")
    side.root.mkdir(parents=True)
    print("bench: pip install of this tree into its own venv ...", file=sys.stderr, flush=True)
    versus.install([side], quick)
    probe = subprocess.run([side.python, "-c", "import synthral_cli; print(synthral_cli.__file__)"],
                           cwd=side.root, capture_output=True, text=True, check=True).stdout.strip()
    if not Path(probe).is_relative_to(side.venv):
        raise SystemExit(f"bench: the installed venv imports synthral_cli from {probe}")
    return side.venv / "bin"


def install_httpie(tmp: Path, quick: bool) -> str | None:
    """httpie's ``http`` in a throwaway venv (``--quick``: only one already on PATH)."""
    if quick:
        return shutil.which("http")
    venv = tmp / "httpie-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    print("bench: pip install httpie into a throwaway venv ...", file=sys.stderr, flush=True)
    p = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                        "--quiet", "--compile", "--no-input", "--disable-pip-version-check", "httpie"],
                       capture_output=True, text=True, check=False)
    if p.returncode != 0:
        print(f"bench: httpie could not be installed: {p.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return str(venv / "bin" / "http")


class LocalHTTPBin:
    """httpbin (the package behind pytest-httpbin) on 127.0.0.1 in a thread, threaded; with
    ``tls`` over HTTPS with a certificate from a trustme CA (``ca_file``)."""

    def __init__(self, tls: bool = False, folder: Path | None = None) -> None:
        self.tls = tls
        self.folder = folder
        self.ca_file = ""

    def __enter__(self) -> LocalHTTPBin:
        import logging
        import threading

        from httpbin import app
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_request(self, *a: object, **k: object) -> None:
                pass

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        ctx: Any = None
        if self.tls:
            import ssl

            import trustme

            ca = trustme.CA()
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
            assert self.folder is not None  # noqa: S101 - the caller gives a folder for the CA file
            self.folder.mkdir(parents=True, exist_ok=True)
            self.ca_file = str(self.folder / "bench-ca.pem")
            ca.cert_pem.write_to_path(self.ca_file)
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet, ssl_context=ctx)
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({model or cpu}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def load() -> float:
    return os.getloadavg()[0]
