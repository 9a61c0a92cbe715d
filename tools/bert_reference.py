#!/usr/bin/python3
"""Writes a random-weight BERT in the sentence-transformers / Hugging Face layout and the
embeddings PyTorch gives it, for the C encoder's parity tests.

The reference is written here from torch primitives (no transformers package): a padded batch
with an additive attention mask, exactly as Hugging Face's BertModel runs in eval mode, then
mean pooling over the mask and L2 normalisation (all-MiniLM-L6-v2's modules). The C encoder
packs sequences without padding instead, so the comparison also checks that the two agree.

Shapes: "tiny" (hidden 32, 2 layers, 4 heads, FFN 64, a 150-token vocabulary: committed as
tests/fixtures/embed/bert_tiny_*), "minilm" (hidden 384, 6 layers, 12 heads, FFN 1536, the
real 30,522-token MiniLM vocabulary: 90 MB, generated at test time by tests/embed/bert_parity.sh).
Tokenisation here is a small independent BERT tokenizer for ASCII text (lower-case, split on
white space and punctuation, greedy WordPiece); the expected file records the IDs too.

Usage: /usr/bin/python3 tools/bert_reference.py --shape tiny|minilm --dtype F32|F16|BF16 --out DIR
       [--vocab tests/fixtures/embed/minilm/vocab.txt] [--seed 1]
"""
import argparse
import json
import math
import os
import string
import struct
import sys

import torch

SHAPES = {
    "tiny": dict(hidden=32, layers=2, heads=4, inter=64, max_pos=64, max_seq=40),
    "minilm": dict(hidden=384, layers=6, heads=12, inter=1536, max_pos=512, max_seq=256),
}

TEXTS = [
    "hello world",
    "The quick brown fox jumps over the lazy dog.",
    "a",
    "Vector search finds the nearest neighbours of a query!",
    "sat, mat; cat: dog?",
    "embedding models turn text into vectors",
    "x y z",
    "the the the the the the the the the the the the the the the the the the the the the the",
    "Searching, indexing and ranking documents quickly is what we do.",
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen",
    "an unbelievably long sentence " * 40,  # longer than max_seq: truncated
    "UPPER lower MiXeD",
]


def tiny_vocab():
    words = sorted({w for t in TEXTS for w in t.lower().replace(",", " ").replace(".", " ").split()
                    if w.isalpha() and len(w) <= 6})
    v = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    v += list(string.ascii_lowercase) + ["##" + c for c in string.ascii_lowercase]
    v += list(string.digits) + [c for c in string.punctuation]
    v += [w for w in words if w not in v]
    v += [p for p in ("##ing", "##ed", "##er", "##ly") if p not in v]
    return v[:150] if len(v) > 150 else v + ["[unused%d]" % i for i in range(150 - len(v))]


def tokenize(text, vocab_index, max_seq):
    """BERT basic tokenisation + WordPiece for ASCII text (the C tokenizer's reference is
    transformers.js; this one only has to be right for the ASCII test sentences)."""
    words, cur = [], ""
    for ch in text.lower():
        if ch.isspace():
            if cur:
                words.append(cur)
            cur = ""
        elif ch in string.punctuation:
            if cur:
                words.append(cur)
            words.append(ch)
            cur = ""
        else:
            cur += ch
    if cur:
        words.append(cur)
    ids = []
    for w in words:
        if len(w) > 100:
            ids.append(vocab_index["[UNK]"])
            continue
        pieces, start = [], 0
        while start < len(w):
            end, found = len(w), None
            while end > start:
                sub = ("##" if start else "") + w[start:end]
                if sub in vocab_index:
                    found = vocab_index[sub]
                    break
                end -= 1
            if found is None:
                pieces = [vocab_index["[UNK]"]]
                break
            pieces.append(found)
            start = end
        ids.extend(pieces)
    ids = ids[: max_seq - 2]
    return [vocab_index["[CLS]"]] + ids + [vocab_index["[SEP]"]]


def make_weights(cfg, vocab_size, gen):
    H, I = cfg["hidden"], cfg["inter"]

    def rnd(*shape, std=0.08):
        return torch.randn(*shape, generator=gen) * std

    w = {
        "embeddings.word_embeddings.weight": rnd(vocab_size, H, std=0.5),
        "embeddings.position_embeddings.weight": rnd(cfg["max_pos"], H, std=0.2),
        "embeddings.token_type_embeddings.weight": rnd(2, H, std=0.2),
        "embeddings.LayerNorm.weight": 1 + rnd(H, std=0.1),
        "embeddings.LayerNorm.bias": rnd(H, std=0.1),
    }
    for l in range(cfg["layers"]):
        p = "encoder.layer.%d." % l
        for n in ("query", "key", "value"):
            w[p + "attention.self.%s.weight" % n] = rnd(H, H, std=1.5 / math.sqrt(H))
            w[p + "attention.self.%s.bias" % n] = rnd(H, std=0.1)
        w[p + "attention.output.dense.weight"] = rnd(H, H, std=1 / math.sqrt(H))
        w[p + "attention.output.dense.bias"] = rnd(H, std=0.1)
        w[p + "attention.output.LayerNorm.weight"] = 1 + rnd(H, std=0.1)
        w[p + "attention.output.LayerNorm.bias"] = rnd(H, std=0.1)
        w[p + "intermediate.dense.weight"] = rnd(I, H, std=1 / math.sqrt(H))
        w[p + "intermediate.dense.bias"] = rnd(I, std=0.1)
        w[p + "output.dense.weight"] = rnd(H, I, std=1 / math.sqrt(I))
        w[p + "output.dense.bias"] = rnd(H, std=0.1)
        w[p + "output.LayerNorm.weight"] = 1 + rnd(H, std=0.1)
        w[p + "output.LayerNorm.bias"] = rnd(H, std=0.1)
    w["pooler.dense.weight"] = rnd(H, H)  # present in real checkpoints, unused by pooling
    w["pooler.dense.bias"] = rnd(H)
    return w


