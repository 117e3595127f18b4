"""`vein2vein instruments list|parse` and `vein2vein flow gate|read|plot` (issue 12): the JSON
they print, and bad input as a message on stderr with a non-zero exit, never a traceback."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from vein2vein import cli
from vein2vein.qc.instruments.counters import COUNTER_INSTRUMENTS

ROOT = Path(__file__).resolve().parents[2]
# Copies of ../shared/data (tests/data/README.md): the tests run wherever the repo is.
SHARED = ROOT / "tests" / "data"
COUNTERS = SHARED / "cell_counters"
GATING = SHARED / "flow" / "gating_ml"


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_both_commands_are_offered_by_the_console_script() -> None:
    assert {"instruments", "flow"} <= cli.VEIN2VEIN_COMMANDS
    assert cli.refusal("instruments") is None
    assert cli.refusal("flow") is None


def test_instruments_list_prints_allotropys_vendor_keys() -> None:
    lines = run("instruments", "list").split()
    assert lines == list(COUNTER_INSTRUMENTS)
    assert "BECKMAN_VI_CELL_BLU" in lines


def test_instruments_parse_prints_the_samples_as_json() -> None:
    path = COUNTERS / "vi_cell_blu" / "Beckman_Vi-Cell-BLU_example01_utf16.csv"
    rows = json.loads(run("instruments", "parse", str(path), "--instrument", "BECKMAN_VI_CELL_BLU"))
    assert len(rows) == 10
    assert rows[0] == {
        "sample_id": "CLB001",
        "viable_density_per_ml": 750000,
        "total_density_per_ml": 780000,
        "viability_percent": 96.9,
        "mean_diameter_um": 18.51,
        "mean_viable_diameter_um": 18.72,
        "dead_density_per_ml": None,
        "total_cell_count": 2191,
        "viable_cell_count": 2123,
        "measured_at": "2022-03-21T16:56:00+00:00",
    }


def test_instruments_parse_reads_a_nucleoview_export() -> None:
    path = COUNTERS / "nucleoview" / "chemometec_nucleoview_example02.csv"
    (row,) = json.loads(
        run("instruments", "parse", str(path), "--instrument", "CHEMOMETEC_NUCLEOVIEW")
    )
    assert (row["sample_id"], row["viable_density_per_ml"], row["dead_density_per_ml"]) == (
        "cellsABCD",
        1580000,
        122000,
    )
    assert row["measured_at"] == "2023-11-20T11:03:00-07:00"


def test_instruments_parse_refuses_an_unknown_instrument() -> None:
    path = COUNTERS / "vi_cell_blu" / "Beckman_Vi-Cell-BLU_example01.csv"
    with pytest.raises(CommandError, match="unknown cell counter 'VI_CELL'"):
        run("instruments", "parse", str(path), "--instrument", "VI_CELL")


def test_instruments_parse_refuses_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(CommandError, match=r"cannot read .*nope\.csv: No such file"):
        run("instruments", "parse", str(missing), "--instrument", "BECKMAN_VI_CELL_BLU")
    with pytest.raises(CommandError, match="is a directory"):
        run("instruments", "parse", str(tmp_path), "--instrument", "BECKMAN_VI_CELL_BLU")


def test_instruments_parse_refuses_an_unreadable_export(tmp_path: Path) -> None:
    bad = tmp_path / "export.csv"
    bad.write_bytes(b"\x00\x01garbage")
    with pytest.raises(CommandError, match=r"export\.csv is not a readable BECKMAN_VI_CELL_BLU"):
        run("instruments", "parse", str(bad), "--instrument", "BECKMAN_VI_CELL_BLU")


def test_flow_gate_prints_gate_id_to_event_count() -> None:
    counts = json.loads(
        run(
            "flow",
            "gate",
            "--fcs",
            str(GATING / "data1.fcs"),
            "--gating-ml",
            str(GATING / "gml" / "gml_quadrant1_gate.xml"),
        )
    )
    assert counts == {"FL2N-FL4N": 5148, "FL2N-FL4P": 238, "FL2P-FL4N": 7361, "FL2P-FL4P": 620}


def test_flow_gate_detail_prints_parents_and_percentages() -> None:
    counts = json.loads(
        run(
            "flow",
            "gate",
            "--detail",
            "--fcs",
            str(GATING / "data1.fcs"),
            "--gating-ml",
            str(GATING / "gml" / "gml_parent_range1_boolean_and3_gate.xml"),
        )
    )
    assert counts["ParAnd3"] == {
        "gate_id": "ParAnd3",
        "parent": "Range1",
        "count": 120,
        "percent_of_parent": "27.27",
        "percent_of_total": "0.90",
    }


def test_flow_read_prints_the_header() -> None:
    summary = json.loads(run("flow", "read", "--fcs", str(SHARED / "flow" / "fcs" / "G11.fcs")))
    assert (summary["version"], summary["event_count"], len(summary["channels"])) == (
        "FCS3.1",
        5785,
        12,
    )


def test_flow_plot_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "plot.png"
    printed = run(
        "flow",
        "plot",
        "--fcs",
        str(GATING / "data1.fcs"),
        "--gating-ml",
        str(GATING / "gml" / "gml_ellipse1_gate.xml"),
        "--out",
        str(out),
    )
    assert out.read_bytes().startswith(b"\x89PNG")
    assert "bytes" in printed


def test_flow_gate_refuses_a_noncompliant_file_naming_it() -> None:
    fcs = SHARED / "flow" / "fcs" / "noncompliant" / "data_stop_offset_discrepancy_example.fcs"
    with pytest.raises(CommandError, match=r"data_stop_offset.*non-compliant FCS file"):
        run(
            "flow",
            "gate",
            "--fcs",
            str(fcs),
            "--gating-ml",
            str(GATING / "gml" / "gml_rect1_gate.xml"),
        )


def test_flow_gate_refuses_bad_gating_ml_naming_that_file(tmp_path: Path) -> None:
    bad = tmp_path / "strategy.xml"
    bad.write_bytes(b"<gating")
    with pytest.raises(CommandError, match=r"strategy.xml: the Gating-ML file is not well-formed"):
        run("flow", "gate", "--fcs", str(GATING / "data1.fcs"), "--gating-ml", str(bad))


def test_the_console_script_exits_non_zero_with_a_message_not_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Through the console script's own entry point (cli.main -> Django's command line, which
    prints a CommandError on stderr and exits 1), in this process."""
    fcs = SHARED / "flow" / "fcs" / "noncompliant" / "data_start_offset_discrepancy_example.fcs"
    gml = GATING / "gml" / "gml_rect1_gate.xml"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["flow", "gate", "--fcs", str(fcs), "--gating-ml", str(gml)])
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert "non-compliant FCS file" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["instruments", "parse", "/no/such/file.csv", "--instrument", "REVVITY_MATRIX"])
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert "cannot read /no/such/file.csv" in captured.err
    assert "Traceback" not in captured.err
