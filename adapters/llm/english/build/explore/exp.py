import hashlib, json, os, sys, time, re, glob
import numpy as np, sentencepiece as spm, torch
torch.set_num_threads(2)
V=8192
C="/tmp/emb/corpus"
sp=spm.SentencePieceProcessor(model_file=C+"/sp8192.model")
types=np.array([2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 6 if sp.is_byte(i) else 1 for i in range(V)])
special=types!=1
z=np.load(C+"/ids8192.npz"); flat,lens=z["flat"],z["lens"]
starts=np.concatenate([[0],np.cumsum(lens)[:-1]]); line_of=np.repeat(np.arange(len(lens)),lens)
N=len(lens)
def log(*a): print(f"[{time.strftime('%H:%M:%S')}]",*a,file=sys.stderr,flush=True)
def H(s): return int(hashlib.sha256(s.encode()).hexdigest(),16)
# --- eval sets
rows=[json.loads(l) for l in open("/tmp/emb/desc.jsonl")]
def enc_set(texts):
    e=sp.encode(texts); l=np.array([len(x) for x in e]); f=np.fromiter((t for x in e for t in x),dtype=np.int64,count=int(l.sum())); return f,l
dflat,dlens=enc_set([r["text"] for r in rows])
dsec=np.array([r["section"] for r in rows]); dhalf=np.array([H(r["package"])%2 for r in rows])
FT=["art","computers","drugs","education","food","law","linux","literature","love","medicine","perl","pets","politics","science","sports","startrek"]
ft,fl=[],[]
for cat in FT:
    txt=open(f"/usr/share/games/fortunes/{cat}",encoding="utf-8",errors="replace").read()
    for e in txt.split("\n%\n"):
        e=re.sub(r"\s+"," ",e).strip()
        if len(e.split())>=8: ft.append(e); fl.append(cat)
fflat,flens=enc_set(ft); fsec=np.array(fl); fhalf=np.array([H(t)%2 for t in ft])
log("eval sets", len(rows), len(ft))
_sp={}
def spm_(f,l):
    k=id(f)
    if k not in _sp:
        r=np.repeat(np.arange(len(l)),l); key=r*V+f; u,c=np.unique(key,return_counts=True)
        _sp[k]=torch.sparse_coo_tensor(torch.from_numpy(np.stack([u//V,u%V])),torch.from_numpy(c.astype(np.float64)),(len(l),V)).coalesce()
    return _sp[k]
def pool(E,f,l):
    s=torch.sparse.mm(spm_(f,l),torch.from_numpy(np.ascontiguousarray(E,dtype=np.float64))).numpy()/np.maximum(l,1)[:,None]
    n=np.linalg.norm(s,axis=1,keepdims=True); return s/np.maximum(n,1e-12)
def auc(pos,neg):
    a=np.concatenate([pos,neg]); r=a.argsort().argsort().astype(float)+1
    return float((r[:len(pos)].sum()-len(pos)*(len(pos)+1)/2)/(len(pos)*len(neg)))
def macro(X,sec,half,minn=40):
    out=[]
    for c in sorted(set(sec)):
        m=sec==c
        if m.sum()<minn: continue
        cen=X[m&(half==0)].mean(0); s=X@cen
        out.append(auc(s[m&(half==1)],s[~m&(half==1)]))
    return float(np.mean(out))
def evaluate(E,name):
    E=E.astype(np.float16).astype(np.float64)
    X=pool(E,dflat,dlens); dom=np.isin(dsec,["science","math"])
    c=X[dom&(dhalf==0)].mean(0); c/=np.linalg.norm(c); s=X@c
    def cen(m): v=X[m].mean(0); return v/np.linalg.norm(v)
    r={"ham":auc(s[dom&(dhalf==1)],s[dsec=="hamradio"]),"all":auc(s[dom&(dhalf==1)],s[~dom]),"games":auc(s[dom&(dhalf==1)],s[dsec=="games"]),"sound":auc(s[dom&(dhalf==1)],s[dsec=="sound"]),
       "cosHam":float(cen(dom)@cen(dsec=="hamradio")),"debMacro":macro(X,dsec,dhalf)}
    h=dsec=="hamradio"; r["inHam"]=float(np.mean((X[h]@X[h].T)[np.triu_indices(h.sum(),1)])); r["domHam"]=float(np.mean(X[dom]@X[h].T))
    F=pool(E,fflat,flens); r["fortMacro"]=macro(F,fsec,fhalf,30)
    fs=fsec=="science"; c2=F[fs&(fhalf==0)].mean(0); s2=F@c2; r["fortSci"]=auc(s2[fs&(fhalf==1)],s2[~fs])
    print(name.ljust(34)," ".join(f"{k}={v:.3f}" for k,v in r.items()),flush=True)
    return r
freq=np.bincount(flat,minlength=V).astype(float); p=freq/freq.sum()
df=np.bincount(np.unique(line_of*V+flat)%V,minlength=V).astype(float)
def post(vec,weight,drop=1,center=True,norm=True):
    if norm: vec=vec/np.maximum(np.linalg.norm(vec,axis=1,keepdims=True),1e-12)
    vec=vec*weight[:,None]; vec[special]=0
    pick=np.arange(0,N,max(1,N//20000))
    pick=pick[lens[pick]>0]; sf=np.concatenate([flat[starts[i]:starts[i]+lens[i]] for i in pick]); sl=lens[pick]
    global _sf,_sl
    if "_sf" not in globals(): _sf,_sl=sf,sl
    pooled=torch.sparse.mm(spm_(_sf,_sl),torch.from_numpy(np.ascontiguousarray(vec))).numpy()/_sl[:,None]
    m=pooled.mean(0) if center else np.zeros(vec.shape[1])
    K=vec.shape[1]; proj=np.eye(K)
    if drop:
        _,_,vt=np.linalg.svd(pooled-m,full_matrices=False); u=vt[:drop]; proj=np.eye(K)-u.T@u
    e=(vec-m[None,:])@proj; e[special]=0; return e
sif=1e-3/(1e-3+p); idf=np.log(N/np.maximum(df,1)); idf[special]=0
