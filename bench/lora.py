"""Full finetune, LoRA and QLoRA of SmolLM2-135M-Instruct side by side: step time, peak memory (RSS), trainable
parameters and weight bytes, on the same batches (the book's instruction data in the model's chat template, trained on
the responses, batch 8). Each variant runs in its own process, so each has its own peak; the variants alternate over
rounds, so all see the same machine. The peak is the resident set's high-water mark from just before the first
training step to the last (Linux: reset through /proc/self/clear_refs), so loading the model is not counted; the first
step is left out of the step time (warm-up). Each variant runs without and with gradient checkpointing (`+ckpt`),
and is compared with the full finetune under the same setting. Run alone:

    python bench/lora.py --rounds 2 --steps 5 --out bench/results/lora.json
"""
import argparse, json, os, re, statistics, subprocess, sys, time, warnings
from pathlib import Path

GGUF = Path(os.environ.get('LLMLIT_MODELS', Path(__file__).parents[2]/'shared/models'))/'SmolLM2-135M-Instruct.Q4_1.gguf'
SMOL = str(GGUF) if GGUF.exists() else 'HuggingFaceTB/SmolLM2-135M-Instruct'
VARIANTS = {'full': None, 'lora': {'r': 8, 'alpha': 16},
            'qlora': {'r': 8, 'alpha': 16, 'quantize': 'nf4'}}
LR = {'full': 5e-5, 'lora': 2e-4, 'qlora': 2e-4}
# each also with gradient checkpointing ('+ckpt'): the QLoRA recipe's (and PEFT's prepare_model_for_kbit_training default)

def _mib(field:str)->float:
    return int(re.search(rf'{field}:\s+(\d+)', Path('/proc/self/status').read_text())[1]) / 1024

def one(name:str, steps:int, threads:int)->dict:
    "Train `steps` + 1 batches of one variant (`lora`, `lora+ckpt`, ...) in this process; its figures."
    variant, ckpt = name.removesuffix('+ckpt'), name.endswith('+ckpt')
    import torch
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader
    from llmlit.sft import InstructionDataModule, LitSFT, SFTBatches
    from llmlit.lora import lora_report
    warnings.filterwarnings('ignore')
    torch.set_num_threads(threads)
    pl.seed_everything(123, verbose=False)
    dm = InstructionDataModule('instruction-data', format='model', tokenizer=SMOL, batch_size=8)
    dm.setup()
    batches = list(SFTBatches(dm.records('train'), 8, dm.tokenizer.pad_id))[:steps + 1]
    lit = LitSFT(SMOL, lr=LR[variant], lora=VARIANTS[variant], gradient_checkpointing=ckpt)
    rep = lora_report(lit.model)
    weight_bytes = sum(p.numel() * p.element_size() for p in {id(p): p for p in lit.model.parameters()}.values())
    times, losses = [], []
    class Clock(pl.Callback):
        def on_train_start(self, trainer, module):   # after the optimizer is made: its state is part of training
            Path('/proc/self/clear_refs').write_text('5')
        def on_train_batch_start(self, trainer, module, batch, i): self.t = time.perf_counter()
        def on_train_batch_end(self, trainer, module, out, batch, i):
            times.append(time.perf_counter() - self.t); losses.append(float(out['loss']))
    rss_before = _mib('VmRSS')
    t = pl.Trainer(max_steps=len(batches), accelerator='cpu', logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0, gradient_clip_val=1.0,
                   callbacks=[Clock()], log_every_n_steps=10)
    t.fit(lit, train_dataloaders=DataLoader(batches, batch_size=None))
    return {'variant': name, 'step_s': statistics.median(times[1:]), 'peak_rss_mib': _mib('VmHWM'),
            'rss_before_training_mib': rss_before, 'trainable_params': rep['trainable'], 'total_params': rep['total'],
            'weight_bytes': weight_bytes, 'tokens_per_batch': [int(b['attention_mask'].sum()) for b in batches],
            'losses': losses}

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--steps', type=int, default=6)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--variants', default='full,lora,qlora,full+ckpt,lora+ckpt,qlora+ckpt')
    ap.add_argument('--one', default=None, help=argparse.SUPPRESS)   # a child process: one variant
    ap.add_argument('--out', default=None)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one, a.steps, a.threads))); sys.exit(0)
    names, rows = a.variants.split(','), []
    for r in range(a.rounds):
        for name in (names if r % 2 == 0 else names[::-1]):   # alternate the order
            out = subprocess.run([sys.executable, __file__, '--one', name, '--steps', str(a.steps),
                                  '--threads', str(a.threads)], capture_output=True, text=True)
            if out.returncode: sys.exit(out.stderr[-3000:])
            row = {'round': r, **json.loads(out.stdout.strip().splitlines()[-1])}
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k not in ('losses', 'tokens_per_batch')}), flush=True)
    med = {n: {k: statistics.median(x[k] for x in rows if x['variant'] == n) for k in ('step_s', 'peak_rss_mib')}
           for n in names}
    first = {n: next(x for x in rows if x['variant'] == n) for n in names}
    res = {'model': 'SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized to fp32)', 'threads': a.threads, 'batch_size': 8,
           'steps_timed': a.steps, 'rounds': a.rounds, 'median': med,
           'trainable_params': {n: first[n]['trainable_params'] for n in names},
           'weight_bytes': {n: first[n]['weight_bytes'] for n in names}, 'runs': rows}
    for n in names:
        m, base = med[n], med.get('full+ckpt' if n.endswith('+ckpt') else 'full')
        vs = (f" = {m['peak_rss_mib'] / base['peak_rss_mib']:.2f}x full's peak, step "
              f"{m['step_s'] / base['step_s']:.2f}x" if base and not n.startswith('full') else '')
        print(f"{n:10s} step {m['step_s']:.2f} s, peak RSS {m['peak_rss_mib']:,.0f} MiB, trainable "
              f"{first[n]['trainable_params']:,}, weights {first[n]['weight_bytes'] / 2**20:,.1f} MiB{vs}")
    if a.out: Path(a.out).write_text(json.dumps(res, indent=1) + '\n')
