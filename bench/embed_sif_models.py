#!/usr/bin/python3
"""The WordNet retrieval task of bench/embed_sif_eval.py, run on real model files through the
vecscale command (its tokenizer, its weights, its common-component removal): query = a synset's
lemma list ("dog domestic dog Canis familiaris"), target = that synset's gloss, among all
117,659 WordNet 3.0 glosses (Debian wordnet-base); 5,000 random synsets (seed 1, the same as
embed_sif_eval.py); recall@1 and recall@10 per model, exact cosine search.
Usage: /usr/bin/python3 bench/embed_sif_models.py build/vecscale MODEL [MODEL ...]"""
import os, re, subprocess, sys, tempfile
import numpy as np

vs, models = sys.argv[1], sys.argv[2:]
wn = '/usr/share/wordnet'
syn = []
for pos in ('noun', 'verb', 'adj', 'adv'):
    for line in open('%s/data.%s' % (wn, pos), encoding='latin-1'):
        if line.startswith('  '): continue
        head, gloss = line.split(' | ', 1)
        f = head.split(); n = int(f[3], 16)
        lemmas = [re.sub(r'\(.*\)$', '', f[4 + 2 * i]).replace('_', ' ') for i in range(n)]
        syn.append((' '.join(lemmas), gloss.strip()))
rng = np.random.default_rng(1)
qi = rng.choice(len(syn), 5000, replace=False)
tmp = tempfile.mkdtemp()
def write(name, lines):
    p = os.path.join(tmp, name)
    with open(p, 'w', encoding='utf-8') as f:
        for t in lines: f.write(t.replace('\n', ' ') + '\n')
    return p
gl = write('glosses.txt', [s[1] for s in syn])
ql = write('queries.txt', [syn[i][0] for i in qi])
def embed(model, path):
    out = path + '.' + os.path.basename(model) + '.npy'
    subprocess.run([vs, 'embed', '--model', model, '--input', path, '--output', out, '--threads', '2'],
                   check=True, stderr=subprocess.DEVNULL)
    return np.load(out)
print("%d synsets, %d queries" % (len(syn), len(qi)))
for m in models:
    G, Q = embed(m, gl), embed(m, ql)
    h1 = h10 = 0
    for s in range(0, len(qi), 500):
        S = Q[s:s + 500] @ G.T
        top = np.argpartition(-S, 10, axis=1)[:, :10]
        for j in range(len(top)):
            t = qi[s + j]
            h10 += t in top[j]
            h1 += int(np.argmax(S[j])) == t
    print("%-16s recall@1 %.4f  recall@10 %.4f" % (m, h1 / len(qi), h10 / len(qi)))
