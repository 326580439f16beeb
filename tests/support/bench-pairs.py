#!/usr/bin/env python3
"""Times two shell commands in interleaved pairs and writes the pairs as JSON.

    bench-pairs.py RUNS OUT.json LABEL COMMAND BASELINE

One warm-up of each, then RUNS pairs, each timed back to back with the order alternating
(provision first, then the baseline first, ...). On a shared machine the load drifts over
minutes; hyperfine's runs of one command and then the other would put that drift into the
ratio, where a pair sees the same load on both sides. Progress goes to stderr.
"""

import json
import subprocess
import sys
import time


def timed(cmd: str) -> float:
    start = time.monotonic()
    subprocess.run(["bash", "-c", cmd], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def main() -> None:
    runs, out, label, ours, base = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    timed(ours)
    timed(base)
    pairs = []
    for i in range(runs):
        if i % 2 == 0:
            a = timed(ours)
            b = timed(base)
        else:
            b = timed(base)
            a = timed(ours)
        pairs.append([a, b])
        print(f"{label} pair {i + 1}: provision {a:.2f} s, by hand {b:.2f} s, ratio {b / a:.3f}", file=sys.stderr)
    with open(out, "w") as f:
        json.dump(pairs, f)


if __name__ == "__main__":
    main()
