"""Picks the general-English replay set from the English models' corpus, deterministically.

Reads CORPUS/train.txt (corpus.py's training part: one paragraph a line) and writes to OUT every
paragraph whose sha256, read as a number, is 1 modulo 200. Such a number is 1 modulo 50, so no
paragraph of the held-out part (0 modulo 50, the models' evaluation) can be picked, and a line of the
probe set (adapters/training/probe/general-en.txt, written apart from any source) is refused by name.
Training replays these paragraphs beside the domain's rows so that it does not forget general text.
Usage: /usr/bin/python3 replay.py CORPUS OUT [PROBE]
"""
import hashlib, sys

MODULUS, RESIDUE = 200, 1


def picked(para: str) -> bool:
    return int(hashlib.sha256(para.encode()).hexdigest(), 16) % MODULUS == RESIDUE


def main(corpus: str, out: str, probe: str | None) -> None:
    refused = set()
    if probe:
        refused = {l.strip() for l in open(probe, encoding="utf-8") if l.strip()}
    held = {l.rstrip("\n") for l in open(f"{corpus}/heldout.txt", encoding="utf-8")}
    rows = []
    for line in open(f"{corpus}/train.txt", encoding="utf-8"):
        para = line.rstrip("\n")
        if para and picked(para) and para not in refused and para not in held:
            rows.append(para)
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n")
    words = sum(len(p.split()) for p in rows)
    print(f"{len(rows)} paragraphs, {words} words, {sum(len(p.encode()) + 1 for p in rows)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
