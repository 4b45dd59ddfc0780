"""Writing a config file back (a rotated refresh token): durable, through symlinks, mode kept."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from singer_bridge._files import write_config_file


def test_a_symlinked_config_is_written_through_the_link(tmp_path: Path) -> None:
    """Secrets managers and dotfile setups link the config: the link must stay a link."""
    (tmp_path / "secrets").mkdir()
    target = tmp_path / "secrets" / "config.json"
    target.write_text('{"refresh_token": "old"}')
    link = tmp_path / "config.json"
    link.symlink_to(target)
    write_config_file(link, {"refresh_token": "new"})
    assert link.is_symlink() and link.resolve() == target
    assert json.loads(target.read_text()) == {"refresh_token": "new"}
    assert sorted(p.name for p in (tmp_path / "secrets").iterdir()) == ["config.json"]


def test_the_config_keeps_its_mode_and_a_new_one_is_private(tmp_path: Path) -> None:
    shared = tmp_path / "shared.json"
    shared.write_text("{}")
    shared.chmod(0o640)
    write_config_file(shared, {"token": "t"})
    assert stat.S_IMODE(shared.stat().st_mode) == 0o640
    fresh = tmp_path / "fresh.json"
    write_config_file(fresh, {"token": "t"})
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_the_new_config_is_synced_before_the_rename_and_the_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without both, a crash can leave an empty file or the old token the server retired."""
    config = tmp_path / "config.json"
    config.write_text("{}")
    synced: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    def replace(src: str, dst: str | Path) -> None:
        synced.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_config_file(config, {"token": "t"})
    assert synced == ["file", "rename", "folder"]
    assert json.loads(config.read_text()) == {"token": "t"}
