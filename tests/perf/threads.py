#!/usr/bin/env python3
"""CPU, run-queue wait and context switches of the silo and CLI processes' threads over a window, from
/proc/<pid>/task/<tid>/schedstat and status (no tracing, no overhead). Used for docs/performance.md ("acks=all at 10 %
of peak on the Intel VM"). Start it during a steady `perf produce` run:
    python3 tests/perf/threads.py [seconds, default 8]
Prints per process kind (silo = all OrleansStream.Silo processes together, cli = orleansstream) and per thread name:
CPU in % of one CPU, run-queue wait in thread-ms per second, and context switches per second."""
import os
import sys
import time


def sample():
    threads = {}
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            args = open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\0')
        except OSError:
            continue
        if any(a.endswith(b'OrleansStream.Silo.dll') for a in args):
            kind = 'silo'
        elif any(a.endswith(b'orleansstream.dll') for a in args):
            kind = 'cli'
        else:
            continue
        try:
            tids = os.listdir(f'/proc/{pid}/task')
        except OSError:
            continue
        for tid in tids:
            try:
                run_ns, wait_ns, _ = map(int, open(f'/proc/{pid}/task/{tid}/schedstat').read().split())
                name = open(f'/proc/{pid}/task/{tid}/comm').read().strip()
                status = open(f'/proc/{pid}/task/{tid}/status').read()
            except OSError:
                continue
            voluntary = int(status.split('voluntary_ctxt_switches:')[1].split()[0])
            involuntary = int(status.split('nonvoluntary_ctxt_switches:')[1].split()[0])
            threads[(pid, tid)] = (kind, name, run_ns, wait_ns, voluntary, involuntary)
    return threads


def main():
    window = float(sys.argv[1]) if len(sys.argv) > 1 else 8.0
    before = sample()
    start = time.monotonic()
    time.sleep(window)
    after = sample()
    elapsed = time.monotonic() - start
    totals, names = {}, {}
    for key, (kind, name, run, wait, vol, invol) in after.items():
        if key not in before:
            continue
        _, _, run0, wait0, vol0, invol0 = before[key]
        delta = (run - run0, wait - wait0, vol - vol0, invol - invol0)
        for bucket, k in ((totals, kind), (names, (kind, name))):
            acc = bucket.setdefault(k, [0, 0, 0, 0])
            for i, d in enumerate(delta):
                acc[i] += d
    print(f'over {elapsed:.1f} s: CPU (% of one CPU), run-queue wait (thread-ms/s), context switches/s (voluntary, involuntary)')
    for kind, (run, wait, vol, invol) in sorted(totals.items()):
        print(f'  {kind}: CPU {run / elapsed / 1e7:.1f} %, wait {wait / elapsed / 1e6:.0f} ms/s, '
              f'switches {(vol + invol) / elapsed:.0f}/s ({vol / elapsed:.0f}, {invol / elapsed:.0f})')
    for (kind, name), (run, wait, vol, invol) in sorted(names.items(), key=lambda kv: -kv[1][0])[:12]:
        print(f'    {kind:4} {name:16} CPU {run / elapsed / 1e7:5.1f} %, wait {wait / elapsed / 1e6:6.1f} ms/s, '
              f'switches {(vol + invol) / elapsed:6.0f}/s')


if __name__ == '__main__':
    main()
