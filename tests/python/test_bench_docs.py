"""docs/benchmarks.md keeps each kind of section per machine (bench/benchlib.py's
write_docs): a script rewrites its own machine's section and leaves the others,
a new machine's section goes after the last one of its kind, and a section
written before the markers named machines gets the key of the machine its
environment table names.

    .venv/bin/python -m pytest tests/python/test_bench_docs.py
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import benchlib  # noqa: E402

BEGIN, END = "<!-- kernels:begin -->", "<!-- kernels:end -->"


def env_table(cpu: str, amx: bool) -> str:
    return f"| | |\n|---|---|\n| CPU | {cpu}; 2 usable of 2 logical CPUs |\n" \
           f"| ISA flags | avx2 yes, avx512f yes, avx512_vnni yes, amx_int8 {'yes' if amx else 'no'} |"


def test_machine_keys():
    assert benchlib.machine_key("Intel(R) Xeon(R) Processor", True) == "intel-xeon-amx"
    assert benchlib.machine_key("Intel(R) Xeon(R) Platinum 8480+ @ 2.00GHz", True) == "intel-xeon-platinum-8480-amx"
    assert benchlib.machine_key("AMD EPYC 9R14 96-Core Processor", False) == "amd-epyc-9r14-96-core"
    assert benchlib.machine_key("", False) == "unknown"
    # A VM's generic name gets the family and model, so two generations behind it stay apart.
    generic = benchlib.with_family_model("Intel(R) Xeon(R) Processor", "6", "207")
    assert generic == "Intel(R) Xeon(R) Processor, family 6 model 207"
    assert benchlib.machine_key(generic, False) == "intel-xeon-family-6-model-207"
    assert benchlib.with_family_model("AMD EPYC 9R14 96-Core Processor", "25", "17") == "AMD EPYC 9R14 96-Core Processor"
    assert benchlib.with_family_model("Intel(R) Xeon(R) Processor", None, None) == "Intel(R) Xeon(R) Processor"


def test_unkeyed_section_is_keyed_and_a_new_machine_goes_after_it(tmp_path):
    doc = tmp_path / "benchmarks.md"
    old = f"### Kernels\n\n{env_table('Intel(R) Xeon(R) Processor', True)}\n\n| old table |"
    doc.write_text(f"# Benchmarks\n\n{BEGIN}\n{old}\n{END}\n\n<!-- node_profile:begin -->\nx\n<!-- node_profile:end -->\n")
    benchlib.write_docs(doc, "new amd table", BEGIN, END, "test", machine="amd-epyc")
    text = doc.read_text()
    assert BEGIN not in text and END not in text
    xeon = text.index("<!-- kernels@intel-xeon-amx:begin -->")
    amd = text.index("<!-- kernels@amd-epyc:begin -->")
    assert xeon < text.index("| old table |") < text.index("<!-- kernels@intel-xeon-amx:end -->") < amd
    assert text.index("new amd table") < text.index("<!-- kernels@amd-epyc:end -->") < text.index("<!-- node_profile:begin -->")

    # Rewriting one machine's section leaves the other's as it was.
    benchlib.write_docs(doc, "newer amd table", BEGIN, END, "test", machine="amd-epyc")
    text = doc.read_text()
    assert "new amd table" not in text and "newer amd table" in text and "| old table |" in text
    assert text.count("<!-- kernels@") == 4
    benchlib.write_docs(doc, "new xeon table", BEGIN, END, "test", machine="intel-xeon-amx")
    text = doc.read_text()
    assert "| old table |" not in text and "new xeon table" in text and "newer amd table" in text
    assert text.index("new xeon table") < text.index("newer amd table")


def test_new_kind_is_appended_and_missing_file_created(tmp_path):
    doc = tmp_path / "benchmarks.md"
    benchlib.write_docs(doc, "first", BEGIN, END, "test", machine="m1")
    text = doc.read_text()
    assert text.startswith(benchlib.DOC_HEADER)
    assert "<!-- kernels@m1:begin -->\nfirst\n<!-- kernels@m1:end -->" in text
    benchlib.write_docs(doc, "prof", "<!-- node_profile:begin -->", "<!-- node_profile:end -->", "test", machine="m1")
    assert doc.read_text().rstrip().endswith("<!-- node_profile@m1:end -->")


def test_broken_pairs_are_refused(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\n{END}\nx\n{BEGIN}\n")
    with pytest.raises(SystemExit):
        benchlib.write_docs(doc, "s", BEGIN, END, "test", machine="m1")
    doc.write_text("# Benchmarks\n\n<!-- kernels@m1:begin -->\nx\n")
    with pytest.raises(SystemExit):
        benchlib.write_docs(doc, "s", BEGIN, END, "test", machine="m1")


def make_tree(root: Path) -> Path:
    """A repository with a built executable and sources written before it."""
    for name in ("src/kernels/a.cc", "include/nibble/b.h", "CMakeLists.txt", "docs/c.md"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
        os.utime(root / name, (1000, 1000))
    exe = root / "build" / "nibble"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    os.utime(exe, (2000, 2000))
    return exe


def test_fresh_executable_passes_and_a_newer_source_makes_it_stale(tmp_path, capsys):
    exe = make_tree(tmp_path)
    assert benchlib.newer_sources(exe, tmp_path) == []
    benchlib.check_executable(exe, "test", writing_docs=True, root=tmp_path)
    os.utime(tmp_path / "docs" / "c.md", (3000, 3000))  # not a source
    assert benchlib.newer_sources(exe, tmp_path) == []
    os.utime(tmp_path / "src" / "kernels" / "a.cc", (3000, 3000))
    os.utime(tmp_path / "CMakeLists.txt", (4000, 4000))
    assert benchlib.newer_sources(exe, tmp_path) == [tmp_path / "CMakeLists.txt", tmp_path / "src" / "kernels" / "a.cc"]
    # Measuring only: a warning naming the newest source. Writing docs: refused.
    benchlib.check_executable(exe, "test", writing_docs=False, root=tmp_path)
    assert "older than 2 source file(s) (newest: CMakeLists.txt)" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="rebuild it"):
        benchlib.check_executable(exe, "test", writing_docs=True, root=tmp_path)


def test_executable_outside_the_repository_is_not_checked(tmp_path):
    repo = tmp_path / "repo"
    make_tree(repo)
    other = tmp_path / "elsewhere" / "nibble"
    other.parent.mkdir()
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    os.utime(other, (10, 10))
    benchlib.check_executable(other, "test", writing_docs=True, root=repo)
    with pytest.raises(SystemExit, match="not found"):
        benchlib.check_executable(tmp_path / "missing", "test", root=repo)
