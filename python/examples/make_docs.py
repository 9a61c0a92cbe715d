"""Writes N synthetic documents (JSON lines: id, text, topic) for the other examples.

    python3 make_docs.py 5000 docs.jsonl

Each document mixes words of one topic with common words, so a topic's documents sit
together in embedding space and a query about a topic finds them. Deterministic (seeded).
"""
import json
import random
import sys

TOPICS = {
    "animals": "cat dog horse bird fish lion tiger rabbit puppy kitten wolf bear fox owl "
               "cow sheep goat duck eagle parrot".split(),
    "finance": "bank money stock market price investor loan interest bond trade profit "
               "dollar budget tax debt fund economy shares credit inflation".split(),
    "sport": "football team player goal match coach league score championship tennis "
             "golf race season stadium referee tournament cup striker defender win".split(),
    "food": "bread cheese soup pasta salad chicken rice sauce cake fruit apple tomato "
            "garlic butter coffee tea recipe kitchen dinner breakfast".split(),
    "science": "physics chemistry atom molecule energy experiment theory laboratory "
               "electron planet galaxy telescope cell gene protein research scientist "
               "quantum particle orbit".split(),
}
COMMON = "the a of and in on with for about new old big small today yesterday".split()


def make(n, seed=7):
    rnd = random.Random(seed)
    names = sorted(TOPICS)
    for i in range(n):
        topic = names[i % len(names)]
        words = [rnd.choice(TOPICS[topic]) for _ in range(rnd.randint(6, 12))]
        words += [rnd.choice(COMMON) for _ in range(rnd.randint(2, 5))]
        rnd.shuffle(words)
        yield {"id": i, "text": " ".join(words), "topic": topic}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_docs.py N OUT.jsonl")
    n, out = int(sys.argv[1]), sys.argv[2]
    with open(out, "w") as f:
        for doc in make(n):
            f.write(json.dumps(doc) + "\n")
    print("wrote %d documents to %s" % (n, out))


if __name__ == "__main__":
    main()
