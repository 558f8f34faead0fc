"""The root command: global options, command groups, and the one place errors are rendered.

Each command group lives in ``synthral_cli/cli/<group>.py`` and only imports typer at module
level; heavy libraries load inside the commands that need them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from ..basics.errors import SynthralError
from ..basics.version import __version__
from .runtime import Runtime

COMPLETE_VAR = "_SYNTHRAL_COMPLETE"
INTERNAL_ERROR_EXIT = 70  # EX_SOFTWARE: a bug in synthral, never an expected outcome


class SynthralGroup(TyperGroup):
    """Renders ``SynthralError``: one line of what happened, one of what to do, the exit code.

    A closed stdout is exit 141 for every command and for ``--help``: Typer would turn the
    ``BrokenPipeError`` into exit 1 (a provider error), so it is answered here, where parsing
    (``make_context``, which prints the help) and every command (``invoke``) pass."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            raise typer.Exit(_stdout_closed()) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except SynthralError as exc:
            from . import ui

            runtime = ctx.obj if isinstance(ctx.obj, Runtime) else None
            if runtime is not None:
                runtime.flush_notices()  # e.g. where the key went, before the error that followed
            if runtime is not None and runtime.debug:
                ui.print_traceback()
            ui.error(exc.message, exc.hint)
            raise typer.Exit(exc.exit_code) from None
        except BrokenPipeError:
            raise typer.Exit(_stdout_closed()) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if isinstance(exc, _click_exception_types()):
                raise
            from . import ui

            runtime = ctx.obj if isinstance(ctx.obj, Runtime) else None
            if runtime is not None and runtime.debug:
                ui.print_traceback()
            ui.error(
                f"unexpected error: {type(exc).__name__}: {exc}",
                "This is a bug in synthral; rerun with --debug for the traceback and report it.",
            )
            raise typer.Exit(INTERNAL_ERROR_EXIT) from None
        finally:
            if isinstance(ctx.obj, Runtime):
                ctx.obj.flush_notices()
                ctx.obj.close()

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Usage errors (a missing argument, an unknown option) print as every other error does:
        ``error:`` and a hint with the usage line, exit 2; not Click's ``Usage:/Error:`` block."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        from typer._click.exceptions import ClickException, NoArgsIsHelpError

        try:
            rv = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except NoArgsIsHelpError as exc:  # `synthral connectors`: the help, as Click shows it
            exc.show()
            sys.exit(exc.exit_code)
        except ClickException as exc:
            _usage_error(exc)
            sys.exit(exc.exit_code)
        except typer.Abort:
            sys.stderr.write("Aborted!\n")
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


def _usage_error(exc: Any) -> None:
    from . import ui

    message = exc.format_message().strip()
    if message and message[-1] not in ".?!":
        message += "."
    ctx = getattr(exc, "ctx", None)
    hint = None
    if ctx is not None:
        usage = ctx.get_usage().removeprefix("Usage:").strip()
        hint = f"Usage: {usage}  (more: {ctx.command_path} --help)"
    ui.error(message, hint)


