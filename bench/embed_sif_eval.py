#!/usr/bin/python3
"""SIF (Arora, Liang and Ma, ICLR 2017) vs plain averaging of the glove-100 word vectors on a
retrieval task built offline from WordNet 3.0 (Debian wordnet-base): query = a synset's lemma
list ("dog domestic dog Canis familiaris"), target = that synset's gloss, corpus = all 117,659
glosses; recall@10 over 5,000 random synsets (seed 1). Word probabilities p(w) come from the
vocabulary's rank order (GloVe stores it most frequent first: the , . of to and ...) through a
Zipf-Mandelbrot law p ~ 1/(rank + 2.7): offline, and no corpus of our own to bias it. The first
principal component is that of the SIF-weighted gloss corpus, removed from queries and targets.
Usage: /usr/bin/python3 bench/embed_sif_eval.py models/glove-100.vsm /usr/share/wordnet"""
import re, struct, sys
import numpy as np
vsm, wn = sys.argv[1], sys.argv[2]
d = open(vsm, 'rb').read()
sec = {}
for o in range(len(d) - 192, len(d), 32):
    t = d[o:o+4]; _, off, size, _ = struct.unpack('<4xIQQQ', d[o:o+32]); sec[t] = (off, size)
o = sec[b'GMET'][0]; _, dim, dtype, _, nw, _, _ = struct.unpack('<IIIIQQQ', d[o:o+40])
words = d[sec[b'GSTR'][0]:sec[b'GSTR'][0] + sec[b'GSTR'][1]].split(b'\0')[:nw]
off, size = sec[b'GVEC']
V = np.frombuffer(d[off:off + size], dtype=np.float16 if dtype == 1 else np.float32).reshape(nw, dim).astype(np.float32)
idx = {w.decode(): i for i, w in enumerate(words)}
print("vocabulary %d words, first: %s" % (nw, [w.decode() for w in words[:12]]))
# Zipf-Mandelbrot frequencies from the rank order (the vocabulary is stored most frequent first)
rank = np.arange(nw, dtype=np.float64)
p = 1.0 / (rank + 2.7); p /= p.sum()
syn = []
for pos in ('noun', 'verb', 'adj', 'adv'):
    for line in open('%s/data.%s' % (wn, pos), encoding='latin-1'):
        if line.startswith('  '): continue
        head, gloss = line.split(' | ', 1)
        f = head.split(); n = int(f[3], 16)
        lemmas = [re.sub(r'\(.*\)$', '', f[4 + 2 * i]).replace('_', ' ') for i in range(n)]
        syn.append((' '.join(lemmas), gloss.strip()))
print("synsets", len(syn))
tok = re.compile(r'[^\W_]+', re.UNICODE)
def ids(t): return [idx[w] for w in tok.findall(t.lower()) if w in idx]
def emb(texts, a=None):
    out = np.zeros((len(texts), dim), np.float32)
    for i, t in enumerate(texts):
        r = ids(t)
        if not r: continue
        if a is None: out[i] = V[r].mean(0)
        else:
            w = a / (a + p[r]); out[i] = (w[:, None] * V[r]).sum(0) / len(r)
    return out
def nrm(x): n = np.linalg.norm(x, axis=1, keepdims=True); n[n == 0] = 1; return x / n
rng = np.random.default_rng(1)
qi = rng.choice(len(syn), 5000, replace=False)
queries = [syn[i][0] for i in qi]; glosses = [s[1] for s in syn]
def recall(Q, G):
    hits = 0
    for s in range(0, len(qi), 500):
        S = Q[s:s+500] @ G.T
        top = np.argpartition(-S, 10, axis=1)[:, :10]
        hits += sum(qi[s + j] in top[j] for j in range(len(top)))
    return hits / len(qi)
Gp, Qp = nrm(emb(glosses)), nrm(emb(queries))
print("plain average:             recall@10 %.4f" % recall(Qp, Gp))
for a in (1e-3, 1e-4):
    G, Q = emb(glosses, a), emb(queries, a)
    print("SIF a=%g, weights only:   recall@10 %.4f" % (a, recall(nrm(Q), nrm(G))))
    u = np.linalg.svd(G - 0 * G.mean(0), full_matrices=False)[2][0]  # first principal component of the gloss corpus
    G2, Q2 = G - np.outer(G @ u, u), Q - np.outer(Q @ u, u)
    print("SIF a=%g, PC removed:     recall@10 %.4f" % (a, recall(nrm(Q2), nrm(G2))))
