"""Measures the built models on Debian package descriptions (descriptions.py), which the build never
reads: the LM's bits per byte, and the embedder's topic separation (AUC of similarity to a domain
centroid, science+math against hamradio and against every other section; cosines between section
centroids; the mean AUC of each section with 40+ descriptions against the rest). Then the same topic
measure on a second held-out corpus, the topical files of Debian's `fortunes` package (16 topics, entries of
8+ words; apt-get install fortunes): the build never reads it, and a change to the embedder must not be
tuned to the descriptions alone. A section's or topic's centroid is taken from one half (hash) and
scored on the other. Mirrors llama.cpp's arithmetic (F16 weights, mean pooling). Usage:
evaluate.py CORPUS WEIGHTS DESCRIPTIONS.jsonl [FORTUNES_DIR]"""
import hashlib, json, math, os, re, sys
import numpy as np, sentencepiece as spm, torch

def auc(pos, neg):
    pos, neg = np.asarray(pos), np.asarray(neg)
    return float(((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg)))

FORTUNE_TOPICS = ["art", "computers", "drugs", "education", "food", "law", "linux", "literature", "love", "medicine",
                  "perl", "pets", "politics", "science", "sports", "startrek"]

def half_of(key):
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % 2

def macro_auc(X, labels, half, min_count):
    """Mean over labels with min_count+ members: AUC of similarity to the label's centroid (half 0), label vs rest (half 1)."""
    out = {}
    for c in sorted(set(labels)):
        m = labels == c
        if m.sum() < min_count: continue
        s = X @ X[m & (half == 0)].mean(0)
        out[c] = auc(s[m & (half == 1)], s[~m & (half == 1)])
    return float(np.mean(list(out.values()))), out

def fortunes(folder):
    texts, topics = [], []
    for t in FORTUNE_TOPICS:
        for e in open(os.path.join(folder, t), encoding="utf-8", errors="replace").read().split("\n%\n"):
            e = re.sub(r"\s+", " ", e).strip()
            if len(e.split()) >= 8: texts.append(e); topics.append(t)
    return texts, np.array(topics)

def main(corpus, weights, desc, fortune_dir="/usr/share/games/fortunes"):
    meta = json.load(open(os.path.join(weights, "meta.json")))
    V, R, K = meta["V"], meta["R"], meta["K"]
    sp = spm.SentencePieceProcessor(model_file=os.path.join(corpus, f"sp{V}.model"))
    rows = [json.loads(l) for l in open(desc)]
    A = np.fromfile(os.path.join(weights, "lm_a.f32"), "<f4").reshape(V, R).astype(np.float16).astype(np.float32)
    B = np.fromfile(os.path.join(weights, "lm_b.f32"), "<f4").reshape(V, R).astype(np.float16).astype(np.float32)
    b = np.fromfile(os.path.join(weights, "lm_bias.f32"), "<f4")
    At, Bt, bt = torch.from_numpy(A), torch.from_numpy(B), torch.from_numpy(b)
    def bpb(texts):
        nll = nbytes = 0.0
        for t in texts:
            ids = [1] + sp.encode(t)
            lp = torch.log_softmax(At[ids[:-1]] @ Bt.T + bt, 1)
            nll -= lp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].sum().item()
            nbytes += len(t.encode())
        return nll / math.log(2) / nbytes
    sample = [r["text"] for r in rows if int(hashlib.sha256(r["package"].encode()).hexdigest(), 16) % 10 == 0]
    held = [l for l in open(os.path.join(corpus, "heldout.txt")).read().split("\n") if l][:1000]
    rnd = np.random.default_rng(1)
    mash = ["".join(rnd.choice(list("asdfghjkl;qwertyuiop zxcvbnm,."), 300)) for _ in range(50)]
    shuffled = [" ".join(rnd.permutation(t.split())) for t in sample[:300]]
    out = {"bpb": {"descriptions": bpb(sample), "descriptionsCount": len(sample), "heldoutCorpus": bpb(held), "shuffledDescriptions": bpb(shuffled), "keyboardMash": bpb(mash)}}
    E = np.fromfile(os.path.join(weights, "emb.f32"), "<f4").reshape(V, K).astype(np.float16).astype(np.float64)
    def vec(t):
        ids = sp.encode(t)
        v = E[ids].mean(0)
        n = np.linalg.norm(v)
        return v / n if n > 0 else v
    X = np.stack([vec(r["text"]) for r in rows])
    sec = np.array([r["section"] for r in rows])
    half = np.array([int(hashlib.sha256(r["package"].encode()).hexdigest(), 16) % 2 for r in rows])
    dom = np.isin(sec, ["science", "math"])
    c = X[dom & (half == 0)].mean(0); c /= np.linalg.norm(c)
    s = X @ c
    out["auc"] = {
        "domainVsHamradio": auc(s[dom & (half == 1)], s[sec == "hamradio"]),
        "domainVsAllOther": auc(s[dom & (half == 1)], s[~dom]),
        "domainVsGames": auc(s[dom & (half == 1)], s[sec == "games"]),
        "domainVsSound": auc(s[dom & (half == 1)], s[sec == "sound"]),
    }
    def cen(mask):
        m = X[mask].mean(0); return m / np.linalg.norm(m)
    cd = cen(dom)
    out["centroidCosine"] = {k: float(cd @ cen(sec == k)) for k in ["hamradio", "games", "sound", "python", "net", "electronics"]}
    out["meanPairCosine"] = {"withinHamradio": float(np.mean((X[sec == "hamradio"] @ X[sec == "hamradio"].T)[np.triu_indices((sec == "hamradio").sum(), 1)])), "domainToHamradio": float(np.mean(X[dom] @ X[sec == "hamradio"].T))}
    out["debianMacroAuc"], _ = macro_auc(X, sec, half, 40)
    if os.path.isdir(fortune_dir):
        ft, fsec = fortunes(fortune_dir)
        F = np.stack([vec(t) for t in ft])
        out["fortunes"] = {"entries": len(ft)}
        out["fortunes"]["macroAuc"], out["fortunes"]["byTopic"] = macro_auc(F, fsec, np.array([half_of(t) for t in ft]), 30)
    print(json.dumps(out, indent=2))

if __name__ == "__main__":
    main(*sys.argv[1:4])
