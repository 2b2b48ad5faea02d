"""A reference for the shakespeare_char quality line: nanoGPT's recipe (model and training loop) in plain PyTorch, independent of
llmlit, so llmlit's number can be set against what the recipe itself gives here, and so changes to the recipe can be tried.

    python bench/nanogpt_reference.py [--seed 1337] [--threads 1] [--split val|dev] [variant options]

4 layers, 4 heads, 128 wide, no biases, tied embeddings, exact GELU, GPT-2 init with scaled residual projections, AdamW
(0.9, 0.99), weight decay 0.1 on matrices, lr 1e-3 with 100 warmup steps and cosine to 1e-4 at 2,000, clip 1.0, batch 12 x 64
random windows of the first 90% of Tiny Shakespeare, 2,000 steps. With `--split val` (nanoGPT's) it prints the loss over the
whole last 10% (as `llmlit pretrain` reports it) and nanoGPT's own estimates (20 random batches). With `--split dev` it trains
on the first 81% and scores on 81-90%, so that recipe changes can be compared without looking at the validation text
(`bench/shakespeare_sweep.py` runs the comparison).

Variant options: `--untied` (lm_head gets its own matrix), `--rope` (rotary position embeddings instead of the learned table),
`--zero_proj` (residual projections start at zero), `--emb_std S` (embedding init), `--wd W`, `--clip C` (0: none),
`--emb_nodecay` (no weight decay on the embeddings, as nanoGPT's optimizer grouping before 2023-02)."""
import argparse, math, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
ap = argparse.ArgumentParser()
ap.add_argument('--seed', type=int, default=1337); ap.add_argument('--threads', type=int, default=1)
ap.add_argument('--split', default='val', choices=['val', 'dev']); ap.add_argument('--name', default='nanoGPT')
ap.add_argument('--untied', action='store_true'); ap.add_argument('--rope', action='store_true')
ap.add_argument('--zero_proj', action='store_true'); ap.add_argument('--emb_std', type=float, default=0.02)
ap.add_argument('--wd', type=float, default=0.1); ap.add_argument('--clip', type=float, default=1.0)
ap.add_argument('--emb_nodecay', action='store_true')
a = ap.parse_args()
torch.set_num_threads(a.threads)
from llmlit.data import load_corpus
text = load_corpus('tinyshakespeare').text
chars = sorted(set(text)); stoi = {c: i for i, c in enumerate(chars)}
data = np.array([stoi[c] for c in text], dtype=np.uint16)
n = len(data)
if a.split == 'val': train_data, val_data = data[:int(n*0.9)], data[int(n*0.9):]
else: train_data, val_data = data[:int(n*0.81)], data[int(n*0.81):int(n*0.9)]
B, T, L, H, D, V = 12, 64, 4, 4, 128, len(chars)
inv_freq = 1.0 / (10000 ** (torch.arange(0, D // H, 2).float() / (D // H)))
angles = torch.outer(torch.arange(T).float(), inv_freq); COS, SIN = angles.cos(), angles.sin()
def rotate(x):   # (b, h, t, hs): rotate each pair of channels by its position's angle
    x1, x2 = x[..., ::2], x[..., 1::2]; c, s = COS[:x.shape[-2]], SIN[:x.shape[-2]]
    return torch.stack([x1 * c - x2 * s, x1 * s + x2 * c], -1).flatten(-2)
class LN(nn.Module):
    def __init__(s, d): super().__init__(); s.weight = nn.Parameter(torch.ones(d))
    def forward(s, x): return F.layer_norm(x, s.weight.shape, s.weight, None, 1e-5)
class Attn(nn.Module):
    def __init__(s): super().__init__(); s.c_attn = nn.Linear(D, 3*D, bias=False); s.c_proj = nn.Linear(D, D, bias=False)
    def forward(s, x):
        b, t, c = x.shape
        q, k, v = s.c_attn(x).split(D, 2)
        q, k, v = [z.view(b, t, H, c // H).transpose(1, 2) for z in (q, k, v)]
        if a.rope: q, k = rotate(q), rotate(k)
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
        s.wte = nn.Embedding(V, D)
        if not a.rope: s.wpe = nn.Embedding(T, D)
        s.h = nn.ModuleList([Block() for _ in range(L)]); s.ln_f = LN(D)
        s.lm_head = nn.Linear(D, V, bias=False)
        if not a.untied: s.wte.weight = s.lm_head.weight
        s.apply(s._init)
        if a.emb_std != 0.02:
            for m in (s.wte, getattr(s, 'wpe', None)):
                if m is not None: nn.init.normal_(m.weight, 0.0, a.emb_std)
        for pn, p in s.named_parameters():
            if pn.endswith('c_proj.weight'):
                if a.zero_proj: nn.init.zeros_(p)
                else: nn.init.normal_(p, 0.0, 0.02/math.sqrt(2*L))
    def _init(s, m):
        if isinstance(m, (nn.Linear, nn.Embedding)): nn.init.normal_(m.weight, 0.0, 0.02)
    def forward(s, idx):
        x = s.wte(idx)
        if not a.rope: x = x + s.wpe(torch.arange(idx.shape[1]))
        for b in s.h: x = b(x)
        return s.lm_head(s.ln_f(x))
torch.manual_seed(a.seed)
model = GPT()
is_emb = lambda pn: pn.startswith(('wte', 'wpe')) or (pn.startswith('lm_head') and not a.untied)
decayed = lambda pn, p: p.dim() >= 2 and not (a.emb_nodecay and is_emb(pn))
named = list(model.named_parameters())
opt = torch.optim.AdamW([{'params': [p for pn, p in named if decayed(pn, p)], 'weight_decay': a.wd},
                         {'params': [p for pn, p in named if not decayed(pn, p)], 'weight_decay': 0.0}], lr=1e-3, betas=(0.9, 0.99))
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
def full_loss(d):
    model.eval(); tot, cnt = 0.0, 0
    for s in range(0, len(d) - T, T):
        w = torch.from_numpy(d[s:s+T+1].astype(np.int64))[None]
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
    loss.backward()
    if a.clip > 0: torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
    opt.step(); opt.zero_grad(set_to_none=True)
full = full_loss(val_data)
extra = f'; 20-batch est val {est(val_data):.4f} train {est(train_data):.4f}' if a.split == 'val' else ''
print(f'RESULT\t{a.name}\t{a.seed}\t{a.split}\t{full:.4f}\t{time.time()-t0:.0f}s{extra}', flush=True)
