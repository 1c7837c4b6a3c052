"""Discovery benchmark: how fast `sora list` is with many plugins installed, against importing them.

Installs ``--plugins`` synthetic plugin distributions (``sora_core.synthetic.write_plugin``,
``--particles`` particles each) into a temporary directory, points a fresh temporary
``SORA_CACHE_DIR`` at an empty cache, and measures in the same run:

* ``sora list`` end to end (a fresh subprocess, stdout piped), with a cold discovery cache
  (cache file deleted first) and a warm one (right after the cold run);
* ``sora --help`` (a fresh subprocess);
* a bare ``python -c pass`` subprocess: the interpreter-start baseline;
* importing every plugin's particle module in a fresh subprocess (what listing would cost
  if it imported plugins): the baseline the listing targets are stated against;
* ``Registry(paths=[tmp]).list()`` in process (a fresh Registry each time), cold and warm cache.

Every subprocess timing is the median over ``--repeat`` rounds, run round-robin so that a
noisy neighbour slows every measurement alike, after one discarded warm-up round (which
also compiles the plugins' and sora_core's bytecode: the subprocesses run without
``PYTHONDONTWRITEBYTECODE``, as an installed package has its ``.pyc`` files; without them
every run would compile sora_core's modules again, tens of milliseconds). The listing is
checked to contain every synthetic particle and to have imported neither torch nor any
plugin module; the script fails loudly otherwise.

Targets (for the warm ``sora list`` CLI wall time, the headline figure; cold is reported too):
listing < 0.1 x importing all plugins, listing < 0.3 s, and (the guard) a warm listing
<= 60 ms for 200 plugins. ``sora --help`` is reported against interpreter start.

Run: ``.venv/bin/python benchmarks/bench_discovery.py [--plugins 200] [--repeat 5] [--strict]``
Uses only the standard library and sora_core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from sora_core.registry import Registry
from sora_core.synthetic import write_plugin

DIST_PREFIX = "bench-discovery-"
PACKAGE_PREFIX = DIST_PREFIX.replace("-", "_")
RATIO_TARGET = 0.1  # listing must cost less than this fraction of importing every plugin
WALL_TARGET_S = 0.3  # ... and less than this many seconds of wall time
WARM_GUARD_S = 0.060  # the guard: a warm `sora list` at 200 plugins takes at most this long
HEAVY_MODULES = (
    "torch",
    "numpy",
    "pydantic",
    "pydantic_core",
    "safetensors",
    "rich",
    "pluggy",
    "yaml",
    "packaging",
    "importlib_metadata",
    "dataclasses",
    "inspect",
)

# Runs `sora list` in process and reports which heavy or plugin modules it left in sys.modules.
_PROBE = """\
import json, sys
from sora_core.cli.main import main
rc = main(["list"])
report = {{
    "rc": rc,
    "modules": len(sys.modules),
    "heavy": sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r}),
    "plugins": sorted(m for m in sys.modules if m.startswith({prefix!r})),
}}
sys.stderr.write("\\nPROBE " + json.dumps(report) + "\\n")
"""

# Imports every module named on the command line (each plugin's particle module).
_IMPORT_ALL = """\
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plugins", type=int, default=200, help="synthetic plugin distributions (default 200)")
    parser.add_argument("--particles", type=int, default=2, help="particles per plugin (default 2)")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds; medians are reported (default 5)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.plugins < 1 or args.particles < 1 or args.repeat < 1:
        parser.error("--plugins, --particles and --repeat must be at least 1")

    with tempfile.TemporaryDirectory(prefix="sora-bench-discovery-") as tmp:
        root = Path(tmp)
        site, workdir = root / "site", root / "work"
        cli_cache, inproc_cache = root / "cache-cli", root / "cache-inprocess"
        for directory in (site, workdir, cli_cache, inproc_cache):
            directory.mkdir()
        modules = install_plugins(site, args.plugins, args.particles)
        expected = args.plugins * args.particles
        met = run_benchmark(args, site, workdir, cli_cache, inproc_cache, modules, expected)
    return 0 if met or not args.strict else 1


