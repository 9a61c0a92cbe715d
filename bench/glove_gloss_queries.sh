#!/bin/sh
# The offline default model on a real corpus: embeds all 117,659 WordNet glosses with
# glove-100, indexes them exactly (Flat, cosine) and prints the top 3 glosses for a few queries.
# Usage: bench/glove_gloss_queries.sh   (needs wordnet-base: scripts/setup.sh --bench)
set -eu
cd "$(dirname "$0")/.."
VS="${VS:-build/vecscale}"
D=bench/data/glove_glosses
mkdir -p "$D"
bench/wordnet_glosses.sh "$D"
"$VS" embed --model glove-100 --input "$D/glosses.txt" --output "$D/glosses.fvecs" --threads 2
"$VS" build --input "$D/glosses.fvecs" --output "$D/index" --index Flat --metric cosine >/dev/null
cat >"$D/queries.txt" <<'Q'
a large wild cat that lives in the jungle
a device for measuring temperature
the study of the stars and planets
to cook food in an oven
a feeling of great happiness
Q
"$VS" embed --model glove-100 --input "$D/queries.txt" --output "$D/queries.fvecs" 2>/dev/null
"$VS" search --index "$D/index" --queries "$D/queries.fvecs" -k 3 --json >"$D/hits.json"
/usr/bin/python3 - "$D" <<'PY'
import json, sys
d = sys.argv[1]
glosses = open(d + "/glosses.txt").read().split("\n")
words = [json.loads(l)["word"] for l in open(d + "/glosses.jsonl")]
queries = open(d + "/queries.txt").read().strip().split("\n")
hits = json.load(open(d + "/hits.json"))
rows = hits["results"] if isinstance(hits, dict) and "results" in hits else hits
for q, r in zip(queries, rows):
    print("query: %s" % q)
    ids = r["ids"] if isinstance(r, dict) else [h["id"] for h in r]
    scores = r.get("scores", [None] * len(ids)) if isinstance(r, dict) else [h.get("score") for h in r]
    for i, s in zip(ids, scores):
        print("   %s  %-22s %s" % ("%.3f" % s if s is not None else "", words[i], glosses[i][:90]))
PY
