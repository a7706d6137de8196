#!/usr/bin/env python3
"""drain3 (PyPI) on the same inputs as `opsroom patterns`, with drain3's
default configuration (no drain3.ini: similarity 0.4, depth 4, no masking).

usage: drain3_run.py ga LOGHUB_DIR      GA per Loghub system (the Content column)
       drain3_run.py speed FILE [N]     lines/s and peak RSS on FILE's first N lines,
                                        one JSON line out per line as `--json` does
"""
import csv
import json
import logging
import os
import resource
import sys
import time

from drain3 import TemplateMiner

logging.disable(logging.WARNING)
SYSTEMS = ["HDFS", "Hadoop", "Spark", "Zookeeper", "OpenStack", "BGL", "HPC",
           "Windows", "Linux", "Android", "Apache", "Proxifier"]


def grouping_accuracy(predicted, truth):
    true_sizes, groups = {}, {}
    for t in truth:
        true_sizes[t] = true_sizes.get(t, 0) + 1
    for p, t in zip(predicted, truth):
        size, first, pure = groups.get(p, (0, t, True))
        groups[p] = (size + 1, first, pure and first == t)
    correct = sum(size for size, t, pure in groups.values() if pure and true_sizes[t] == size)
    return correct / len(truth)


def ga(loghub):
    total = 0.0
    print(f"{'system':<10} {'drain3':>6}")
    for system in SYSTEMS:
        path = os.path.join(loghub, system, f"{system}_2k.log_structured.csv")
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        miner = TemplateMiner()
        ids = [miner.add_log_message(r["Content"])["cluster_id"] for r in rows]
        score = grouping_accuracy(ids, [r["EventId"] for r in rows])
        total += score
        print(f"{system:<10} {score:>6.3f}")
    print(f"{'mean':<10} {total / len(SYSTEMS):>6.3f}")


def speed(path, limit):
    miner = TemplateMiner()
    n = 0
    start = time.perf_counter()
    with open(path, encoding="utf-8", errors="replace") as f, open(os.devnull, "w") as out:
        for n, line in enumerate(f, 1):
            r = miner.add_log_message(line.rstrip("\n"))
            out.write(json.dumps({"line": n, "pattern": r["cluster_id"], "template": r["template_mined"]}) + "\n")
            if limit and n >= limit:
                break
    secs = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"drain3 {os.path.basename(path)}: {n:,} lines in {secs:.2f} s = {n / secs:,.0f} lines/s, "
          f"peak RSS {peak:.1f} MiB, {len(miner.drain.clusters)} clusters")


if __name__ == "__main__":
    if sys.argv[1] == "ga":
        ga(sys.argv[2])
    else:
        speed(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)
