"""llmlit's own Llama (`llmlit.llama`) against transformers, and llmlit's GPT-2 against nanoGPT, side by side in one run.

    python bench/llama.py                  # everything, at 1 and 2 threads (one process per thread count)
    python bench/llama.py --parts gen      # only generation; parts: gen, train, nanogpt
    python bench/llama.py --rounds 2       # quicker

- **gen**: SmolLM2-135M-Instruct (the GGUF in $LLMLIT_MODELS, dequantized to fp32) in llmlit's implementation
  (`GPT.from_pretrained`) and in transformers' (`LlamaForCausalLM`, sdpa), greedy, batch 1, 128 new tokens from a chat prompt,
  end-of-text ignored so both make all 128: llmlit's `generate` against transformers' `generate`. The tokens are checked equal.
- **train**: one training step (forward, cross-entropy, backward, AdamW step) of SmolLM2-135M's architecture (random weights,
  copied into both) on 2 x 256 tokens: llmlit's `GPT` against transformers' `LlamaForCausalLM` (sdpa).
- **nanogpt**: nanoGPT's shakespeare_char CPU model (4 layers, 4 heads, width 128, context 64, batch 12, vocabulary 65, no
  biases, tied embeddings) in a plain loop with gradient clipping: nanoGPT's model (written out below as its model.py computes
  it: exact GELU, LayerNorm without bias) against llmlit's `GPT` with GPT-2's tanh GELU (`mlp='gelu'`, the default) and with
  nanoGPT's exact one (`mlp='gelu_exact'`).

The variants take turns (the order rotated every round) and each variant's figure is the median over all its timed rounds or
steps, so that the machine's drift affects all alike. Ratios above 1 mean llmlit is faster."""
import argparse, json, math, os, statistics, subprocess, sys, time
from pathlib import Path

def median(xs): return statistics.median(xs)

def rotate(items, r): return items[r % len(items):] + items[:r % len(items)]

def part_gen(rounds):
    import torch
    from transformers import AutoModelForCausalLM
    from llmlit.backbone import gguf_to_folder, load_backbone
    from llmlit.generate import chat_prompt, generate
    from llmlit.model import GPT
    gguf = Path(os.environ.get('LLMLIT_MODELS', '../shared/models'))/'SmolLM2-135M-Instruct.Q4_1.gguf'
    ours = GPT.from_pretrained(gguf)
    hf = AutoModelForCausalLM.from_pretrained(gguf_to_folder(gguf), dtype=torch.float32,
                                              attn_implementation='sdpa').eval()
    hf.generation_config.eos_token_id = None   # make all 128 tokens, as llmlit's generate without eos_id
    tok = load_backbone(gguf).tokenizer
    ids = tok.encode(chat_prompt(tok, 'Write a short story about a robot who learns to paint.'))
    x = torch.tensor([ids])
    def run_ours(): return generate(ours, ids, max_new_tokens=128)
    def run_hf():
        with torch.inference_mode():   # the mask given: else transformers masks the prompt's <|im_end|> (its pad id)
            return hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=128, do_sample=False)[0]
    variants = {'llmlit generate': run_ours, 'transformers generate': run_hf}
    out, secs = {}, {k: [] for k in variants}
    for f in variants.values(): f()   # warm up
    for r in range(rounds):
        for name in rotate(list(variants), r):
            t = time.perf_counter(); out[name] = variants[name](); secs[name].append(time.perf_counter() - t)
    same = bool(torch.equal(out['llmlit generate'], out['transformers generate']))
    tps = {k: 128 / median(v) for k, v in secs.items()}
    return {'prompt_tokens': len(ids), 'new_tokens': 128, 'tokens_equal': same, 'tokens_per_s': tps,
            'ratio': tps['llmlit generate'] / tps['transformers generate']}

def _step_fn(model, hf:bool):
    import torch, torch.nn.functional as F
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)
    def step(b):
        logits = model(b[:, :-1]).logits if hf else model(b[:, :-1], check=False)
        loss = F.cross_entropy(logits.flatten(0, 1), b[:, 1:].flatten())
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        return loss.item()
    return step

