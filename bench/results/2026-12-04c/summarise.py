import json,sys,glob,os
for d in sys.argv[1:]:
    for f in sorted(glob.glob(d+'/lockstep-*.steady.json'))+sorted(glob.glob(d+'/node.steady.json')):
        r=json.load(open(f))['result']; w=r['window']; h=w.get('host') or {}
        a=r['ack_latency_ms']; dl=r['delivery_latency_ms']
        print('%-4s %-18s ack p50 %.2f p99 %6.2f max %6.1f | deliv p99 %6.2f | err %d | srv %.0f%% gen %.0f%% | steal %.2f%% (worst s %.1f) iowait %.1f%% flush %.2fms | KB/msg %s'%(
            os.path.basename(d), os.path.basename(f).split('.')[0], a['p50'],a['p99'],a['max'],dl['p99'],r['errors'],
            w['server']['cpu_percent'],w['generator']['cpu_percent'],h.get('cpu_steal_percent',-1),h.get('worst_second',{}).get('cpu_steal_percent',-1),h.get('cpu_iowait_percent',-1),h.get('disk_flush_ms_mean',-1),r.get('disk_write_kb_per_msg')))
