#!/usr/bin/env python3
"""How late a 1 ms sleep returns, for SECONDS (jHiccup's idea): run beside a benchmark to see whether the whole machine
stalls (every process's wake-ups late) or only the measured processes. Prints one line of percentiles of the lateness.
  python3 tests/perf/hiccup.py 10"""
import sys
import time

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10
late = []
end = time.perf_counter() + seconds
while True:
    start = time.perf_counter()
    if start > end:
        break
    time.sleep(0.001)
    late.append((time.perf_counter() - start - 0.001) * 1000)
late.sort()
n = len(late)
def q(p): return late[min(n - 1, int(p * n))]
print(f"hiccup {seconds:.0f} s: {n} sleeps of 1 ms, late by p50 {q(.5):.2f} p99 {q(.99):.2f} p99.9 {q(.999):.2f} "
      f"max {late[-1]:.2f} ms; {sum(1 for x in late if x > 5)} over 5 ms, {sum(1 for x in late if x > 10)} over 10 ms")
