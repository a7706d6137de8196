#!/usr/bin/env python3
"""Runs a command with its stdout to /dev/null and prints the lines of the
input file per second and the command's peak RSS.

usage: measure.py LABEL INPUT_FILE COMMAND…
"""
import resource
import subprocess
import sys
import time

label, path, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(path, "rb") as f:
    lines = sum(1 for _ in f)
start = time.perf_counter()
done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
secs = time.perf_counter() - start
if done.returncode != 0:
    sys.exit(f"{label}: exit {done.returncode}: {done.stderr.decode(errors='replace')}")
peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{label}: {lines:,} lines in {secs:.2f} s = {lines / secs:,.0f} lines/s, peak RSS {peak_mib:.1f} MiB")
