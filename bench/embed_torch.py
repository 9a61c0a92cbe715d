#!/usr/bin/python3
"""PyTorch reference for `vecscale embed` throughput: the same BERT as tools/bert_reference.py
(Hugging Face BertModel's eval-mode forward), here as an nn.Module whose six projections per
layer are nn.Linear, so that PyTorch's own low-precision modes apply to it:
  fp32   plain float32;
  bf16   torch.autocast("cpu", dtype=torch.bfloat16) (oneDNN: AMX / AVX512-BF16 where present);
  int8   torch.ao.quantization.quantize_dynamic on nn.Linear (dynamic per-tensor activations,
         qint8 weights; the quantized engine PyTorch picked is printed).
Batched as sentence-transformers does (sorted by length, batches of --batch padded to their
longest, attention mask), under torch.no_grad(), at each --threads count, modes interleaved per
thread count. Tokenisation is excluded from PyTorch's time (IDs come from
`vecscale model tokenize`), which favours PyTorch.

Usage: /usr/bin/python3 bench/embed_torch.py --model DIR --ids ids.txt [--threads 1,2]
       [--modes fp32,bf16,int8] [--batch 32] [--out PREFIX]   (writes PREFIX.MODE.npy)
"""
import argparse
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = memoryview(raw)[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", "bench expects an F32 model"
        b, e = t["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[b:e]), dtype=torch.float32).reshape(t["shape"])
    return out


def linear(w, name):
    W = w[name + ".weight"]
    m = torch.nn.Linear(W.shape[1], W.shape[0])
    m.weight.data.copy_(W)
    m.bias.data.copy_(w[name + ".bias"])
    return m


class Layer(torch.nn.Module):
    def __init__(self, w, p):
        super().__init__()
        self.q, self.k, self.v = (linear(w, p + "attention.self." + n) for n in ("query", "key", "value"))
        self.ao = linear(w, p + "attention.output.dense")
        self.inter = linear(w, p + "intermediate.dense")
        self.out = linear(w, p + "output.dense")
        self.ln1 = (w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
        self.ln2 = (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])


class Bert(torch.nn.Module):
    def __init__(self, w, cfg):
        super().__init__()
        self.w, self.H, self.nh = w, cfg["hidden"], cfg["heads"]
        self.layers = torch.nn.ModuleList(Layer(w, "encoder.layer.%d." % l) for l in range(cfg["layers"]))

    def forward(self, ids_list, eps=1e-12):
        w, H, nh = self.w, self.H, self.nh
        dh = H // nh
        B, L = len(ids_list), max(len(x) for x in ids_list)
        ids = torch.zeros(B, L, dtype=torch.long)
        mask = torch.zeros(B, L)
        for i, x in enumerate(ids_list):
            ids[i, : len(x)] = torch.tensor(x)
            mask[i, : len(x)] = 1
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:L][None]
             + w["embeddings.token_type_embeddings.weight"][0][None, None])
        x = F.layer_norm(x, (H,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        add_mask = (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float32).min

        def heads(t):
            return t.reshape(B, L, nh, dh).permute(0, 2, 1, 3)

        for lay in self.layers:
            q, k, v = heads(lay.q(x)), heads(lay.k(x)), heads(lay.v(x))
            s = q @ k.transpose(-1, -2) / math.sqrt(dh) + add_mask
            ctx = (torch.softmax(s.float(), dim=-1).to(v.dtype) @ v).permute(0, 2, 1, 3).reshape(B, L, H)
            x = F.layer_norm((lay.ao(ctx) + x).float(), (H,), *lay.ln1, eps)
            f = F.gelu(lay.inter(x))
            x = F.layer_norm((lay.out(f) + x).float(), (H,), *lay.ln2, eps)
        pooled = (x.float() * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return F.normalize(pooled, p=2, dim=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--modes", default="fp32,bf16,int8")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--out")
    a = ap.parse_args()
    with open(os.path.join(a.model, "config.json")) as f:
        c = json.load(f)
    cfg = dict(hidden=c["hidden_size"], layers=c["num_hidden_layers"], heads=c["num_attention_heads"])
    w = load_safetensors(os.path.join(a.model, "model.safetensors"))
    with open(a.ids) as f:
        ids = [[int(x) for x in line.split()] for line in f if line.strip()]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    fp32 = Bert(w, cfg).eval()
    models = {"fp32": fp32, "bf16": fp32,
              "int8": torch.ao.quantization.quantize_dynamic(Bert(w, cfg).eval(), {torch.nn.Linear}, dtype=torch.qint8)}
    print("pytorch %s: quantized engine %s, CPU capability %s" % (
        torch.__version__, torch.backends.quantized.engine,
        torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else "?"), flush=True)
    for t in [int(x) for x in a.threads.split(",")]:
        torch.set_num_threads(t)
        for mode in a.modes.split(","):
            out = np.zeros((len(ids), cfg["hidden"]), dtype=np.float32)
            t0, c0 = time.perf_counter(), time.process_time()
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
                for s in range(0, len(order), a.batch):
                    batch = order[s:s + a.batch]
                    out[batch] = models[mode]([ids[i] for i in batch]).float().numpy()
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            # CPU time too: on a shared machine wall time measures the neighbours as much as us
            print("pytorch %s %s threads=%d batch=%d: %d sentences in %.2f s = %.1f sentences/s (CPU %.2f s: %.1f "
                  "sentences per CPU second)" % (torch.__version__, mode, t, a.batch, len(ids), dt, len(ids) / dt, cpu,
                                                 len(ids) / cpu), flush=True)
            if a.out:
                np.save("%s.%s.npy" % (a.out, mode), out)


if __name__ == "__main__":
    main()
