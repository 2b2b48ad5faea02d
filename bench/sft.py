"""SFT training throughput on SmolLM2-135M-Instruct: `LitSFT` under a Lightning `Trainer` against a plain PyTorch loop
(transformers' `LlamaForCausalLM` with `labels=`, its own masked loss, AdamW, clipping) on the same batches with the same
masks: the book's data in the model's chat template, trained on the responses. The two alternate in one process, so
both see the same machine; the first step of each run is left out of the timing (warm-up). Run alone:

    python bench/sft.py --rounds 3 --steps 8 --out bench/results/sft.json
"""
import argparse, json, os, statistics, time, warnings
from pathlib import Path
import torch
import lightning.pytorch as pl
from torch.utils.data import DataLoader
from llmlit.sft import InstructionDataModule, LitSFT, SFTBatches

GGUF = Path(os.environ.get('LLMLIT_MODELS', Path(__file__).parents[2]/'shared/models'))/'SmolLM2-135M-Instruct.Q4_1.gguf'
SMOL = str(GGUF) if GGUF.exists() else 'HuggingFaceTB/SmolLM2-135M-Instruct'

class Clock(pl.Callback):
    "Wall time and real tokens of every training batch after the first."
    def __init__(self): self.t, self.tokens, self.i = None, 0, 0
    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if self.i == 1: self.t = time.perf_counter()
    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if self.i >= 1: self.tokens += int(batch['attention_mask'].sum())
        self.i += 1
    def rate(self): return self.tokens / (time.perf_counter() - self.t)

def lightning_run(lit, batches):
    clock = Clock()
    t = pl.Trainer(max_steps=len(batches), accelerator='cpu', logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0, gradient_clip_val=1.0,
                   callbacks=[clock], log_every_n_steps=10)
    t.fit(lit, train_dataloaders=DataLoader(batches, batch_size=None))
    return clock.rate()

def plain_run(hf, batches, lr=5e-5):
    "The loop everyone writes: forward with labels, backward, clip, step."
    hf.train()
    opt = torch.optim.AdamW(hf.parameters(), lr=lr, weight_decay=0.1)
    tokens, t0 = 0, None
    for i, b in enumerate(batches):
        if i == 1: t0 = time.perf_counter()
        out = hf(input_ids=b['input_ids'], attention_mask=b['attention_mask'], labels=b['labels'])
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(hf.parameters(), 1.0)
        opt.step(); opt.zero_grad(set_to_none=True)
        if i >= 1: tokens += int(b['attention_mask'].sum())
    return tokens / (time.perf_counter() - t0)

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--steps', type=int, default=8)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--out', default=None)
    a = ap.parse_args()
    warnings.filterwarnings('ignore')
    torch.set_num_threads(a.threads)
    dm = InstructionDataModule('instruction-data', format='model', tokenizer=SMOL, batch_size=8)
    dm.setup()
    batches = list(SFTBatches(dm.records('train'), 8, dm.tokenizer.pad_id))[:a.steps + 1]
    lit = LitSFT(SMOL)
    hf = lit.model.hf   # the same weights under both loops
    rows = []
    for r in range(a.rounds):   # alternate which goes first
        order = ('lightning', 'plain') if r % 2 == 0 else ('plain', 'lightning')
        for name in order:
            rate = lightning_run(lit, batches) if name == 'lightning' else plain_run(hf, batches)
            rows.append({'round': r, 'loop': name, 'tokens_per_s': rate})
            print(json.dumps(rows[-1]), flush=True)
    med = {n: statistics.median(x['tokens_per_s'] for x in rows if x['loop'] == n) for n in ('lightning', 'plain')}
    ratios = [l['tokens_per_s'] / p['tokens_per_s'] for l, p in zip([x for x in rows if x['loop'] == 'lightning'],
                                                                       [x for x in rows if x['loop'] == 'plain'])]
    res = {'model': 'SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized to fp32)', 'threads': a.threads,
           'steps_timed': a.steps, 'batch_size': 8, 'median_tokens_per_s': med,
           'ratio_median': med['lightning'] / med['plain'], 'ratio_per_round': ratios, 'runs': rows}
    print(f"LitSFT {med['lightning']:.1f} tokens/s, plain loop {med['plain']:.1f}: {res['ratio_median']:.3f}x "
          f"(rounds: {', '.join(f'{x:.3f}' for x in ratios)})")
    if a.out: Path(a.out).write_text(json.dumps(res, indent=1) + '\n')
