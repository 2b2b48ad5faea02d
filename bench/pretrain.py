"""Pretraining throughput: `LitCausalLM` under a Lightning `Trainer` vs a plain PyTorch loop on the same model and batches vs
`transformers.GPT2LMHeadModel` (sdpa) in a plain loop, interleaved in one run, at 1 and 2 threads; MFU against a matmul ceiling
measured in the same run.

    python bench/pretrain.py                        # nanoGPT's shakespeare_char CPU config (4x4x128, context 64, batch 12)
    python bench/pretrain.py --steps 20 --rounds 2  # quick

All three do the same work per step: forward, cross-entropy, backward, gradient clipping at 1.0, AdamW step, scheduler step.
Each step is timed from the start of one step to the start of the next (for Lightning: everything the Trainer does between two
batches), the first `--warmup` steps of each run are dropped, and the median step time gives tokens/s: a median over steps is
robust to the moments when a shared machine is busy elsewhere, which a total time is not. The machine's speed also drifts over
minutes, so the variants take turns in short runs (`--rounds` of `--steps` each, the order rotated every round so that each
variant runs first, second and third equally often) and each variant's median is taken over all its timed steps: drift then
affects every variant alike."""
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
    return [b - a for a, b in zip(stamps[warmup:], stamps[warmup + 1:])]

class Timer(pl.Callback):
    def __init__(self, warmup): self.warmup, self.stamps = warmup, []
    def on_train_batch_start(self, trainer, pl_module, batch, i): self.stamps.append(time.perf_counter())
    def on_train_end(self, trainer, pl_module):
        self.stamps.append(time.perf_counter())
        s = self.stamps[self.warmup:]
        self.elapsed = [b - a for a, b in zip(s, s[1:])]

def run_lightning(lit, data, warmup):
    timer = Timer(warmup)
    trainer = pl.Trainer(max_steps=len(data), logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, gradient_clip_val=1.0, accelerator='cpu',
                         callbacks=[timer], log_every_n_steps=50)
    trainer.fit(lit, torch.utils.data.DataLoader(data, batch_size=None))
    return timer.elapsed

