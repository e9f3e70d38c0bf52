"""How long this machine's CPUs stop running a busy thread: the floor under any server's tail latency.

One process per CPU (pinned) spins for SECONDS reading the monotonic clock and counts the gaps between two
reads, by size: a gap is time the thread did not run although it always wanted to (the kernel's other
work, or on a virtual machine the host not running this vCPU at all). Run it on a quiet machine: on bare
metal gaps over 1 ms are rare; on this project's nested-virtualisation VM an idle CPU loses its vCPU for
1-8 ms a few times a second. A server that is 85 % busy needs 1 / (1 - 0.85) ~ 7 times a stall's length
to work off the requests that queued behind it, so a 5 ms stall makes ~30 ms of late answers: with a few
of those per run, p99 at a moderate rate moves with the machine, not with the code (docs/performance.md).

Usage: .venv/bin/python bench/vcpu_gaps.py [--seconds 10] [--cpus 0 1]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

LIMITS_MS = (0.05, 0.1, 0.5, 1.0, 5.0, 20.0)


def spin(cpu: int, seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    os.sched_setaffinity(0, {cpu})
    counts = [0] * len(LIMITS_MS)
    limits = [ms / 1000 for ms in LIMITS_MS]
    lost = worst = 0.0
    clock = time.perf_counter
    last = start = clock()
    stop = start + seconds
    while last < stop:
        now = clock()
        gap = now - last
        last = now
        if gap > limits[0]:
            worst = max(worst, gap)
            lost += gap
            for i in range(len(limits) - 1, -1, -1):
                if gap > limits[i]:
                    counts[i] += 1
                    break
    out.put((cpu, counts, worst, lost))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--cpus", type=int, nargs="+", default=sorted(os.sched_getaffinity(0)))
    args = ap.parse_args()
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    procs = [mp.Process(target=spin, args=(cpu, args.seconds, out)) for cpu in args.cpus]
    for p in procs:
        p.start()
    results = sorted(out.get(timeout=args.seconds + 30) for _ in procs)
    for p in procs:
        p.join()
    header = " ".join(f"{'>' + format(ms, 'g') + ' ms':>9}" for ms in LIMITS_MS)
    print(f"gaps per CPU in {args.seconds:g} s (counted in the largest bucket they exceed):")
    print(f"{'CPU':>4} {header} {'worst ms':>9} {'lost %':>7}")
    for cpu, counts, worst, lost in results:
        print(f"{cpu:>4} {' '.join(f'{n:9d}' for n in counts)} {worst * 1000:9.2f} {100 * lost / args.seconds:7.2f}")


if __name__ == "__main__":
    main()
