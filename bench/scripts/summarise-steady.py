"""One line per server and steady run, across several result folders: ack and
delivery percentiles, errors, server and generator CPU, the host's CPU steal
(whole run and worst second), iowait, disk flush latency, and the server's
disk writes per acked message. `lockstep-bench report` summarises one folder;
this lines up many runs of the same scenario.

Run from the repository root, e.g.:
    python3 bench/scripts/summarise-steady.py bench/results/2026-12-04c/steady*
"""
import glob
import json
import os
import sys

for folder in sys.argv[1:]:
    folder = os.path.normpath(folder)
    files = sorted(glob.glob(folder + '/lockstep-*.steady.json')) + sorted(glob.glob(folder + '/node.steady.json'))
    for f in files:
        r = json.load(open(f))['result']
        w = r['window']
        h = w.get('host') or {}
        a, dl = r['ack_latency_ms'], r['delivery_latency_ms']
        print('%-9s %-18s ack p50 %.2f p99 %6.2f max %6.1f | deliv p99 %6.2f | err %d | srv %.0f%% gen %.0f%% '
              '| steal %.2f%% (worst s %.1f) iowait %.1f%% flush %.2fms | KB/msg %s' % (
                  os.path.basename(folder), os.path.basename(f).split('.')[0], a['p50'], a['p99'], a['max'],
                  dl['p99'], r['errors'], w['server']['cpu_percent'], w['generator']['cpu_percent'],
                  h.get('cpu_steal_percent', -1), h.get('worst_second', {}).get('cpu_steal_percent', -1),
                  h.get('cpu_iowait_percent', -1), h.get('disk_flush_ms_mean', -1), r.get('disk_write_kb_per_msg')))
