#!/usr/bin/python3
"""PyTorch reference for `vecscale embed` throughput: the same BERT (tools/bert_reference.py,
written from torch primitives like Hugging Face's BertModel) on the same token IDs, batched as
sentence-transformers does (sorted by length, batches of --batch padded to their longest,
attention mask), under torch.no_grad(), at each --threads count. Tokenisation is excluded
from PyTorch's time (IDs come from `vecscale model tokenize`), which favours PyTorch.

Usage: /usr/bin/python3 bench/embed_torch.py --model DIR --ids ids.txt --threads 1,2 [--batch 32] [--out torch.npy]
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from bert_reference import bert_forward  # noqa: E402


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--threads", default="1,2")
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
    out = np.zeros((len(ids), cfg["hidden"]), dtype=np.float32)
    for t in [int(x) for x in a.threads.split(",")]:
        torch.set_num_threads(t)
        t0 = time.perf_counter()
        with torch.no_grad():
            for s in range(0, len(order), a.batch):
                batch = order[s:s + a.batch]
                e = bert_forward(w, cfg, [ids[i] for i in batch]).numpy()
                out[batch] = e
        dt = time.perf_counter() - t0
        print("pytorch %s threads=%d batch=%d: %d sentences in %.2f s = %.1f sentences/s"
              % (torch.__version__, t, a.batch, len(ids), dt, len(ids) / dt), flush=True)
    if a.out:
        np.save(a.out, out)


if __name__ == "__main__":
    main()