def framework_overhead(tok, data, rounds:int, warmup:int=50)->tuple[float,float]:
    """Median step time (s) of the plain loop and of LitCausalLM + Trainer on a 1-layer, 8-wide GPT: the math is negligible, the
    difference is what Lightning and the module add per step, independent of how fast the machine runs the model."""
    cfg = GPTConfig(vocab_size=tok.vocab_size, context_length=64, n_layer=1, n_head=1, n_embd=8, bias=False, qkv_bias=False)
    plain, light = [], []
    for r in range(rounds):
        torch.manual_seed(r); plain += run_plain(GPT(cfg), data, warmup)
        torch.manual_seed(r)
        lit = LitCausalLM('nano', vocab_size=tok.vocab_size, n_layer=1, n_head=1, n_embd=8, bias=False, qkv_bias=False, lr=1e-3,
                          warmup_steps=100, decay_steps=2000, beta2=0.99)
        light += run_lightning(lit, data, warmup)
    return statistics.median(plain), statistics.median(light)

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--steps', type=int, default=40, help='steps per run')
    p.add_argument('--warmup', type=int, default=10, help='untimed steps at the start of each run')
    p.add_argument('--rounds', type=int, default=9, help='runs per variant, interleaved (a multiple of 3 rotates the order evenly)')
    p.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    p.add_argument('--batch', type=int, default=12)
    p.add_argument('--json', action='store_true', help=argparse.SUPPRESS)   # child mode: one thread count, results as JSON
    a = p.parse_args()
    if not a.json:
        # One process per thread count, started with OMP_NUM_THREADS set: shrinking a 2-thread OpenMP pool with
        # torch.set_num_threads(1) inside a process was measured to slow the Lightning run alone by ~5% at 1 thread.
        import json, os, subprocess, sys
        out = {'rows': [], 'quart': [], 'overhead': []}
        for th in a.threads:
            args = [sys.executable, __file__, '--json', '--threads', str(th), '--steps', str(a.steps), '--warmup', str(a.warmup),
                    '--rounds', str(a.rounds), '--batch', str(a.batch)]
            r = subprocess.run(args, env={**os.environ, 'OMP_NUM_THREADS': str(th), 'MKL_NUM_THREADS': str(th)},
                               capture_output=True, text=True)
            if r.returncode: sys.exit(r.stderr[-3000:])
            res = json.loads(r.stdout.strip().splitlines()[-1])
            for k in out: out[k] += res[k]
            header = res['header']
        print(header)
        print('\n| threads | variant | tokens/s | vs plain loop | MFU vs matmul ceiling | ceiling GFLOP/s |\n|---|---|---|---|---|---|')
        for th, k, tps, ratio, mfu, ceil in out['rows']:
            print(f'| {th} | {k} | {tps:,.0f} | {ratio:.3f}x | {100 * mfu:.1f}% | {ceil / 1e9:.1f} |')
        print('\nFramework overhead, measured on a 1-layer, 8-wide GPT (negligible math), as a share of the plain loop step above:')
        for th, op, ol, step in out['overhead']:
            print(f'  {th} thread(s): plain {1e3 * op:.2f} ms/step, LitCausalLM + Trainer {1e3 * ol:.2f} ms/step: '
                  f'+{1e3 * (ol - op):.2f} ms = {100 * (ol - op) / step:.1f}% of the {1e3 * step:.1f} ms step')
        print('\nstep-time quartiles (ms), all timed steps:')
        for th, k, q in out['quart']: print(f'  {th} thread(s), {k}: ' + ' / '.join(f'{1e3 * x:.1f}' for x in q))
        return
    import logging, warnings
    logging.getLogger('lightning.pytorch.utilities.rank_zero').setLevel(logging.WARNING)
    warnings.filterwarnings('ignore')
    corpus = load_corpus('tinyshakespeare')
    tok = get_tokenizer('char', texts=corpus)
    tokens = np.asarray(tok.encode(corpus.text), dtype=np.uint16)
    cfg = GPTConfig.from_preset('nano', vocab_size=tok.vocab_size, bias=False, qkv_bias=False)
    data = batches(tokens, cfg, a.batch, a.steps)
    small_data = batches(tokens, cfg, a.batch, 300)
    tokens_timed = a.batch * cfg.context_length   # per step; the runs return their median step time
    rows, quart, overhead = [], {}, {}
    for th in a.threads:
        torch.set_num_threads(th)
        names = ['plain PyTorch loop', 'llmlit LitCausalLM + Trainer', 'transformers GPT2LMHeadModel (sdpa)']
        res, ceilings = {k: [] for k in names}, []
        for r in range(a.rounds):
            ceilings.append(matmul_ceiling())
            for k in names[r % 3:] + names[:r % 3]:     # each variant takes each position in turn
                torch.manual_seed(r)
                if k == names[0]: res[k] += run_plain(GPT(cfg), data, a.warmup)
                elif k == names[1]:
                    lit = LitCausalLM('nano', vocab_size=tok.vocab_size, bias=False, qkv_bias=False, lr=1e-3, warmup_steps=100,
                                      decay_steps=2000, beta2=0.99)
                    res[k] += run_lightning(lit, data, a.warmup)
                else:
                    hf = to_hf(GPT(cfg)); hf.config._attn_implementation = 'sdpa'
                    res[k] += run_plain(hf, data, a.warmup, hf=True)
        ceiling = statistics.median(ceilings)
        op, ol = framework_overhead(tok, small_data, max(2, a.rounds // 4))
        overhead[th] = (op, ol, statistics.median(res[names[0]]))
        base = tokens_timed / statistics.median(res[names[0]])
        fpt = GPT(cfg).flops_per_token(cfg.context_length)
        for k in names:
            quart[(th, k)] = statistics.quantiles(res[k], n=4)
            tps = tokens_timed / statistics.median(res[k])
            rows.append((th, k, tps, tps / base, tps * fpt / ceiling, ceiling))
    import json
    header = (f'model: {cfg.n_layer}x{cfg.n_head}x{cfg.n_embd}, context {cfg.context_length}, batch {a.batch}, '
              f'{GPT(cfg).num_params():,} params, median step time over {a.rounds} interleaved runs x {a.steps - a.warmup} timed '
              f'steps per variant, one process per thread count (OMP_NUM_THREADS), torch {torch.__version__}')
    print(json.dumps({'header': header, 'rows': rows, 'quart': [(th, k, q) for (th, k), q in quart.items()],
                      'overhead': [(th, *v) for th, v in overhead.items()]}))

if __name__ == '__main__': main()
