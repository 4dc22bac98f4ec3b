"""bench/neural.py's bookkeeping, without running any benchmark: which of repeated runs is
reported, the spread the goals table shows, how results are appended, and the record of which
command made which rows."""

import csv
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_neural_py", ROOT / "bench" / "neural.py")
neural = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(neural)


def row(threads, total, fps, repeat, width="640"):
    return {"model": "nic-rt", "family": "nic-rt", "width": width, "height": "360",
            "threads": str(threads), "level": "5", "total_ms": str(total), "fps": str(fps),
            "repeat": str(repeat)}


def test_median_run_is_one_whole_run_per_key():
    rows = [row(2, 40.0, 25.0, 0), row(2, 30.0, 33.3, 1), row(2, 35.0, 28.6, 2),
            row(1, 60.0, 16.7, 0), row(1, 70.0, 14.3, 1)]
    picked = {r["threads"]: r for r in neural.median_runs(rows, neural.SPEED_KEY, "total_ms")}
    assert picked["2"]["repeat"] == "2"  # 35 ms: the middle of 30, 35, 40
    assert picked["1"]["repeat"] == "0"  # even count: the lower middle (60 ms)
    assert picked["2"]["fps"] == "28.6"  # the run's own columns, not a mix


def test_spread_only_for_repeated_runs():
    runs = [row(2, 40.0, 25.0, 0), row(2, 30.0, 33.3, 1), row(1, 60.0, 16.7, 0)]
    assert neural.spread(runs, runs[0], neural.SPEED_KEY, "fps") == "; 2 runs: 25.0-33.3 fps"
    assert neural.spread(runs, runs[2], neural.SPEED_KEY, "fps") == ""
    other_size = row(2, 40.0, 25.0, 0, width="1280")
    assert neural.spread(runs, other_size, neural.SPEED_KEY, "fps") == ""


def test_append_rows_writes_the_header_once_and_drops_columns(tmp_path):
    out = tmp_path / "speed.csv"
    neural.append_rows(out, [row(1, 60.0, 16.7, 0)])
    neural.append_rows(out, [row(2, 35.0, 28.6, 2)])
    with open(out, newline="") as f:
        got = list(csv.reader(f))
    assert got[0] == ["model", "family", "width", "height", "threads", "level", "total_ms", "fps"]
    assert [r[4] for r in got[1:]] == ["1", "2"]
    neural.append_rows(out, [])  # nothing to add: the file is left alone
    assert out.read_text().count("\n") == 3


def test_provenance_replaces_only_what_was_measured():
    rec = neural.provenance(None, ["nic-rt 512"], "cmd A")
    rec = neural.provenance(rec, ["nic-hq 512"], "cmd B")
    rec = neural.provenance(rec, ["nic-rt 512"], "cmd C")
    assert rec == {"nic-hq 512": "cmd B", "nic-rt 512": "cmd C"}
    assert list(rec) == ["nic-hq 512", "nic-rt 512"]  # a re-measured group moves to the end
    assert neural.provenance("old string", ["x"], "cmd")["earlier rows"] == "old string"


def test_goals_table_shows_the_spread_and_the_status():
    speed = [row(2, 33.0, 30.3, 1)]
    runs = [row(2, 36.0, 27.8, 0), row(2, 33.0, 30.3, 1), row(2, 31.0, 32.3, 2)]
    text = neural.goals_section([], speed, [], [], (), runs, ())
    line = next(l for l in text.splitlines() if "2 thread(s)" in l)
    assert "30.3 fps (33.0 ms; 3 runs: 27.8-32.3 fps)" in line
    assert line.rstrip(" |").endswith("met")
