"""Reads documents from a JSON file: one object per line (.jsonl) or a JSON array (.json).
Each object has "text", optionally an integer "id" (else its position) and other fields."""
import json


def load_documents(path):
    """Returns a list of dicts with an int "id" and a "text" each."""
    with open(path, encoding="utf-8") as f:
        if path.endswith(".json"):
            docs = json.load(f)
        else:
            docs = [json.loads(line) for line in f if line.strip()]
    for i, doc in enumerate(docs):
        if "text" not in doc:
            raise ValueError("%s: document %d has no \"text\"" % (path, i))
        doc.setdefault("id", i)
        if not isinstance(doc["id"], int):
            raise ValueError("%s: document %d: id must be an integer" % (path, i))
    return docs
