exec(open("/tmp/emb/exp.py").read())
def cached(name,fn):
    f=f"/tmp/emb/m_{name}.npy"
    if os.path.exists(f): return np.load(f)
    m=fn(); np.save(f,m); return m
def window_ppmi(K=256,W=8):
    torch.manual_seed(1)
    Cc=np.zeros(V*V)
    for k in range(1,W+1):
        ok=line_of[k:]==line_of[:-k]; Cc+=np.bincount(flat[:-k][ok]*V+flat[k:][ok],minlength=V*V)
    Cc=Cc.reshape(V,V); Cc=Cc+Cc.T; return ppmi_svd(Cc,K)
def ppmi_svd(Cc,K):
    Cc[special,:]=0; Cc[:,special]=0
    row=Cc.sum(1); colp=Cc.sum(0)**0.75
    with np.errstate(divide="ignore",invalid="ignore"):
        pmi=np.log(Cc*colp.sum()/(np.maximum(row,1e-12)[:,None]*np.maximum(colp,1e-12)[None,:]))
    pmi=np.nan_to_num(np.maximum(pmi,0),nan=0.0,posinf=0.0,neginf=0.0); del Cc
    U,S,_=torch.svd_lowrank(torch.from_numpy(pmi).float(),q=K+10,niter=3)
    return np.concatenate([(U[:,:K]*torch.sqrt(S[:K])).double().numpy(),S[None,:K].double().numpy()],0)  # last row: singular values
uk,uc=np.unique(line_of*V+flat,return_counts=True); ul=uk//V; ut=uk%V
def lsa(K=256,weighting="logent"):
    torch.manual_seed(1)
    tf=uc.astype(float)
    if weighting=="logent":
        gf=np.bincount(ut,weights=tf,minlength=V); pp=tf/gf[ut]
        g=1+np.bincount(ut,weights=pp*np.log(pp),minlength=V)/np.log(N)
        w=np.log1p(tf)*g[ut]
    else:
        w=np.log1p(tf)*idf[ut]
    keep=~special[ut]
    A=torch.sparse_coo_tensor(torch.from_numpy(np.stack([ul[keep],ut[keep]])),torch.from_numpy(w[keep]).float(),(N,V)).coalesce()
    U,S,Vt=torch.svd_lowrank(A,q=K+10,niter=4)
    return np.concatenate([Vt[:,:K].double().numpy(),S[None,:K].double().numpy()],0)
def para_ppmi(K=256):
    torch.manual_seed(1)
    keep=~special[ut]
    X=torch.sparse_coo_tensor(torch.from_numpy(np.stack([ut[keep],ul[keep]])),torch.ones(int(keep.sum())),(V,N)).coalesce()  # binary presence
    Cc=np.zeros((V,V))
    Xt=X.t().coalesce()
    for c0 in range(0,V,1024):
        cols=torch.arange(c0,min(V,c0+1024))
        D=torch.index_select(Xt,1,cols).to_dense()  # N x 1024
        Cc[:,c0:c0+len(cols)]=torch.sparse.mm(X,D).double().numpy()
    np.fill_diagonal(Cc,0)
    return ppmi_svd(Cc,K)