def part_train(rounds, steps=3, B=2, T=256):
    import torch
    from llmlit.model import GPT, GPTConfig, to_hf
    torch.manual_seed(0)
    ours = GPT(GPTConfig.from_preset('smollm2-135m', context_length=1024))
    hf = to_hf(ours)
    hf.config._attn_implementation = 'sdpa'
    ours.train(); hf.train()
    g = torch.Generator().manual_seed(0)
    data = [torch.randint(0, 49152, (B, T + 1), generator=g) for _ in range(steps)]
    fns = {'llmlit GPT (Llama config)': _step_fn(ours, False), 'transformers LlamaForCausalLM (sdpa)': _step_fn(hf, True)}
    loss0 = {k: f(data[0]) for k, f in fns.items()}   # warm up; equal weights: equal first loss
    secs = {k: [] for k in fns}
    for r in range(rounds):
        for name in rotate(list(fns), r):
            for b in data:
                t = time.perf_counter(); fns[name](b); secs[name].append(time.perf_counter() - t)
    med = {k: median(v) for k, v in secs.items()}
    a, b = list(med.values())
    return {'batch': [B, T], 'params': ours.num_params(), 'first_loss': loss0, 'step_s': med, 'ratio': b / a}

def part_nanogpt(rounds, steps=30, warmup=5):
    import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
    from llmlit.data import load_corpus
    from llmlit.model import GPT, GPTConfig
    L, H, D, T, B = 4, 4, 128, 64, 12
    text = load_corpus('tinyshakespeare').text
    chars = sorted(set(text)); V = len(chars)
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text[:200_000]])

    class LayerNorm(nn.Module):   # nanoGPT's: LayerNorm with an optional bias (here none)
        def __init__(s, d): super().__init__(); s.weight = nn.Parameter(torch.ones(d))
        def forward(s, x): return F.layer_norm(x, s.weight.shape, s.weight, None, 1e-5)
    class Attention(nn.Module):
        def __init__(s):
            super().__init__(); s.c_attn = nn.Linear(D, 3 * D, bias=False); s.c_proj = nn.Linear(D, D, bias=False)
            s.attn_dropout, s.resid_dropout = nn.Dropout(0.0), nn.Dropout(0.0)
        def forward(s, x):
            b, t, c = x.shape
            q, k, v = s.c_attn(x).split(D, dim=2)
            q, k, v = (z.view(b, t, H, c // H).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=True)
            return s.resid_dropout(s.c_proj(y.transpose(1, 2).contiguous().view(b, t, c)))
    class MLP(nn.Module):
        def __init__(s):
            super().__init__(); s.c_fc = nn.Linear(D, 4 * D, bias=False); s.gelu = nn.GELU()
            s.c_proj = nn.Linear(4 * D, D, bias=False); s.dropout = nn.Dropout(0.0)
        def forward(s, x): return s.dropout(s.c_proj(s.gelu(s.c_fc(x))))
    class Block(nn.Module):
        def __init__(s): super().__init__(); s.ln_1, s.attn, s.ln_2, s.mlp = LayerNorm(D), Attention(), LayerNorm(D), MLP()
        def forward(s, x): x = x + s.attn(s.ln_1(x)); return x + s.mlp(s.ln_2(x))
    class NanoGPT(nn.Module):
        def __init__(s):
            super().__init__()
            s.wte, s.wpe, s.drop = nn.Embedding(V, D), nn.Embedding(T, D), nn.Dropout(0.0)
            s.h = nn.ModuleList(Block() for _ in range(L)); s.ln_f = LayerNorm(D)
            s.lm_head = nn.Linear(D, V, bias=False); s.wte.weight = s.lm_head.weight
        def forward(s, idx):
            pos = torch.arange(0, idx.shape[1], dtype=torch.long, device=idx.device)
            x = s.drop(s.wte(idx) + s.wpe(pos))
            for blk in s.h: x = blk(x)
            return s.lm_head(s.ln_f(x))

    def loop(model, ours):
        groups = [{'params': [p for p in model.parameters() if p.dim() >= 2], 'weight_decay': 0.1},
                  {'params': [p for p in model.parameters() if p.dim() < 2], 'weight_decay': 0.0}]
        opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.99))
        g = torch.Generator().manual_seed(0)
        model.train()
        def run():
            stamps = []
            for _ in range(steps + warmup):
                stamps.append(time.perf_counter())
                ix = torch.randint(len(data) - T - 1, (B,), generator=g)
                x = torch.stack([data[i:i + T] for i in ix]); y = torch.stack([data[i + 1:i + T + 1] for i in ix])
                logits = model(x, check=False) if ours else model(x)
                loss = F.cross_entropy(logits.view(-1, V), y.view(-1))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step(); opt.zero_grad(set_to_none=True)
            stamps.append(time.perf_counter())
            return [b - a for a, b in zip(stamps[warmup:], stamps[warmup + 1:])]
        return run
    shape = dict(vocab_size=V, context_length=T, n_layer=L, n_head=H, n_embd=D, bias=False, qkv_bias=False)
    torch.manual_seed(0)
    runs = {'nanoGPT': loop(NanoGPT(), False),
            'llmlit GPT (tanh GELU, GPT-2)': loop(GPT(GPTConfig(**shape)), True),
            'llmlit GPT (exact GELU, nanoGPT)': loop(GPT(GPTConfig(**shape, mlp='gelu_exact')), True)}
    secs = {k: [] for k in runs}
    for r in range(rounds * 2):
        for name in rotate(list(runs), r): secs[name] += runs[name]()
    med = {k: median(v) for k, v in secs.items()}
    base = med['nanoGPT']
    return {'step_ms': {k: 1000 * v for k, v in med.items()}, 'ratio_vs_nanogpt': {k: base / v for k, v in med.items()}}

