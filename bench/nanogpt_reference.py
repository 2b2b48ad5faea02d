"""A reference for the shakespeare_char quality line: nanoGPT's recipe (model and training loop) in plain PyTorch, independent of
llmlit, so llmlit's number can be set against what the recipe itself gives here.

    python bench/nanogpt_reference.py [SEED] [THREADS]

4 layers, 4 heads, 128 wide, no biases, tied embeddings, exact GELU, GPT-2 init with scaled residual projections, AdamW
(0.9, 0.99), weight decay 0.1 on matrices, lr 1e-3 with 100 warmup steps and cosine to 1e-4 at 2,000, clip 1.0, batch 12 x 64
random windows of the first 90% of Tiny Shakespeare, 2,000 steps. Prints the validation loss over the whole last 10% (as
`llmlit pretrain` reports it) and nanoGPT's own estimates (20 random batches)."""
import math, sys, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1337
from llmlit.data import load_corpus
text = load_corpus('tinyshakespeare').text
chars = sorted(set(text)); stoi = {c: i for i, c in enumerate(chars)}
data = np.array([stoi[c] for c in text], dtype=np.uint16)
n = len(data); train_data, val_data = data[:int(n*0.9)], data[int(n*0.9):]
B, T, L, H, D, V = 12, 64, 4, 4, 128, len(chars)
class LN(nn.Module):
    def __init__(s, d): super().__init__(); s.weight = nn.Parameter(torch.ones(d))
    def forward(s, x): return F.layer_norm(x, s.weight.shape, s.weight, None, 1e-5)
class Attn(nn.Module):
    def __init__(s): super().__init__(); s.c_attn = nn.Linear(D, 3*D, bias=False); s.c_proj = nn.Linear(D, D, bias=False)
    def forward(s, x):
        b, t, c = x.shape
        q, k, v = s.c_attn(x).split(D, 2)
        q, k, v = [z.view(b, t, H, c // H).transpose(1, 2) for z in (q, k, v)]
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return s.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))
class MLP(nn.Module):
    def __init__(s): super().__init__(); s.c_fc = nn.Linear(D, 4*D, bias=False); s.c_proj = nn.Linear(4*D, D, bias=False)
    def forward(s, x): return s.c_proj(F.gelu(s.c_fc(x)))
class Block(nn.Module):
    def __init__(s): super().__init__(); s.ln_1, s.attn, s.ln_2, s.mlp = LN(D), Attn(), LN(D), MLP()
    def forward(s, x): x = x + s.attn(s.ln_1(x)); return x + s.mlp(s.ln_2(x))
class GPT(nn.Module):
    def __init__(s):
        super().__init__()
        s.wte, s.wpe = nn.Embedding(V, D), nn.Embedding(T, D)
        s.h = nn.ModuleList([Block() for _ in range(L)]); s.ln_f = LN(D)
        s.lm_head = nn.Linear(D, V, bias=False); s.wte.weight = s.lm_head.weight
        s.apply(s._init)
        for pn, p in s.named_parameters():
            if pn.endswith('c_proj.weight'): nn.init.normal_(p, 0.0, 0.02/math.sqrt(2*L))
    def _init(s, m):
        if isinstance(m, (nn.Linear, nn.Embedding)): nn.init.normal_(m.weight, 0.0, 0.02)
    def forward(s, idx):
        x = s.wte(idx) + s.wpe(torch.arange(idx.shape[1]))
        for b in s.h: x = b(x)
        return s.lm_head(s.ln_f(x))
torch.manual_seed(seed)
model = GPT()
pd = {pn: p for pn, p in model.named_parameters()}
opt = torch.optim.AdamW([{'params': [p for p in pd.values() if p.dim() >= 2], 'weight_decay': 0.1},
                         {'params': [p for p in pd.values() if p.dim() < 2], 'weight_decay': 0.0}], lr=1e-3, betas=(0.9, 0.99))
def get_batch(d):
    ix = torch.randint(len(d) - T, (B,))
    x = torch.stack([torch.from_numpy(d[i:i+T].astype(np.int64)) for i in ix])
    y = torch.stack([torch.from_numpy(d[i+1:i+1+T].astype(np.int64)) for i in ix])
    return x, y
def get_lr(it, lr=1e-3, warm=100, decay=2000, mn=1e-4):
    if it < warm: return lr * (it + 1) / (warm + 1)
    if it > decay: return mn
    r = (it - warm) / (decay - warm); return mn + 0.5 * (1 + math.cos(math.pi * r)) * (lr - mn)
@torch.no_grad()
def full_val():
    model.eval(); tot, cnt = 0.0, 0
    for s in range(0, len(val_data) - T, T):
        w = torch.from_numpy(val_data[s:s+T+1].astype(np.int64))[None]
        l = F.cross_entropy(model(w[:, :-1]).view(-1, V), w[:, 1:].reshape(-1), reduction='sum'); tot += l.item(); cnt += T
    model.train(); return tot / cnt
@torch.no_grad()
def est(d, iters=20):
    model.eval(); ls = []
    for _ in range(iters):
        x, y = get_batch(d); ls.append(F.cross_entropy(model(x).view(-1, V), y.view(-1)).item())
    model.train(); return sum(ls) / len(ls)
t0 = time.time()
for it in range(2000):
    for g in opt.param_groups: g['lr'] = get_lr(it)
    x, y = get_batch(train_data)
    loss = F.cross_entropy(model(x).view(-1, V), y.view(-1))
    loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); opt.zero_grad(set_to_none=True)
print(f'seed {seed}: full val {full_val():.4f}; 20-batch est val {est(val_data):.4f} train {est(train_data):.4f}; train200 {est(train_data, 200):.4f}; {time.time()-t0:.0f}s', flush=True)
