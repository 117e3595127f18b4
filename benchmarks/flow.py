"""Flow cytometry import: gating a 1,000,000-event FCS file through the platform's
`qc.instruments.flow.gate_fcs` against FlowKit alone on the same file, in one run.

    .venv/bin/python benchmarks/flow.py [--events N] [--rounds R=15] [--gating-ml NAME]

The FCS file is generated into a temporary directory (deleted at exit, never committed): the
channels of the Gating-ML compliance set's data1.fcs (FACSCalibur, 8 channels), its
pre-processed events resampled with replacement to N events, written with flowio.create_fcs
(FCS 3.1, float32). The strategy is one of the compliance set's Gating-ML files (default: a
quadrant gate with a rectangle gate inside one quadrant, 5 counted gates).

  platform - gate_fcs(the file's bytes, the Gating-ML's bytes): read the bytes, check the FCS
             file (flowio, event count, version), parse and check the strategy (lxml without
             DTD, FlowKit, channels present), gate, GateCounts with exact percentages;
  flowkit  - flowkit.Sample(path), flowkit.parse_gating_xml(path), gate_sample, the counts
             read from the report: FlowKit alone, as its documentation uses it.

Both are timed in R alternating rounds (median printed), so both meet the same load of a
shared machine; the ratio flowkit/platform is printed (goal >= 0.8: the wrapper costs at most
25 % more). Memory: each variant is run once more in a fresh child process (the same script,
`--child`), which prints its resident set after the imports and its peak (VmHWM) after the
gating; the increments are printed next to the file size and the float64 event matrix FlowKit
keeps (N x channels x 8 bytes), so that a repeated copy of the events would show, and the
difference between the two (the platform is handed the bytes, FlowKit alone reads the path: one
file's worth is the expected difference). The parent's own peak RSS is printed last.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GATING = ROOT / "tests" / "data" / "flow" / "gating_ml"  # the copy of ../shared/data
sys.path.insert(0, str(ROOT / "src"))


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


def status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process from /proc, in MB. The child uses these,
    not ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child started by a big
    parent would report the parent's peak."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make_fcs(path: Path, events: int) -> tuple[int, list[str]]:
    """data1.fcs's channels and pre-processed events, resampled to `events`, as FCS 3.1 float."""
    import flowio
    import numpy as np

    source = flowio.FlowData(str(GATING / "data1.fcs"))
    matrix = source.as_array(preprocess=True)
    rng = np.random.default_rng(12)
    rows = rng.integers(0, matrix.shape[0], size=events)
    flat = array("f")
    flat.frombytes(np.ascontiguousarray(matrix[rows], dtype=np.float32).tobytes())
    del rows
    with path.open("wb") as handle:
        flowio.create_fcs(
            handle,
            flat,
            channel_names=list(source.pnn_labels),
            opt_channel_names=[label or "" for label in source.pns_labels],
        )
    return matrix.shape[1], list(source.pnn_labels)


def run_platform(fcs: Path, gml: Path) -> dict[str, int]:
    from vein2vein.qc.instruments.flow import gate_fcs

    counts = gate_fcs(fcs.read_bytes(), gml.read_bytes())
    return {gate_id: count.count for gate_id, count in counts.items()}


def run_flowkit(fcs: Path, gml: Path) -> dict[str, int]:
    import flowkit as fk

    sample = fk.Sample(str(fcs), subsample=0)
    strategy = fk.parse_gating_xml(str(gml))
    report = strategy.gate_sample(sample).report
    return {
        str(name): int(count) for name, count in zip(report.gate_name, report["count"], strict=True)
    }


VARIANTS = {"platform": run_platform, "flowkit": run_flowkit}


def child(variant: str, fcs: Path, gml: Path) -> None:
    """One variant in a fresh process: RSS after the imports, peak after the gating."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vein2vein.settings")
    import flowio  # noqa: F401
    import flowkit  # noqa: F401

    import vein2vein.qc.instruments.flow  # noqa: F401

    before = status_mb("VmRSS")
    counts = VARIANTS[variant](fcs, gml)
    print(json.dumps({"before_mb": before, "peak_mb": status_mb("VmHWM"), "gates": len(counts)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--gating-ml", default="gml_parent_quadrant_rect_gate.xml")
    parser.add_argument("--child", choices=list(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--fcs", help=argparse.SUPPRESS)
    args = parser.parse_args()
    gml = GATING / "gml" / args.gating_ml
    if args.child:
        child(args.child, Path(args.fcs), gml)
        return
    if not gml.is_file():
        raise SystemExit(f"{gml} not found (tests/data/flow holds the copy of ../shared/data/flow)")

    with tempfile.TemporaryDirectory(prefix="v2v-bench-flow-") as tmp:
        fcs = Path(tmp) / f"bench_{args.events}.fcs"
        started = time.perf_counter()
        channels, labels = make_fcs(fcs, args.events)
        size_mb = fcs.stat().st_size / 1024 / 1024
        print(
            f"file: {fcs.name}, {args.events:,} events x {channels} channels "
            f"({', '.join(labels)}), FCS 3.1 float32, {size_mb:.1f} MB, "
            f"written in {time.perf_counter() - started:.1f} s"
        )
        print(f"strategy: {gml.name}")

        # Warm-up (imports, caches) outside the timing; the two must agree on every count.
        platform_counts = run_platform(fcs, gml)
        flowkit_counts = run_flowkit(fcs, gml)
        if platform_counts != flowkit_counts:
            raise SystemExit(f"counts differ: {platform_counts} vs {flowkit_counts}")
        print(f"gates: {json.dumps(platform_counts)}")

        times: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for _ in range(args.rounds):
            for name, run in VARIANTS.items():
                started = time.perf_counter()
                run(fcs, gml)
                times[name].append(time.perf_counter() - started)
        median = {name: statistics.median(values) for name, values in times.items()}
        for name in VARIANTS:
            spread = ", ".join(f"{value:.2f}" for value in times[name])
            print(f"{name:9s} median {median[name]:.3f} s over {args.rounds} rounds ({spread})")
        ratio = median["flowkit"] / median["platform"]
        verdict = "meets" if ratio >= 0.8 else "MISSES"
        print(f"ratio flowkit/platform: {ratio:.2f} (goal >= 0.8: {verdict})")

        matrix_mb = args.events * channels * 8 / 1024 / 1024
        print(
            f"memory (fresh process each): file {size_mb:.1f} MB, "
            f"float64 event matrix {matrix_mb:.1f} MB"
        )
        grown_by: dict[str, float] = {}
        for name in VARIANTS:
            result = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    name,
                    "--fcs",
                    str(fcs),
                    "--gating-ml",
                    args.gating_ml,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
            grown = grown_by[name] = figures["peak_mb"] - figures["before_mb"]
            print(
                f"{name:9s} RSS after imports {figures['before_mb']:.0f} MB, peak "
                f"{figures['peak_mb']:.0f} MB: +{grown:.0f} MB for the gating "
                f"= {grown / size_mb:.1f} x the file"
            )
        extra = grown_by["platform"] - grown_by["flowkit"]
        print(
            f"platform - flowkit: {extra:+.0f} MB = {extra / size_mb:.1f} x the file "
            "(gate_fcs is handed the file's bytes; FlowKit alone reads from the path)"
        )
    print(f"peak RSS of this process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
