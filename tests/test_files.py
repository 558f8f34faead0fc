"""``basics.files``: the StrictModes check any layer can call, and owner-only atomic writes."""

from __future__ import annotations

import os
import stat

import pytest

from synthral_cli.basics.errors import StoreError
from synthral_cli.basics.files import check_private, write_private_file


def test_check_private_accepts_own_private_paths_and_absent_ones(tmp_path):
    check_private(tmp_path / "absent", "the thing")
    d = tmp_path / "dir"
    d.mkdir(mode=0o755)  # readable by others is the caller's business; writable is not
    check_private(d, "the folder")
    f = d / "file"
    f.write_text("x")
    os.chmod(f, 0o644)
    check_private(f, "the file")
    link = tmp_path / "link"
    link.symlink_to(f)
    check_private(link, "the file")


@pytest.mark.parametrize("mode, who", [(0o777, "group and others"), (0o775, "group"), (0o707, "others")])
def test_check_private_refuses_a_writable_directory_with_the_chmod(tmp_path, mode, who):
    d = tmp_path / "manifests"
    d.mkdir()
    os.chmod(d, mode)
    with pytest.raises(StoreError) as info:
        check_private(d, "the manifest folder")
    assert info.value.exit_code == 5
    assert info.value.message.startswith(f"the manifest folder {d} is writable by {who} (mode {mode:o})")
    assert info.value.hint.endswith(f"chmod 700 {d}")


def test_check_private_refuses_dangling_and_foreign_symlinks(tmp_path):
    link = tmp_path / "store.key"
    link.symlink_to(tmp_path / "missing")
    with pytest.raises(StoreError, match="which does not exist"):
        check_private(link, "the store key file")
    if os.getuid() == 0:  # only root can give a symlink away; CI runs as root
        link.unlink()
        target = tmp_path / "real"
        target.write_text("k")
        link.symlink_to(target)
        os.lchown(link, 65534, 65534)
        with pytest.raises(StoreError, match="symlink owned by another user"):
            check_private(link, "the store key file")


def test_write_private_file_is_owner_only_and_never_replaces_unless_asked(tmp_path):
    old = os.umask(0)
    try:
        path = tmp_path / "new" / "secret"
        assert write_private_file(path, b"one", replace=False) is True
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
        assert write_private_file(path, b"two", replace=False) is False and path.read_bytes() == b"one"
        assert write_private_file(path, b"three", replace=True) is True and path.read_bytes() == b"three"
        assert [p.name for p in path.parent.iterdir()] == ["secret"]  # no temp file left behind
    finally:
        os.umask(old)
