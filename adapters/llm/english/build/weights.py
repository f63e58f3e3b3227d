"""Computes the English models' weights from CORPUS/train.txt and CORPUS/sp8192.model, deterministically
(seeded, fixed thread count). Writes OUT/vocab.json and raw little-endian float32 tensors that
write.ts turns into GGUF files. Usage: weights.py CORPUS OUT [lm,emb|lm,lsa]

LM: interpolated Kneser-Ney bigram over the SentencePiece pieces (discount 0.75), then a rank-R
factorisation of its row-centred log-probabilities (SVD weighted by each context's count):
logits(next | prev) = A[prev]·B[next] + b[next]. Embedder (shipped, stage emb): PPMI (alpha 0.75) of
piece co-occurrence within +-8 pieces of a paragraph, top-K singular directions, unit rows, SIF weights
a/(a+p), the mean paragraph vector subtracted and its first principal direction removed. Candidate
(stage lsa, measured better on both held-out corpora but not better in the Debian scenario, so not
shipped): LSA of the paragraph x piece matrix of
log(1 + count) x the piece's log-entropy weight, top-K right singular vectors (Sigma^0) as piece vectors,
unit rows, then SIF x IDF weights a/(a+p) * ln(N/df), specials and bytes zero, the mean paragraph vector
subtracted and its first DROP principal directions removed (all linear, so baked into every piece's
vector; llama.cpp's mean pooling then yields the sentence vector). Chosen by evaluate.py on both held-out
corpora (README)"""
import json, os, sys, time
import numpy as np, sentencepiece as spm, torch

R, K_PPMI, WINDOW, K_LSA, DROP, SIF_A, V = 160, 128, 8, 256, 1, 1e-3, 8192

def log(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, file=sys.stderr, flush=True)

def main(corpus, out, stages="lm,emb"):
    torch.manual_seed(0); torch.set_num_threads(2)
    os.makedirs(out, exist_ok=True)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(corpus, f"sp{V}.model"))
    assert sp.get_piece_size() == V
    pieces = [sp.id_to_piece(i) for i in range(V)]
    scores = [sp.get_score(i) for i in range(V)]
    types = [2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 6 if sp.is_byte(i) else 1 for i in range(V)]
    json.dump({"pieces": pieces, "scores": scores, "types": types, "unk": 0, "bos": 1, "eos": 2}, open(os.path.join(out, "vocab.json"), "w"))
    lines = [l for l in open(os.path.join(corpus, "train.txt"), encoding="utf-8").read().split("\n") if l]
    cache = os.path.join(corpus, f"ids{V}.npz")
    if os.path.exists(cache):
        z = np.load(cache); flat, lens = z["flat"], z["lens"]
    else:
        enc = sp.encode(lines)
        lens = np.array([len(e) for e in enc], dtype=np.int64)
        flat = np.fromiter((t for e in enc for t in e), dtype=np.int64, count=int(lens.sum()))
        np.savez(cache, flat=flat, lens=lens)
    log("encoded", len(lines), "lines", len(flat), "pieces")
    line_of = np.repeat(np.arange(len(lens)), lens)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    if "lm" in stages.split(","):
        lm(flat, lens, line_of, starts, out)
    if "emb" in stages.split(","):
        embedder(flat, lens, line_of, starts, types, out)
    if "lsa" in stages.split(","):  # writes emb.f32 too: the candidate in place of the shipped embedder
        lsa_embedder(flat, lens, line_of, starts, types, out)
    json.dump({"V": V, "R": R, "K": K_LSA if "lsa" in stages.split(",") else K_PPMI, "embedder": "lsa" if "lsa" in stages.split(",") else "ppmi", "window": WINDOW, "drop": DROP, "sifA": SIF_A, "trainLines": len(lines), "trainPieces": int(len(flat))}, open(os.path.join(out, "meta.json"), "w"))

def lm(flat, lens, line_of, starts, out):
    torch.manual_seed(0)
    # bigrams with BOS/EOS framing
    same = np.concatenate([[False], line_of[1:] == line_of[:-1]])
    prev = np.concatenate([np.where(same, np.roll(flat, 1), 1), np.full(0, 0)])
    nxt = flat
    ends = starts + lens - 1
    prev = np.concatenate([prev, flat[ends[lens > 0]], np.ones(int((lens == 0).sum()), dtype=np.int64)])
    nxt = np.concatenate([nxt, np.full(int((lens > 0).sum()), 2), np.full(int((lens == 0).sum()), 2)])
    C = np.bincount(prev * V + nxt, minlength=V * V).reshape(V, V).astype(np.float64)
    D = 0.75
    cont = (C > 0).sum(0); pcont = (cont + 0.5) / (cont + 0.5).sum()
    rowc = C.sum(1); rowt = (C > 0).sum(1)
    P = np.maximum(C - D, 0) / np.maximum(rowc, 1)[:, None] + np.where(rowc > 0, D * rowt / np.maximum(rowc, 1), 1.0)[:, None] * pcont[None, :]
    Lg = torch.from_numpy(np.log(P))
    del P
    log("bigram done")
    M = Lg - Lg.mean(1, keepdim=True)
    w = torch.from_numpy(rowc)
    pw = (w + 1) / (w + 1).sum()
    b = (pw[:, None] * M).sum(0)
    s = torch.sqrt(w + 1)[:, None]
    U, S, Vt = torch.svd_lowrank(((M - b[None, :]) * s).float(), q=R + 10, niter=3)
    A = (U[:, :R].double() * S[:R].double() / s).float().numpy()
    B = Vt[:, :R].float().numpy()
    del M, Lg
    A.astype("<f4").tofile(os.path.join(out, "lm_a.f32")); B.astype("<f4").tofile(os.path.join(out, "lm_b.f32"))
    b.float().numpy().astype("<f4").tofile(os.path.join(out, "lm_bias.f32"))
    log("lm factors done")