def install_plugins(site: Path, plugins: int, particles: int) -> list[str]:
    """Write the synthetic distributions; return each plugin's particle module name."""
    names = [f"p{i}" for i in range(particles)]
    modules = []
    for index in range(plugins):
        dist = f"{DIST_PREFIX}{index:04d}"
        write_plugin(site, dist, names)
        modules.append(f"{dist.replace('-', '_')}.particles")
    return modules


def run_benchmark(
    args: argparse.Namespace,
    site: Path,
    workdir: Path,
    cli_cache: Path,
    inproc_cache: Path,
    modules: list[str],
    expected: int,
) -> bool:
    env = dict(os.environ)
    env.pop("SORA_NO_CACHE", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure with bytecode cached, as an installed package has it
    env["SORA_CACHE_DIR"] = str(cli_cache)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    cache_file = cli_cache / "discovery.json"
    list_cmd = sora_command()

    def run(cmd: Sequence[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
        return timed_subprocess(cmd, env, workdir)

    def list_once() -> float:
        seconds, proc = run([*list_cmd, "list"])
        check_listing(proc, expected)
        return seconds

    def list_cold() -> float:
        cache_file.unlink(missing_ok=True)
        seconds = list_once()
        check_cache(cache_file, len(modules))
        return seconds

    baseline_cmd = [sys.executable, "-c", "pass"]
    import_cmd = [sys.executable, "-c", _IMPORT_ALL, *modules]
    measures: dict[str, Callable[[], float]] = {
        "baseline": lambda: run(baseline_cmd)[0],
        "cold": list_cold,
        "warm": list_once,  # right after "cold", so the cache is warm
        "help": lambda: run([*list_cmd, "--help"])[0],
        "import": lambda: run(import_cmd)[0],
    }
    samples: dict[str, list[float]] = {key: [] for key in measures}
    cpu: dict[str, list[float]] = {key: [] for key in measures}
    print(f"sora list command: {' '.join(list_cmd)} list   (stdout piped, cwd an empty directory)")
    print(f"{len(modules)} plugins x {args.particles} particles = {expected} particles; {args.repeat} timed rounds")
    for round_index in range(args.repeat + 1):  # round 0 is a discarded warm-up
        for key, measure in measures.items():
            seconds = measure()
            if round_index:
                samples[key].append(seconds)
                cpu[key].append(LAST_CPU[0])

    probe = check_imports(env, workdir, expected)
    importtime = import_profile(env, workdir, list_cmd)
    json_count = check_json_listing(run([*list_cmd, "list", "--json"])[1], expected)
    inproc_cold, inproc_warm = in_process(site, inproc_cache, args.repeat, expected)

    med = {key: statistics.median(values) for key, values in samples.items()}
    rows = [
        ("sora list, cold cache (CLI wall)", samples["cold"], cpu["cold"]),
        ("sora list, warm cache (CLI wall)", samples["warm"], cpu["warm"]),
        ("sora --help (CLI wall)", samples["help"], cpu["help"]),
        ("Registry.list() in process, cold cache", inproc_cold, None),
        ("Registry.list() in process, warm cache", inproc_warm, None),
        (f"import all {len(modules)} plugin modules (subprocess)", samples["import"], cpu["import"]),
        ("python -c pass (interpreter start)", samples["baseline"], cpu["baseline"]),
    ]
    print()
    print(f"{'measurement':<48} {'median':>10} {'min':>10} {'max':>10} {'CPU median':>11}")
    for label, values, cpu_values in rows:
        cpu_text = ms(statistics.median(cpu_values)) if cpu_values else ""
        print(f"{label:<48} {ms(statistics.median(values))} {ms(min(values))} {ms(max(values))} {cpu_text:>11}")

    ratios = [
        ("list(cold) / import-all", med["cold"] / med["import"]),
        ("list(warm) / import-all", med["warm"] / med["import"]),
        ("list(warm) / list(cold)", med["warm"] / med["cold"]),
        ("in-process list(warm) / list(cold)", statistics.median(inproc_warm) / statistics.median(inproc_cold)),
    ]
    print()
    for label, value in ratios:
        print(f"{label:<48} {value:>10.3f}")
    print()
    print(
        f"above interpreter start: sora list cold {ms(med['cold'] - med['baseline']).strip()}, "
        f"warm {ms(med['warm'] - med['baseline']).strip()}; sora --help {ms(med['help'] - med['baseline']).strip()}"
    )
    print(f"verified: {expected} synthetic particles in every listing (table and --json: {json_count}), no problems")
    print(
        f"sora list imports: {probe['modules']} modules; heavy ({', '.join(HEAVY_MODULES)}): "
        f"{', '.join(probe['heavy']) or 'none'}; plugin modules: {len(probe['plugins'])}"
    )
    print(f"sora list -X importtime: {importtime}")

    print()
    guard_ok = med["warm"] <= WARM_GUARD_S
    print(
        f"guard sora list warm <= {WARM_GUARD_S * 1000:.0f} ms: {verdict(guard_ok)} ({ms(med['warm']).strip()}, "
        f"{med['warm'] / WARM_GUARD_S:.2f} of the target; warm/cold {med['warm'] / med['cold']:.2f})"
    )
    met = True
    for label, key in (("warm (headline)", "warm"), ("cold", "cold")):
        ratio_ok = med[key] < RATIO_TARGET * med["import"]
        wall_ok = med[key] < WALL_TARGET_S
        if key == "warm":
            met = ratio_ok and wall_ok and guard_ok
        print(
            f"target sora list {label:<16} < {RATIO_TARGET} x import-all: {verdict(ratio_ok)}   "
            f"< {WALL_TARGET_S:.1f} s: {verdict(wall_ok)}"
        )
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs{load}")
    return met


def sora_command() -> list[str]:
    """The installed ``sora`` console script next to this interpreter, else ``python -m``."""
    script = Path(sys.executable).with_name("sora")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "sora_core.cli.main"]


#: CPU seconds (user + system) of the last timed subprocess: less disturbed than wall time by other work on the machine.
LAST_CPU = [0.0]


def timed_subprocess(
    cmd: Sequence[str], env: dict[str, str], cwd: Path
) -> tuple[float, subprocess.CompletedProcess[str]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(list(cmd), env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    LAST_CPU[0] = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if proc.returncode != 0:
        shown = " ".join(cmd[:4]) + (" ..." if len(cmd) > 4 else "")
        fail(f"`{shown}` exited with {proc.returncode}:\n{proc.stderr[-2000:]}")
    return seconds, proc


def check_listing(proc: subprocess.CompletedProcess[str], expected: int) -> None:
    found = sum(1 for line in proc.stdout.splitlines() if line.startswith(DIST_PREFIX))
    if found != expected:
        fail(f"`sora list` showed {found} synthetic particles, expected {expected}:\n{proc.stdout[-2000:]}")
    broken = [line for line in proc.stderr.splitlines() if DIST_PREFIX in line]
    if broken:
        fail("`sora list` reported synthetic plugins as broken:\n" + "\n".join(broken[:10]))


def check_json_listing(proc: subprocess.CompletedProcess[str], expected: int) -> int:
    data = json.loads(proc.stdout)
    found = [p for p in data["particles"] if p["distribution"].startswith(DIST_PREFIX)]
    problems = [p for p in data["problems"] if DIST_PREFIX in json.dumps(p)]
    if len(found) != expected or problems:
        fail(f"`sora list --json` found {len(found)} synthetic particles (expected {expected}), problems: {problems}")
    return len(found)


def check_cache(cache_file: Path, plugins: int) -> None:
    """The cold run must have written a cache entry for every synthetic distribution."""
    try:
        entries = json.loads(cache_file.read_text(encoding="utf-8"))["entries"]
    except (OSError, ValueError, KeyError) as exc:
        fail(f"`sora list` did not write a usable discovery cache at {cache_file}: {exc}")
    cached = sum(1 for key in entries if Path(key).name.startswith(PACKAGE_PREFIX))
    if cached != plugins:
        fail(f"the discovery cache holds {cached} synthetic distributions, expected {plugins}")


def check_imports(env: dict[str, str], cwd: Path, expected: int) -> dict[str, object]:
    """Run `sora list` through a wrapper that reports ``sys.modules``; fail if torch or a plugin was imported."""
    code = _PROBE.format(heavy=HEAVY_MODULES, prefix=PACKAGE_PREFIX)
    _, proc = timed_subprocess([sys.executable, "-c", code], env, cwd)
    check_listing(proc, expected)
    line = next((ln for ln in proc.stderr.splitlines() if ln.startswith("PROBE ")), None)
    if line is None:
        fail(f"the sys.modules probe printed no report:\n{proc.stderr[-2000:]}")
    report = json.loads(line[len("PROBE ") :])
    if report["rc"] != 0:
        fail(f"`sora list` returned {report['rc']} in the probe")
    if "torch" in {m.split(".")[0] for m in report["heavy"]} or report["plugins"]:
        fail(f"`sora list` imported torch or plugin code: heavy={report['heavy']} plugins={report['plugins'][:10]}")
    return report


def import_profile(env: dict[str, str], cwd: Path, list_cmd: list[str]) -> str:
    """One `sora list` under ``-X importtime``: total import time and the slowest top-level imports."""
    target = list_cmd[1:] if len(list_cmd) > 1 else list_cmd  # "-m MODULE" or the console script
    _, proc = timed_subprocess([sys.executable, "-X", "importtime", *target, "list"], env, cwd)
    top: list[tuple[int, str]] = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|", 2)
        name = name[1:]  # nesting shows as extra indentation after the one separating space
        if not cumulative.strip().isdigit():
            continue  # the header line
        if name.split(".")[0] == "torch":
            fail("`sora list` imported torch (seen with -X importtime)")
        if not name.startswith(" "):  # a top-level import, not nested in another
            top.append((int(cumulative), name.strip()))
    total = sum(us for us, _ in top)
    slowest = ", ".join(f"{name} {us / 1000:.1f}" for us, name in sorted(top, reverse=True)[:4])
    return f"{total / 1000:.1f} ms of imports, no torch; slowest top-level (ms): {slowest}"


def in_process(site: Path, cache_dir: Path, repeat: int, expected: int) -> tuple[list[float], list[float]]:
    """``Registry(paths=[site]).list()`` with a fresh Registry each time: cold (cache file deleted), then warm."""
    saved = {name: os.environ.get(name) for name in ("SORA_CACHE_DIR", "SORA_NO_CACHE")}
    os.environ["SORA_CACHE_DIR"] = str(cache_dir)
    os.environ.pop("SORA_NO_CACHE", None)
    cache_file = cache_dir / "discovery.json"
    cold: list[float] = []
    warm: list[float] = []
    try:
        for round_index in range(repeat + 1):  # round 0 is a discarded warm-up
            for samples, delete in ((cold, True), (warm, False)):
                if delete:
                    cache_file.unlink(missing_ok=True)
                start = time.perf_counter()
                found = Registry(paths=[str(site)]).list()
                seconds = time.perf_counter() - start
                synthetic = sum(1 for info in found if info.dist.startswith(DIST_PREFIX))
                if synthetic != expected:
                    fail(f"Registry.list() found {synthetic} synthetic particles, expected {expected}")
                if round_index:
                    samples.append(seconds)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return cold, warm


def ms(seconds: float) -> str:
    return f"{seconds * 1000:>7.1f} ms"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def fail(message: str) -> NoReturn:
    raise SystemExit(f"bench_discovery: FAILED: {message}")


if __name__ == "__main__":
    sys.exit(main())
