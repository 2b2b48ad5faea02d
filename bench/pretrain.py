"""Pretraining throughput: `LitCausalLM` under a Lightning `Trainer` vs a plain PyTorch loop on the same model and batches vs
`transformers.GPT2LMHeadModel` (sdpa) in a plain loop, interleaved in one run, at 1 and 2 threads; MFU against a matmul ceiling
measured in the same run.

    python bench/pretrain.py                       # nanoGPT's shakespeare_char CPU config (4x4x128, context 64, batch 12)
    python bench/pretrain.py --steps 20 --repeats 1  # quick

All three do the same work per step: forward, cross-entropy, backward, gradient clipping at 1.0, AdamW step, scheduler step.
Each step is timed from the start of one step to the start of the next (for Lightning: everything the Trainer does between two
batches), the first `--warmup` steps are dropped, and the median step time gives tokens/s: a median over steps is robust to the
moments when a shared machine is busy elsewhere, which a total time is not."""
import argparse, statistics, time
import numpy as np
import torch
import torch.nn.functional as F
import lightning.pytorch as pl
from transformers import GPT2LMHeadModel
from llmlit.data import load_corpus
from llmlit.model import GPT, GPTConfig, to_hf
from llmlit.pretrain import LitCausalLM, WindowStream, cosine_schedule
from llmlit.tokenizer import get_tokenizer

def matmul_ceiling(n=1024, reps=20):
    "Sustained fp32 matmul FLOP/s on this machine at the current thread count."
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3): a @ b
    t = time.perf_counter()
    for _ in range(reps): a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t)

def batches(tokens, cfg, B, n, seed=0):
    ds = WindowStream(tokens, cfg.context_length, B, 'random', seed=seed)
    it = iter(torch.utils.data.DataLoader(ds, batch_size=B))
    return [next(it) for _ in range(n)]

def optimizer(params, lr=1e-3):
    params = [p for p in params if p.requires_grad]
    groups = [{'params': [p for p in params if p.dim() >= 2], 'weight_decay': 0.1},
              {'params': [p for p in params if p.dim() < 2], 'weight_decay': 0.0}]
    opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99))
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine_schedule(s, 100, 2000, lr, lr / 10) / lr)

def run_plain(model, data, warmup, hf=False):
    opt, sched = optimizer(model.parameters())
    model.train()
    stamps = []
    for i, b in enumerate(data):
        stamps.append(time.perf_counter())
        logits = model(b['input_ids']).logits if hf else model(b['input_ids'], check=False)
        loss = F.cross_entropy(logits.flatten(0, 1), b['labels'].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); sched.step()
    stamps.append(time.perf_counter())
    return statistics.median(b - a for a, b in zip(stamps[warmup:], stamps[warmup + 1:]))

class Timer(pl.Callback):
    def __init__(self, warmup): self.warmup, self.stamps = warmup, []
    def on_train_batch_start(self, trainer, pl_module, batch, i): self.stamps.append(time.perf_counter())
    def on_train_end(self, trainer, pl_module):
        self.stamps.append(time.perf_counter())
        s = self.stamps[self.warmup:]
        self.elapsed = statistics.median(b - a for a, b in zip(s, s[1:]))

def run_lightning(lit, data, warmup):
    timer = Timer(warmup)
    trainer = pl.Trainer(max_steps=len(data), logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, gradient_clip_val=1.0, accelerator='cpu',
                         callbacks=[timer], log_every_n_steps=50)
    trainer.fit(lit, torch.utils.data.DataLoader(data, batch_size=None))
    return timer.elapsed

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--steps', type=int, default=120)
    p.add_argument('--warmup', type=int, default=20)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    p.add_argument('--batch', type=int, default=12)
    a = p.parse_args()
    import logging, warnings
    logging.getLogger('lightning.pytorch.utilities.rank_zero').setLevel(logging.WARNING)
    warnings.filterwarnings('ignore')
    corpus = load_corpus('tinyshakespeare')
    tok = get_tokenizer('char', texts=corpus)
    tokens = np.asarray(tok.encode(corpus.text), dtype=np.uint16)
    cfg = GPTConfig.from_preset('nano', vocab_size=tok.vocab_size, bias=False, qkv_bias=False)
    data = batches(tokens, cfg, a.batch, a.steps)
    tokens_timed = a.batch * cfg.context_length   # per step; the runs return their median step time
    rows = []
    for th in a.threads:
        torch.set_num_threads(th)
        res = {'plain PyTorch loop': [], 'llmlit LitCausalLM + Trainer': [], 'transformers GPT2LMHeadModel (sdpa)': []}
        ceilings = []
        for r in range(a.repeats):
            ceilings.append(matmul_ceiling())
            torch.manual_seed(r); model = GPT(cfg)
            res['plain PyTorch loop'].append(tokens_timed / run_plain(model, data, a.warmup))
            torch.manual_seed(r); lit = LitCausalLM('nano', vocab_size=tok.vocab_size, bias=False, qkv_bias=False, lr=1e-3,
                                                    warmup_steps=100, decay_steps=2000, beta2=0.99)
            res['llmlit LitCausalLM + Trainer'].append(tokens_timed / run_lightning(lit, data, a.warmup))
            torch.manual_seed(r); hf = to_hf(GPT(cfg)); hf.config._attn_implementation = 'sdpa'
            res['transformers GPT2LMHeadModel (sdpa)'].append(tokens_timed / run_plain(hf, data, a.warmup, hf=True))
        ceiling = statistics.median(ceilings)
        base = statistics.median(res['plain PyTorch loop'])
        fpt = GPT(cfg).flops_per_token(cfg.context_length)
        for k, v in res.items():
            tps = statistics.median(v)
            rows.append((th, k, tps, tps / base, tps * fpt / ceiling, ceiling))
    print(f'model: {cfg.n_layer}x{cfg.n_head}x{cfg.n_embd}, context {cfg.context_length}, batch {a.batch}, '
          f'{GPT(cfg).num_params():,} params, median step time over {a.steps - a.warmup} steps, median over {a.repeats} repeats, torch {torch.__version__}')
    print('\n| threads | variant | tokens/s | vs plain loop | MFU vs matmul ceiling | ceiling GFLOP/s |\n|---|---|---|---|---|---|')
    for th, k, tps, ratio, mfu, ceil in rows:
        print(f'| {th} | {k} | {tps:,.0f} | {ratio:.3f}x | {100 * mfu:.1f}% | {ceil / 1e9:.1f} |')

if __name__ == '__main__': main()