def embedder(flat, lens, line_of, starts, types, out):
    """The shipped embedder: PPMI of +-WINDOW co-occurrence, K_PPMI dims (README)."""
    K = K_PPMI
    torch.manual_seed(1)
    # embedder: windowed co-occurrence
    Cc = np.zeros(V * V, dtype=np.float64)
    for k in range(1, WINDOW + 1):
        ok = line_of[k:] == line_of[:-k]
        Cc += np.bincount(flat[:-k][ok] * V + flat[k:][ok], minlength=V * V)
    Cc = Cc.reshape(V, V); Cc = Cc + Cc.T
    special = np.array([t != 1 for t in types])
    Cc[special, :] = 0; Cc[:, special] = 0
    total = Cc.sum(); row = Cc.sum(1); colp = Cc.sum(0) ** 0.75
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(Cc * colp.sum() / (np.maximum(row, 1e-12)[:, None] * np.maximum(colp, 1e-12)[None, :]))
    pmi = np.nan_to_num(np.maximum(pmi, 0), nan=0.0, posinf=0.0, neginf=0.0)
    del Cc
    U2, S2, _ = torch.svd_lowrank(torch.from_numpy(pmi).float(), q=K + 10, niter=3)
    vec = (U2[:, :K] * torch.sqrt(S2[:K])).double().numpy()
    vec /= np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
    freq = np.bincount(flat, minlength=V).astype(np.float64); freq /= freq.sum()
    vec *= (SIF_A / (SIF_A + freq))[:, None]
    vec[special] = 0
    # paragraph vectors of a deterministic sample: remove their mean and first principal direction
    pick = np.arange(0, len(lens), max(1, len(lens) // 20000))
    pooled = np.stack([vec[flat[starts[i]:starts[i] + lens[i]]].mean(0) for i in pick if lens[i] > 0])
    m = pooled.mean(0)
    _, _, vt = np.linalg.svd(pooled - m, full_matrices=False)
    u = vt[0]
    proj = np.eye(K) - np.outer(u, u)
    emb = (vec - m[None, :]) @ proj
    emb.astype("<f4").tofile(os.path.join(out, "emb.f32"))
    log("embedder done")

def lsa_embedder(flat, lens, line_of, starts, types, out):
    """The LSA candidate (stage `lsa`, not shipped: README, \"The LSA candidate\")."""
    K = K_LSA
    torch.manual_seed(1)
    # LSA: log-entropy weighted paragraph x piece counts, top-K right singular vectors (Sigma^0)
    N = len(lens)
    special = np.array([t != 1 for t in types])
    uk, uc = np.unique(line_of * V + flat, return_counts=True)
    ul, ut = uk // V, uk % V
    tf = uc.astype(np.float64)
    gf = np.bincount(ut, weights=tf, minlength=V)
    pp = tf / gf[ut]
    g = 1 + np.bincount(ut, weights=pp * np.log(pp), minlength=V) / np.log(N)
    keep = ~special[ut]
    A = torch.sparse_coo_tensor(torch.from_numpy(np.stack([ul[keep], ut[keep]])),
                                torch.from_numpy((np.log1p(tf) * g[ut])[keep]).float(), (N, V)).coalesce()
    _, _, Vt = torch.svd_lowrank(A, q=K + 10, niter=4)
    vec = Vt[:, :K].double().numpy()
    vec /= np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
    # SIF x IDF weights: a/(a+p(piece)) * ln(N/df(piece))
    freq = np.bincount(flat, minlength=V).astype(np.float64); freq /= freq.sum()
    df = np.bincount(ut, minlength=V).astype(np.float64)
    weight = (SIF_A / (SIF_A + freq)) * np.log(N / np.maximum(df, 1))
    vec *= weight[:, None]
    vec[special] = 0
    # paragraph vectors of a deterministic sample: remove their mean and first DROP principal directions
    pick = np.arange(0, N, max(1, N // 20000))
    pooled = np.stack([vec[flat[starts[i]:starts[i] + lens[i]]].mean(0) for i in pick if lens[i] > 0])
    m = pooled.mean(0)
    _, _, vt = np.linalg.svd(pooled - m, full_matrices=False)
    u = vt[:DROP]
    emb = (vec - m[None, :]) @ (np.eye(K) - u.T @ u)
    emb[special] = 0
    emb.astype("<f4").tofile(os.path.join(out, "emb.f32"))
    log("embedder done")

if __name__ == "__main__":
    main(*sys.argv[1:4])