class SynthralCommand(TyperCommand):
    """Usage lines name arguments in capitals (``SLUG [ACTION]``), and options show a word for
    their value (``--retries RETRIES``, or the metavar given), not ``{slug}`` or ``<str>``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.metavar is not None or param.name is None or getattr(param, "is_flag", False):
                continue
            if hasattr(param.type, "choices") and not isinstance(param, TyperArgument):
                continue  # --transport [stdio|http] names its choices
            param.metavar = param.name.upper()

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """When completing the value of an option (``invoke slack send_message -p <TAB>``), the
        option waiting for it is left out, so the arguments before it (SLUG, ACTION) are
        parsed and its completion can use them; Click would drop them all."""
        if ctx.resilient_parsing and args and self._takes_value(args[-1]):
            args = args[:-1]
        return super().parse_args(ctx, args)

    def _takes_value(self, word: str) -> bool:
        return any(
            not isinstance(p, TyperArgument) and not getattr(p, "is_flag", False) and word in p.opts
            for p in self.params
        )

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                var = param.make_metavar(ctx)
                if param.nargs != 1 and not var.endswith("..."):
                    var += "..."
                pieces.append(var if param.required else f"[{var}]")
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


def _use_synthral_commands(typer_app: typer.Typer) -> None:
    """Every command, in every group, is a ``SynthralCommand``."""
    for info in typer_app.registered_commands:
        if info.cls in (None, TyperCommand):
            info.cls = SynthralCommand
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _use_synthral_commands(group.typer_instance)


def _stdout_closed() -> int:
    from .ui import stdout_closed

    return stdout_closed()


def _click_exception_types() -> tuple[type[BaseException], ...]:
    from typer._click.exceptions import ClickException

    return (ClickException, typer.Exit, typer.Abort)


app = typer.Typer(
    name="synthral",
    cls=SynthralGroup,
    help="Connect shell scripts and CI jobs to SaaS APIs: browse connectors, authorize, invoke.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help and errors: no Rich markup read from text, no boxed panels
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"synthral {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    debug: bool = typer.Option(
        False, "--debug", help="Show tracebacks and HTTP logs (secrets redacted).", envvar="SYNTHRAL_DEBUG"
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    allow_insecure: bool = typer.Option(
        False,
        "--allow-insecure",
        help="Allow plain text to a host that is not this machine (http NANGO_URL, SMTP security none "
        "with a password, PostgreSQL sslmode disable/allow/prefer).",
        envvar="SYNTHRAL_ALLOW_INSECURE",
    ),
    store_url: str = typer.Option(
        "",
        "--store-url",
        help="Use this store: postgresql://USER@HOST:PORT/DB (shared by a team; the password from "
        "PGPASSWORD or ~/.pgpass, never on the command line) or sqlite: (this machine's file). "
        "Default: SYNTHRAL_STORE_URL, then store_url in config.toml, then the file.",
        show_default=False,
    ),
    ignore_env: bool = typer.Option(
        False,
        "--ignore-env",
        help="Use the stored connection even when SYNTHRAL_<SLUG>_TOKEN or SYNTHRAL_<SLUG>_<SETTING> is set.",
        envvar="SYNTHRAL_IGNORE_ENV",
    ),
) -> None:
    """Connect shell scripts and CI jobs to SaaS APIs.

    Example: synthral connectors list --category crm
    """
    if not isinstance(ctx.obj, Runtime):
        ctx.obj = Runtime(debug=debug)
    else:
        ctx.obj.debug = ctx.obj.debug or debug
    if allow_insecure:  # one setting for the core to read: Settings.allow_insecure
        from ..basics.settings import ALLOW_INSECURE

        ctx.obj.env[ALLOW_INSECURE] = "1"
    if store_url:
        from ..basics.settings import STORE_URL
        from .store import refuse_password_on_argv

        ctx.obj.env[STORE_URL] = refuse_password_on_argv(store_url, "--store-url")
    if ignore_env:  # likewise: Settings.ignore_env
        from ..basics.settings import IGNORE_ENV

        ctx.obj.env[IGNORE_ENV] = "1"
    if ctx.obj.debug:
        from ..basics.logs import disable_debug_logging, enable_debug_logging

        enable_debug_logging()
        ctx.call_on_close(disable_debug_logging)


def _register() -> None:
    """One line per command group; each module imports only Typer at module level."""
    from . import (
        authorize,
        batch,
        completion,
        configure,
        connections,
        connectors,
        events,
        invoke,
        listen,
        mcp,
        nango,
        run,
        serve,
        store,
        watch,
    )

    app.add_typer(connectors.app, name="connectors")
    connectors.add_aliases(app)
    app.add_typer(connections.app, name="connections")
    app.add_typer(store.app, name="store")
    configure.register_command(app)
    authorize.register(app)  # authorize, refresh, token
    invoke.register(app)  # invoke, request, test
    run.register(app)
    batch.register(app)
    app.add_typer(nango.app, name="nango")
    mcp.register(app)  # mcp, tools export
    completion.register(app)
    serve.register(app)
    listen.register(app)  # listen (triggers)
    watch.register(app)
    events.register(app)  # events list, replay
    _use_synthral_commands(app)


_register()


GLOBAL_FLAGS = ("--debug", "--allow-insecure", "--ignore-env")


def hoist_global_flags(argv: list[str]) -> list[str]:
    """``--debug``, ``--allow-insecure`` and ``--ignore-env`` work anywhere on the line (before
    ``--``), not only before the command."""
    cut = argv.index("--") if "--" in argv else len(argv)
    found = [f for f in GLOBAL_FLAGS if f in argv[:cut]]
    if not found:
        return argv
    rest = [a for i, a in enumerate(argv) if not (a in GLOBAL_FLAGS and i < cut)]
    return [*found, *rest]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = hoist_global_flags(list(sys.argv[1:] if argv is None else argv))
    if COMPLETE_VAR in os.environ:
        from typer._completion_classes import completion_init

        completion_init()
    app(args=args, prog_name="synthral")
