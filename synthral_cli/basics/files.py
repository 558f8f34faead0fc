"""Private files on disk: owner-only directories, atomic owner-only writes, and the trust check.

``check_private(path, what)`` is synthral's StrictModes (after ssh's): a file or directory that
synthral reads secrets or instructions from must belong to the user (or root) and must not be
writable by group or others; a symlink there must be the user's own and lead to such a file. Any
layer may call it before trusting a path: the store and its key file, the config directory and
every manifest folder (on every command that reads them, the fast path included: one ``lstat`` in
the common case); ``check_stat`` applies the same rule to a ``stat`` the caller already has (each
user manifest file). It raises ``StoreError`` (exit 5) naming the path and the command to run. On
Windows, where modes and owners do not say who may write (ACLs do), nothing is checked.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import StoreError
from .settings import make_private_dirs

POSIX = hasattr(os, "getuid")


def _owner_ok(uid: int) -> bool:
    return uid in (os.getuid(), 0)


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return str(os.getuid())


def check_private(path: Path, what: str) -> None:
    """Refuse ``path`` (``what`` names it, e.g. "the store key file") unless it is safe to trust.

    Nothing at ``path`` is fine (the caller creates it). A symlink must be owned by the user and
    lead to an existing file; the file (or directory) itself must be owned by the user or root and
    not be group/world-writable. Read bits are the caller's business (it may tighten them).
    """
    if not POSIX:
        return
    try:
        link = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"cannot inspect {what} {path}: {exc.strerror}.", "Check the path and its parents.") from None
    if stat.S_ISLNK(link.st_mode):
        target = os.readlink(path)
        if not _owner_ok(link.st_uid):
            raise StoreError(
                f"{what} {path} is a symlink owned by another user (uid {link.st_uid}), pointing to {target}; "
                "synthral does not follow it.",
                f"Remove it if you did not create it (rm {path}); synthral then creates its own file.",
            )
        try:
            os.stat(path)
        except FileNotFoundError:
            raise StoreError(
                f"{what} {path} is a symlink to {target}, which does not exist; nothing was written through it.",
                f"Remove the symlink (rm {path}) or create its target first.",
            ) from None
        except OSError as exc:
            raise StoreError(
                f"{what} {path} is a symlink to {target}, which cannot be reached: {exc.strerror}.",
                f"Remove the symlink (rm {path}) or fix its target.",
            ) from None
    if stat.S_ISLNK(link.st_mode):
        check_stat(os.stat(path), Path(os.path.realpath(path)), what)
    else:
        check_stat(link, path, what)


def check_stat(st: os.stat_result, shown: Path | str, what: str) -> None:
    """The owner and mode rule of ``check_private`` for a ``stat`` the caller already has."""
    if not POSIX:
        return
    if not _owner_ok(st.st_uid):
        raise StoreError(
            f"{what} {shown} is owned by another user (uid {st.st_uid}); synthral only trusts your own files.",
            f"If it is yours, run: chown {_user()} {shown}; otherwise move it away.",
        )
    if st.st_mode & 0o022:
        mode = "700" if stat.S_ISDIR(st.st_mode) else "600"
        who = "group and others" if st.st_mode & 0o022 == 0o022 else "group" if st.st_mode & 0o020 else "others"
        raise StoreError(
            f"{what} {shown} is writable by {who} (mode {stat.S_IMODE(st.st_mode):o}), so someone else "
            "could have changed it; it was not used.",
            f"Check its content, then run: chmod {mode} {shown}",
        )


def loose_dir_notice(path: Path, what: str) -> str | None:
    """What to tell the user about a directory of ours that exists but is not 0700 (others can
    list or read it): synthral creates it 0700 and keeps it so. None when it is fine, absent, or
    writable by others (an error, not a notice: ``check_private``)."""
    if not POSIX:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or not st.st_mode & 0o077 or st.st_mode & 0o022:
        return None  # fine, or writable by others: check_private refuses that where it is used
    return (
        f"{what} {path} has mode {stat.S_IMODE(st.st_mode):o}: others can look into it; "
        f"synthral keeps it private (700). Run: chmod 700 {path}"
    )


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) with the last component 0700, whatever the umask."""
    if path.is_dir():
        return
    make_private_dirs(path.parent)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        if not path.is_dir():
            raise StoreError(
                f"{path} exists and is not a directory.", "Move it away or set SYNTHRAL_CONFIG_DIR."
            ) from None
        return
    os.chmod(path, 0o700)


def fsync_dir(path: Path) -> None:
    """Make a rename or link in ``path`` durable (best effort: some file systems refuse)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_private_file(path: Path, data: bytes, *, replace: bool) -> bool:
    """Write ``data`` to ``path`` atomically with mode 0600 (temp file, fsync, link/replace).

    With ``replace=False`` an existing file is never touched and ``False`` is returned. Raises
    ``OSError`` when the data could not be made durable (the caller says what it was for).
    """
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
    finally:
        if os.path.lexists(tmp):
            tmp.unlink()
    fsync_dir(path.parent)
    return True
