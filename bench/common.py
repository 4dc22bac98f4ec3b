"""What the benchmark drivers (run.py, neural.py) share: running one of the bench tools and
reading the CSV files they write."""
import csv
import subprocess
import sys


def run(cmd, quiet=False, who="bench"):
    """Runs cmd (any items, made strings), returns its output; echoes it unless quiet, and
    exits with it on failure, the message prefixed by `who`."""
    cmd = [str(c) for c in cmd]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not quiet or r.returncode:
        sys.stdout.write(r.stdout)
    if r.returncode:
        sys.exit(f"{who}: failed ({r.returncode}): {' '.join(cmd)}")
    return r.stdout


def read_csv(path):
    """The rows of a CSV file as dicts; none when it does not exist."""
    if not path.exists():
        return []
    with open(path) as f:
        return list(csv.DictReader(f))
