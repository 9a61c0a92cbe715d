"""An index manager over a vecscale collection: documents in, text queries out.

    python3 index_manager.py docs.jsonl DIR [--query "interest rates"] [--topic finance]

The seed kept a FAISS index, a dict of documents and a pickle side by side; a vecscale
collection keeps index, text, metadata and a write-ahead log in one directory, embeds with
the model recorded in it, and is what `vecscale serve --data ...` serves.
"""
import argparse
import os

import vecscale
from documents import load_documents


class IndexManager:
    """Create or reopen a collection, add documents, search by text with metadata filters."""

    def __init__(self, path, model="glove-100-sif", factory="HNSW32"):
        if os.path.exists(path):
            self.collection = vecscale.Collection.open(path)
        else:
            dim = vecscale.Model(model).dim
            self.collection = vecscale.Collection.create(path, dim, factory=factory,
                                                         metric="cosine", model=model)

    def add_documents(self, docs):
        """docs: dicts with "id", "text" and any other fields (stored as metadata)."""
        meta = [{k: v for k, v in d.items() if k not in ("id", "text")} for d in docs]
        return self.collection.add(texts=[d["text"] for d in docs], metadata=meta,
                                   ids=[d["id"] for d in docs])

    def search(self, text, k=5, **where):
        """Top-k documents for a text; keyword arguments filter on metadata equality."""
        return self.collection.query(text, k=k, filter=where or None)

    def delete(self, ids):
        return self.collection.delete(ids)

    def save(self):
        self.collection.snapshot()

    def close(self):
        self.collection.close()

    def __len__(self):
        return len(self.collection)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("docs")
    ap.add_argument("dir")
    ap.add_argument("--query", default="interest rates and the stock market")
    ap.add_argument("--topic")
    ap.add_argument("-k", type=int, default=3)
    args = ap.parse_args()

    manager = IndexManager(args.dir)
    if not len(manager):
        manager.add_documents(load_documents(args.docs))
        manager.save()
    print("collection %s: %d documents" % (args.dir, len(manager)))
    where = {"topic": args.topic} if args.topic else {}
    for hit in manager.search(args.query, k=args.k, **where):
        print("  id=%d score=%.3f topic=%s %s" % (hit["id"], hit["score"],
                                                  (hit["metadata"] or {}).get("topic"),
                                                  hit["text"]))
    manager.close()


if __name__ == "__main__":
    main()
