#!/usr/bin/python3
"""recall@10 of saved `vecscale search` answers ("query: id:score ...") against an .ivecs ground truth:
   /usr/bin/python3 bench/scale_recall.py GT.ivecs ANSWERS.txt...  (bench/SCALE.md, 30M rows)"""
import sys, numpy as np
gt = np.fromfile(sys.argv[1], dtype=np.int32); gt = gt.reshape(-1, gt[0] + 1)[:, 1:11]
for f in sys.argv[2:]:
    hit = n = 0
    for line in open(f):
        i, rest = line.split(':', 1)
        ids = [int(t.split(':')[0]) for t in rest.split()]
        hit += len(set(ids[:10]) & set(gt[int(i)].tolist())); n += 1
    print(f"{f.rsplit('/',1)[-1]}: recall@10 {hit / (n * 10):.4f} ({n} queries)")