def worker(a):
    import torch
    torch.set_num_threads(a.threads)
    parts = {'gen': part_gen, 'train': part_train, 'nanogpt': part_nanogpt}
    res = {p: parts[p](a.rounds) for p in a.parts}
    print('JSON' + json.dumps(res), flush=True)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--parts', nargs='+', default=['gen', 'train', 'nanogpt'])
    ap.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    ap.add_argument('--rounds', type=int, default=4)
    ap.add_argument('--worker', action='store_true')
    ap.add_argument('--out', default=str(Path(__file__).parent/'results'/'llama.json'))
    a = ap.parse_args()
    if a.worker: a.threads = a.threads[0]; return worker(a)
    import torch
    results = {'torch': torch.__version__, 'rounds': a.rounds, 'by_threads': {}}
    for n in a.threads:
        env = {**os.environ, 'OMP_NUM_THREADS': str(n), 'MKL_NUM_THREADS': str(n)}
        cmd = [sys.executable, __file__, '--worker', '--threads', str(n), '--rounds', str(a.rounds), '--parts', *a.parts]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        line = next((l for l in p.stdout.splitlines() if l.startswith('JSON')), None)
        if line is None: sys.exit(f'worker at {n} threads failed:\n{p.stderr[-3000:]}')
        results['by_threads'][n] = r = json.loads(line[4:])
        if 'gen' in r:
            g = r['gen']; t = g['tokens_per_s']
            print(f"{n} thread(s) gen, batch 1, 128 new tokens: llmlit {t['llmlit generate']:.1f} tok/s, transformers "
                  f"{t['transformers generate']:.1f} tok/s: {g['ratio']:.3f}x; tokens equal: {g['tokens_equal']}")
        if 'train' in r:
            s = list(r['train']['step_s'].items())
            print(f"{n} thread(s) train step SmolLM2-135M, 2 x 256 tokens: {s[0][0]} {s[0][1]:.3f} s, {s[1][0]} "
                  f"{s[1][1]:.3f} s: {r['train']['ratio']:.3f}x")
        if 'nanogpt' in r:
            for k, v in r['nanogpt']['step_ms'].items():
                print(f"{n} thread(s) nanoGPT config, vocab 65: {k} {v:.1f} ms/step, "
                      f"{r['nanogpt']['ratio_vs_nanogpt'][k]:.3f}x nanoGPT")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(results, indent=1))

if __name__ == '__main__': main()
