"""Each second of steady runs' timelines (`result.timeline`: [second, acks,
slowest ack ms]) beside the host's reading of the same second
(`result.window.host.per_second`, row layout in bench/src/host.rs; column 3
is the CPU stolen by the hypervisor, in % of all cores), aligned as
`row_of_second` there does. Prints, per file, the slowest-ack medians of the
seconds with < 1 % steal and of those with >= 5 %, and how many were over
10 ms.

Run from the repository root, e.g.:
    python3 bench/scripts/steal-split.py bench/results/2026-12-04c/steady*/lockstep-*.steady.json
"""
import json
import statistics
import sys

STEAL_COLUMN = 3


def describe(values):
    if not values:
        return 'n= 0'
    return 'n=%2d median %5.1f max %5.1f over10 %d' % (
        len(values), statistics.median(values), max(values), sum(1 for v in values if v > 10))


for f in sys.argv[1:]:
    r = json.load(open(f))['result']
    w = r['window']
    start = w['started_at_s']
    host = {row[0]: row for row in w['host']['per_second']}
    calm, stolen = [], []
    for second, _acks, slowest in r['timeline']:
        if second < int(start):
            continue
        row = host.get(max(0, round(second - start)) + 1)
        if not row:
            continue
        if row[STEAL_COLUMN] >= 5:
            stolen.append(slowest)
        elif row[STEAL_COLUMN] < 1:
            calm.append(slowest)
    print(f.split('/')[-2], f.split('/')[-1].split('.')[0], '| steal < 1 %:', describe(calm),
          '| steal >= 5 %:', describe(stolen))
