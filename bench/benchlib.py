"""What the benchmark scripts in bench/ share: the environment table, the marked
section of docs/benchmarks.md, and running `nibble bench`.

    from benchlib import environment, write_docs, nibble_bench

Used by compare_float.py, quant_accuracy.py and compare.py; not a script itself.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterable

REPO_ROOT = Path(__file__).resolve().parents[1]

DOC_HEADER = ("# Benchmarks\n\nMeasured results. Sections between `<!-- ...:begin -->` and `<!-- ...:end -->` "
              "markers are rewritten by the scripts in `bench/`; edit outside them. Each kind of section is kept "
              "per machine (`<!-- kind@machine:begin -->`: the CPU model, and whether it has AMX); a script "
              "rewrites only the section of the machine it ran on.\n")

# Variables that steer code paths of numpy's OpenBLAS and OpenMP pools on this machine.
BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
# ... and those that steer nibble (NIBBLE_ISA lowers the x86 kernel level), oneDNN and the peers' pools.
ALL_STEERING_VARS = ("NIBBLE_ISA", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                     "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS")


# ---- environment -----------------------------------------------------------------------

def cpu_description() -> tuple[str, dict[str, bool]]:
    """The CPU model name and whether it has the x86 extensions nibble's kernels care about.
    A name without a model number (a VM's "Intel(R) Xeon(R) Processor") gets the CPU's family and
    model from cpuinfo, so an Ice Lake and an Emerald Rapids behind the same name stay apart."""
    model, flags, ident = "unknown", set(), {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model == "unknown":
                    model = value.strip()
                elif key in ("cpu family", "model") and key not in ident:
                    ident[key] = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    model = with_family_model(model, ident.get("cpu family"), ident.get("model"))
    # amx_int8: nibble's amx level and oneDNN's (OpenVINO's) AMX kernels need it.
    return model, {f: f in flags for f in ("avx2", "avx512f", "avx512_vnni", "amx_int8")}


def with_family_model(name: str, family: str | None, model: str | None) -> str:
    """`name`, plus ", family F model M" when the name carries no digits of its own."""
    if name == "unknown" or re.search(r"\d", re.sub(r"@.*", "", name)) or not family or not model:
        return name
    return f"{name}, family {family} model {model}"


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def environment(threads: str, versions: Iterable[tuple[str, str]], extra: Iterable[tuple[str, str]] = (),
                variables: Iterable[str] = BLAS_VARS, threads_label: str = "threads measured") -> list[tuple[str, str]]:
    """The rows every benchmark prints first and writes above its tables, in this order:
    date, CPU, ISA flags, threads, the steering variables, library versions, load, kernel, then `extra`."""
    model, flags = cpu_description()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return [
        ("date (UTC)", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")),
        ("CPU", f"{model}; {usable_cpus()} usable of {os.cpu_count()} logical CPUs"),
        ("ISA flags", ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in flags.items())),
        (threads_label, threads),
        *[(var, os.environ.get(var, "unset")) for var in variables],
        *versions,
        ("load average at start", load),
        ("kernel", f"{platform.system()} {platform.release()}"),
        *extra,
    ]


def print_environment(env: list[tuple[str, str]]) -> None:
    for k, v in env:
        print(f"{k}: {v}")


def environment_table(env: list[tuple[str, str]]) -> list[str]:
    """The environment as a two-column markdown table."""
    return ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in env]


# ---- docs/benchmarks.md ------------------------------------------------------------------

def machine_key(model: str, amx: bool) -> str:
    """A short name for a machine in docs/benchmarks.md's markers: the CPU model's words
    without trademarks and clock ("Intel(R) Xeon(R) Platinum 8480+ @ 2.0GHz" -> intel-xeon-platinum-8480),
    plus -amx where the CPU has AMX-INT8 (nibble's fastest level, and oneDNN's)."""
    words = re.sub(r"\((R|TM)\)|\bCPU\b|\bProcessor\b|@.*", " ", model)
    slug = "-".join(re.findall(r"[a-z0-9]+", words.lower()))[:48].strip("-") or "unknown"
    return slug + ("-amx" if amx else "")


def current_machine_key() -> str:
    model, flags = cpu_description()
    return machine_key(model, flags.get("amx_int8", False))


def _keyed(marker: str, key: str) -> str:
    """<!-- kind:begin --> -> <!-- kind@key:begin --> (likewise :end)."""
    kind, _, rest = marker.removeprefix("<!-- ").partition(":")
    return f"<!-- {kind}@{key}:{rest}"


def _section_machine(body: str) -> str:
    """The machine a section written before the per-machine markers was measured on (its
    environment table's CPU and ISA flags rows); "unknown" without them."""
    cpu = re.search(r"^\| CPU \| ([^;|]+)", body, re.M)
    amx = re.search(r"^\| ISA flags \|[^\n]*amx_int8 yes", body, re.M)
    return machine_key(cpu.group(1).strip(), amx is not None) if cpu else "unknown"


def write_docs(path: Path, section: str, begin: str, end: str, script: str, machine: str | None = None) -> None:
    """Replace this machine's section of the kind `begin` / `end` mark (`<!-- kind:begin -->`) in
    `path` with `section`, leaving other machines' sections of that kind as they are. A new
    machine's section goes after the last one of its kind (at the end when there is none); a
    section in unkeyed markers (written before the markers named machines) first gets the key of
    the machine its environment table names. Creates the file with its header when missing.
    `machine`: the key (default: this machine's, current_machine_key)."""
    key = machine or current_machine_key()
    kb, ke = _keyed(begin, key), _keyed(end, key)
    block = f"{kb}\n{section}\n{ke}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{DOC_HEADER}\n{block}\n")
        return
    text = path.read_text()
    b, e = text.find(begin), text.find(end)
    if b >= 0 or e >= 0:
        if not 0 <= b < e:
            sys.exit(f"{script}: {path} has a broken {begin} / {end} pair; fix it by hand")
        old = _section_machine(text[b + len(begin):e])
        text = text[:b] + _keyed(begin, old) + text[b + len(begin):e] + _keyed(end, old) + text[e + len(end):]
    b, e = text.find(kb), text.find(ke)
    if 0 <= b < e:
        text = text[:b] + block + text[e + len(ke):]
    elif b >= 0 or e >= 0:
        sys.exit(f"{script}: {path} has a broken {kb} / {ke} pair; fix it by hand")
    else:
        kind_end = re.compile(re.escape(_keyed(end, "KEY")).replace("KEY", r"[^:]+"))
        last = None
        for last in kind_end.finditer(text):
            pass
        if last:
            text = text[:last.end()] + f"\n\n{block}" + text[last.end():]
        else:
            text = text.rstrip("\n") + f"\n\n{block}\n"
    path.write_text(text)


# ---- Google Benchmark binaries (bench/*.cc) ------------------------------------------------

class BenchmarkError(Exception):
    """A Google Benchmark binary failed or timed out; str() says which command and why."""


def google_benchmark(binary: Path, flt: str, min_time: float | None = None, timeout: float = 1800) -> list[dict]:
    """The "benchmarks" rows of `binary --benchmark_filter=flt` (its JSON report; none when the
    filter matches nothing). Raises BenchmarkError when it fails or times out."""
    # JSON to a file: some binaries print their own summary on stdout.
    fd, name = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    out = Path(name)
    cmd = [str(binary), f"--benchmark_filter={flt}", f"--benchmark_out={out}", "--benchmark_out_format=json"]
    if min_time is not None:
        cmd.append(f"--benchmark_min_time={min_time}")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            raise BenchmarkError(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
        text = out.read_text()
        return json.loads(text)["benchmarks"] if text.strip() else []  # no report: the filter matched nothing
    except subprocess.TimeoutExpired:
        raise BenchmarkError(f"{' '.join(cmd)} timed out after {timeout:.0f} s") from None
    finally:
        out.unlink(missing_ok=True)


# ---- nibble bench --------------------------------------------------------------------------

class NibbleBenchError(Exception):
    """`nibble bench` failed or printed no median_ms; str() is the whole story (command and output)."""

    def __init__(self, cmd: list[str], message: str):
        super().__init__(message)
        self.cmd = cmd


# What the nibble executable is built from: every file under these, relative to the repository.
NIBBLE_SOURCES = ("src", "include", "CMakeLists.txt")


def newer_sources(binary: Path, root: Path = REPO_ROOT) -> list[Path]:
    """The files of `root`'s NIBBLE_SOURCES modified after `binary` was written, newest first.
    A build relinks the executable whenever one of them changes, so any such file means the
    binary was not rebuilt since: it runs other code than the sources hold."""
    built = binary.stat().st_mtime
    found = []
    for name in NIBBLE_SOURCES:
        top = root / name
        for f in ([top] if top.is_file() else top.rglob("*") if top.is_dir() else []):
            if f.is_file() and f.stat().st_mtime > built:
                found.append(f)
    return sorted(found, key=lambda f: -f.stat().st_mtime)


def check_executable(nibble: Path, script: str, writing_docs: bool = False, root: Path = REPO_ROOT) -> None:
    """Exit when `nibble` is missing. When it lies in the repository `root` and is older than a
    source file (a build left out after an edit or a checkout), refuse to write docs, whose
    numbers must be those of the sources, and warn otherwise."""
    if not (nibble.is_file() and os.access(nibble, os.X_OK)):
        sys.exit(f"{script}: nibble executable not found at {nibble} (build it, or pass --nibble)")
    if not nibble.resolve().is_relative_to(root.resolve()):
        return  # some other build: its sources are not these
    stale = newer_sources(nibble, root)
    if not stale:
        return
    msg = (f"{script}: {nibble} is older than {len(stale)} source file(s) (newest: "
           f"{stale[0].relative_to(root)}); rebuild it (ninja -C build) to measure the code the sources hold")
    if writing_docs:
        sys.exit(msg)
    print(f"warning: {msg}", file=sys.stderr)


def bench_command(nibble: Path, model: Path, threads: int, runs: int, warmup: int, profile: bool = False,
                  warmup_ms: float = 0.0) -> list[str]:
    cmd = [str(nibble), "bench", str(model), "--threads", str(threads), "--runs", str(runs), "--warmup", str(warmup)]
    if warmup_ms > 0:
        cmd += ["--warmup-ms", f"{warmup_ms:g}"]
    return cmd + ["--profile"] if profile else cmd


def parse_fields(text: str, keys: Iterable[str]) -> dict[str, float]:
    """`key=<float>` fields of nibble's output (median_ms=, p90_ms=, peak_mem_mb=, top1=, ...); absent keys are left out."""
    return {k: float(m.group(1)) for k in keys if (m := re.search(rf"\b{k}=([0-9.]+)", text))}


BENCH_FIELDS = ("median_ms", "p90_ms", "peak_mem_mb")


def nibble_bench(nibble: Path, model: Path, threads: int, runs: int, warmup: int, timeout: float,
                 profile: bool = False, warmup_ms: float = 0.0) -> tuple[dict[str, float], str]:
    """Run `nibble bench`; return (its median_ms / p90_ms / peak_mem_mb fields, its stdout).
    Raises NibbleBenchError when it fails, times out, or prints no median_ms."""
    cmd = bench_command(nibble, model, threads, runs, warmup, profile, warmup_ms)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise NibbleBenchError(cmd, f"`{' '.join(cmd)}` timed out after {timeout:.0f} s") from None
    if p.returncode != 0:
        raise NibbleBenchError(cmd, f"`{' '.join(cmd)}` exited with {p.returncode}:\n{p.stderr.strip()}")
    found = parse_fields(p.stdout, BENCH_FIELDS)
    if "median_ms" not in found:
        raise NibbleBenchError(cmd, f"no median_ms=<float> in the output of `{' '.join(cmd)}`:\n{p.stdout.strip()}")
    return found, p.stdout


def parse_profile(text: str) -> dict[str, tuple[str, float]]:
    """The per-node section of `nibble bench --profile`: node name -> (op type, ms per run).

    nibble prints "nodes, slowest first (ms per run):" then one "  NAME  OP  MS" line per node
    (every node, warm-up runs excluded); names have no spaces (ONNX names from exporters do not)."""
    nodes: dict[str, tuple[str, float]] = {}
    _, found, after = text.partition("nodes, slowest first (ms per run):")
    for line in after.splitlines()[1:] if found else []:
        parts = line.split()
        if len(parts) != 3 or not line.startswith(" "):
            break
        try:
            nodes[parts[0]] = (parts[1], float(parts[2]))
        except ValueError:
            break
    return nodes


def finish_model_args(ap, args, quick: dict, models) -> "argparse.Namespace":
    """--quick's settings applied, --models split on commas and checked against `models`."""
    if args.quick:
        for k, v in quick.items():
            setattr(args, k, v)
    args.models = [m for m in args.models.split(",") if m]
    bad = [m for m in args.models if m not in models]
    if bad:
        ap.error(f"unknown model(s) {', '.join(bad)}; choose from {', '.join(models)}")
    return args