def write_safetensors(path, tensors, dtype):
    tdtype = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[dtype]
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        t = t.to(tdtype).contiguous()
        raw = (t.view(torch.int16) if dtype != "F32" else t).numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def layer_norm(x, g, b, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * g + b


def bert_forward(w, cfg, ids_list, eps=1e-12):
    """Padded batch + additive mask, as transformers' BertModel; mean pooling; normalise."""
    H, nh = cfg["hidden"], cfg["heads"]
    dh = H // nh
    B, L = len(ids_list), max(len(x) for x in ids_list)
    ids = torch.zeros(B, L, dtype=torch.long)
    mask = torch.zeros(B, L)
    for i, x in enumerate(ids_list):
        ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:L][None]
         + w["embeddings.token_type_embeddings.weight"][0][None, None])
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    add_mask = (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float32).min
    for l in range(cfg["layers"]):
        p = "encoder.layer.%d." % l

        def lin(t, n):
            return t @ w[p + n + ".weight"].T + w[p + n + ".bias"]

        def heads(t):
            return t.view(B, L, nh, dh).permute(0, 2, 1, 3)

        q, k, v = (heads(lin(x, "attention.self." + n)) for n in ("query", "key", "value"))
        s = q @ k.transpose(-1, -2) / math.sqrt(dh) + add_mask
        ctx = (torch.softmax(s, dim=-1) @ v).permute(0, 2, 1, 3).reshape(B, L, H)
        x = layer_norm(lin(ctx, "attention.output.dense") + x, w[p + "attention.output.LayerNorm.weight"],
                       w[p + "attention.output.LayerNorm.bias"], eps)
        f = lin(x, "intermediate.dense")
        f = 0.5 * f * (1.0 + torch.erf(f / math.sqrt(2.0)))
        x = layer_norm(lin(f, "output.dense") + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)


def write_json(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=1 if "config" in os.path.basename(path) or "modules" in path else None)
        f.write("\n")
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=SHAPES, required=True)
    ap.add_argument("--dtype", choices=["F32", "F16", "BF16"], default="F32")
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab", default=os.path.join(os.path.dirname(__file__), "../tests/fixtures/embed/minilm/vocab.txt"))
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    cfg = SHAPES[a.shape]
    torch.set_num_threads(1)
    os.makedirs(os.path.join(a.out, "1_Pooling"), exist_ok=True)
    if a.shape == "tiny":
        vocab = tiny_vocab()
    else:
        with open(a.vocab, encoding="utf-8") as f:
            vocab = f.read().split("\n")
        if vocab and vocab[-1] == "":
            vocab.pop()
    with open(os.path.join(a.out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    index = {t: i for i, t in enumerate(vocab)}
    write_json(os.path.join(a.out, "config.json"), {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
        "hidden_size": cfg["hidden"], "num_hidden_layers": cfg["layers"], "num_attention_heads": cfg["heads"],
        "intermediate_size": cfg["inter"], "vocab_size": len(vocab), "max_position_embeddings": cfg["max_pos"],
        "type_vocab_size": 2, "layer_norm_eps": 1e-12, "position_embedding_type": "absolute", "pad_token_id": 0})
    write_json(os.path.join(a.out, "tokenizer_config.json"), {"do_lower_case": True, "tokenizer_class": "BertTokenizer"})
    write_json(os.path.join(a.out, "sentence_bert_config.json"), {"max_seq_length": cfg["max_seq"], "do_lower_case": False})
    write_json(os.path.join(a.out, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    write_json(os.path.join(a.out, "1_Pooling", "config.json"), {
        "word_embedding_dimension": cfg["hidden"], "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False})
    gen = torch.Generator().manual_seed(a.seed)
    w = make_weights(cfg, len(vocab), gen)
    tdtype = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[a.dtype]
    w = {k: v.to(tdtype).to(torch.float32) for k, v in w.items()}  # the reference sees the stored values
    write_safetensors(os.path.join(a.out, "model.safetensors"), w, a.dtype)
    ids = [tokenize(t, index, cfg["max_seq"]) for t in TEXTS]
    with torch.no_grad():
        emb = bert_forward(w, cfg, ids)
    write_json(os.path.join(a.out, "expected.json"), {
        "generator": "tools/bert_reference.py --shape %s --dtype %s --seed %d" % (a.shape, a.dtype, a.seed),
        "torch": torch.__version__, "texts": TEXTS, "ids": ids,
        "embeddings": [[float("%.8g" % v) for v in row] for row in emb.tolist()]})
    print("bert_reference: %s %s model, %d texts -> %s" % (a.shape, a.dtype, len(TEXTS), a.out), file=sys.stderr)


if __name__ == "__main__":
    main()
