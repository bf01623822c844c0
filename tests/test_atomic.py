import pytest

from asdcore import atomic


def test_write_replaces_whole_file(tmp_path):
    target = tmp_path / "sub" / "labels.csv"
    atomic.write_text(target, "old")
    atomic.write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["labels.csv"]


def test_failure_mid_write_keeps_previous_content(tmp_path):
    target = tmp_path / "labels.csv"
    atomic.write_text(target, "precious")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.csv"]


def test_temp_file_keeps_suffix_for_format_detection(tmp_path):
    with atomic.atomic_path(tmp_path / "a.wav") as tmp:
        assert tmp.suffix == ".wav"
        tmp.write_bytes(b"x")
    assert (tmp_path / "a.wav").read_bytes() == b"x"


def test_written_files_get_ordinary_permissions_not_private_ones(tmp_path):
    import os
    import stat

    umask = os.umask(0o022)
    os.umask(umask)
    target = tmp_path / "report.html"
    atomic.write_text(target, "<html></html>")
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
