import json,sys,statistics as st
for f in sys.argv[1:]:
    r=json.load(open(f))['result']; w=r['window']; start=w['started_at_s']
    host={row[0]:row for row in w['host']['per_second']}
    calm=[];stolen=[]
    for sec,cnt,mx in r['timeline']:
        if sec < int(start): continue
        n=max(0,round(sec-start))+1
        h=host.get(n)
        if not h: continue
        (stolen if h[3]>=5 else calm if h[3]<1 else []).append(mx)
    def s(x): return 'n=%2d median %5.1f max %5.1f over10 %d'%(len(x),st.median(x) if x else 0,max(x) if x else 0,sum(1 for v in x if v>10)) 
    print(f.split('/')[-2], f.split('/')[-1].split('.')[0], '| steal<1%:', s(calm), '| steal>=5%:', s(stolen))
