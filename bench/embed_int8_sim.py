#!/usr/bin/python3
"""Where int8 loses accuracy in the BERT encoder, and what would fix it: the model of
bench/embed_torch.py in float64 with each projection's inputs and weights rounded as an int8
scheme would (fake quantization: the integer arithmetic of the kernels is exact, so rounding
the operands reproduces them up to float summation order). Reports, per scheme, the cosine to
fp32 of every layer's hidden states (mean over tokens) and of the final embeddings, and
recall@10 (each of the first 1,000 texts' int8 embedding as a query among all fp32 embeddings,
against the fp32 query's top 10: bench/embed_bench.sh's measure).

Schemes (activation rows are per token, weights per output channel, both to [-127, 127]):
  sym        a = sa * q, sa = max|a| / 127 (what vecscale int8 did before issue 19 part 2)
  mid        a = mid + sa * q, mid = (max + min) / 2, sa = (max - min) / 254: asymmetric, the
             zero point moved into a float term mid * sum_k w[j][k] (exact compensation)
  fp:KINDS   the listed projection kinds (qkv, ao, in, out) kept in float
  a16:KINDS  those kinds' activations with 16-bit resolution (int16 x int8 products)
The C encoder itself is measured by bench/embed_bench.sh (the "split" scheme of qgemm.h has no
simulation here: its operands are ~16-bit, as fp:KINDS, which it matched in C to 0.0003).
Usage: /usr/bin/python3 bench/embed_int8_sim.py MODEL-DIR ids.txt [SCHEME ...]
  e.g. sym mid mid,fp:qkv mid,a16:qkv"""
import json, math, os, sys
import numpy as np
import torch
import torch.nn.functional as F
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from embed_torch import load_safetensors  # noqa: E402

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)
model, ids_path, schemes = sys.argv[1], sys.argv[2], sys.argv[3:] or ["sym", "mid"]
cfg = json.load(open(os.path.join(model, "config.json")))
H, NL, NH = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]
w = {k: v.double() for k, v in load_safetensors(os.path.join(model, "model.safetensors")).items()}
ids = [[int(x) for x in l.split()] for l in open(ids_path) if l.strip()]
KINDS = {"qkv": ("attention.self.query", "attention.self.key", "attention.self.value"), "ao": ("attention.output.dense",),
         "in": ("intermediate.dense",), "out": ("output.dense",)}


def qw(W):
    s = W.abs().amax(1, keepdim=True).clamp_min(1e-30) / 127
    return torch.round(W / s).clamp(-127, 127) * s


def qa(a, mode, bits=8):
    lim = 2 ** (bits - 1) - 1
    if mode == "sym":
        s = a.abs().amax(-1, keepdim=True).clamp_min(1e-30) / lim
        return torch.round(a / s).clamp(-lim, lim) * s
    mx, mn = a.amax(-1, keepdim=True), a.amin(-1, keepdim=True)
    mid, s = (mx + mn) / 2, ((mx - mn) / (2 * lim)).clamp_min(1e-30)
    return torch.round((a - mid) / s).clamp(-lim, lim) * s + mid


def parse(scheme):
    parts = scheme.split(",")
    act = parts[0]
    fp, a16 = set(), set()
    for p in parts[1:]:
        k, v = p.split(":")
        (fp if k == "fp" else a16).update(v.split("+"))
    return act, fp, a16


def run(scheme):
    act, fp, a16 = (None, set(), set()) if scheme == "fp32" else parse(scheme)
    Wq = {}
    for l in range(NL):
        for kind, names in KINDS.items():
            for n in names:
                W = w["encoder.layer.%d.%s.weight" % (l, n)]
                Wq[l, n] = W if (act is None or kind in fp) else qw(W)

    def lin(l, kind, n, x):
        W, b = Wq[l, n], w["encoder.layer.%d.%s.bias" % (l, n)]
        if act is not None and kind not in fp:
            x = qa(x, act, 16 if kind in a16 else 8)
        return x @ W.T + b

    out, hidden = np.zeros((len(ids), H)), [[] for _ in range(NL)]
    for i, seq in enumerate(ids):
        t = torch.tensor(seq)
        x = w["embeddings.word_embeddings.weight"][t] + w["embeddings.position_embeddings.weight"][: len(seq)] + \
            w["embeddings.token_type_embeddings.weight"][0]
        x = F.layer_norm(x, (H,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], 1e-12)
        dh = H // NH
        for l in range(NL):
            p = "encoder.layer.%d." % l
            q, k, v = (lin(l, "qkv", n, x).reshape(-1, NH, dh).transpose(0, 1) for n in KINDS["qkv"])
            ctx = (torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), -1) @ v).transpose(0, 1).reshape(-1, H)
            x = F.layer_norm(lin(l, "ao", "attention.output.dense", ctx) + x, (H,),
                             w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], 1e-12)
            f = F.gelu(lin(l, "in", "intermediate.dense", x))
            x = F.layer_norm(lin(l, "out", "output.dense", f) + x, (H,), w[p + "output.LayerNorm.weight"],
                             w[p + "output.LayerNorm.bias"], 1e-12)
            hidden[l].append(x)
        out[i] = F.normalize(x.mean(0), dim=0).numpy()
    return out, [torch.cat(h) for h in hidden]


def cos_rows(a, b):
    return (F.normalize(a, dim=1) * F.normalize(b, dim=1)).sum(1)


with torch.no_grad():
    ref, ref_h = run("fp32")
    nq = min(1000, len(ids))
    top_ref = np.argsort(-(ref[:nq] @ ref.T), 1)[:, :10]
    print("%d texts, MiniLM shape H %d, %d layers; per-layer: mean cosine of hidden states to fp32" % (len(ids), H, NL))
    for s in schemes:
        e, hs = run(s)
        c = (e * ref).sum(1)
        top = np.argsort(-(e[:nq] @ ref.T), 1)[:, :10]
        rec = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top_ref, top)])
        layers = " ".join("%.6f" % cos_rows(h, r).mean() for h, r in zip(hs, ref_h))
        print("%-22s mean cos %.6f  min %.6f  recall@10 %.4f | layers %s" % (s, c.mean(), c.min(), rec, layers), flush=True)
