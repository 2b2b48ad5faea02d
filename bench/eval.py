"""llmlit's multiple-choice scorer against lm-eval's HF backend, side by side in one run, on the same items and model.

    python bench/eval.py                        # 200 HellaSwag items, SmolLM2-135M-Instruct, 2 threads, 2 rounds
    python bench/eval.py --limit 50 --rounds 1  # quicker
    python bench/eval.py --threads 1

Model: SmolLM2-135M-Instruct (the GGUF in $LLMLIT_MODELS, dequantized to fp32) as one transformers `LlamaForCausalLM`
(sdpa) shared by both; items: the 200 HellaSwag records in $LLMLIT_DATA/mc-sample. Variants:

- **llmlit**: `evaluate_task` (each item's context run once, its KV cache rows copied per choice; items sorted by length).
- **lm-eval bs=1** and **lm-eval bs=8**: `lm_eval.simple_evaluate` on lm-eval's own hellaswag task (pointed at the same
  file), batch size 1 (lm-eval's default) and 8. Timed: the whole call, and its `loglikelihood` requests alone (the
  model's work, without lm-eval's task indexing and dataset building).

The variants take turns (order rotated every round); each figure is the median of its rounds. Every item's answers are
compared, and the largest difference in a choice's log-likelihood is reported. Ratios above 1 mean llmlit is faster."""
import argparse, json, os, statistics, sys, time
from pathlib import Path

def rotate(items, r): return items[r % len(items):] + items[:r % len(items)]

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--limit', type=int, default=200)
    p.add_argument('--rounds', type=int, default=2)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--batch_size', type=int, default=16, help="llmlit's items per batch")
    p.add_argument('--out', default=None, help='write the figures as JSON here')
    a = p.parse_args()
    import torch
    torch.set_num_threads(a.threads)
    import lm_eval.models.huggingface as hf_lm
    from llmlit.backbone import load_backbone
    from llmlit.evaluate import evaluate_task, hellaswag_task, lm_eval_reference
    data = Path(os.environ.get('LLMLIT_DATA', '../shared/data'))
    gguf = Path(os.environ.get('LLMLIT_MODELS', '../shared/models'))/'SmolLM2-135M-Instruct.Q4_1.gguf'
    model = load_backbone(gguf)
    task = hellaswag_task(data/'mc-sample/hellaswag_train_200.jsonl')

    requests_time = []
    inner = hf_lm.HFLM.loglikelihood
    def timed(self, *args, **kw):
        t = time.perf_counter()
        try: return inner(self, *args, **kw)
        finally: requests_time.append(time.perf_counter() - t)
    hf_lm.HFLM.loglikelihood = timed

    variants = {
        'llmlit': lambda: evaluate_task(model, None, task, a.batch_size, a.limit, progress=False),
        'lm-eval bs=1': lambda: lm_eval_reference(model, task, limit=a.limit, batch_size=1),
        'lm-eval bs=8': lambda: lm_eval_reference(model, task, limit=a.limit, batch_size=8),
    }
    secs = {k: [] for k in variants}
    req = {k: [] for k in variants if k != 'llmlit'}
    out = {}
    for r in range(a.rounds):
        for name in rotate(list(variants), r):
            requests_time.clear()
            t = time.perf_counter(); out[name] = variants[name](); secs[name].append(time.perf_counter() - t)
            if name in req: req[name].append(sum(requests_time))
            print(f'round {r + 1} {name}: {secs[name][-1]:.1f} s', file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in secs.items()}
    med_req = {k: statistics.median(v) for k, v in req.items()}
    ours = out['llmlit']
    res = {'threads': a.threads, 'items': ours['n'], 'rounds': a.rounds, 'seconds': med, 'lm_eval_requests_seconds': med_req,
           'llmlit_metrics': ours['metrics']}
    for k in req:
        ref = out[k]
        res[k] = {
            'same_answers': all(o['pred'] == max(range(len(r['lls'])), key=r['lls'].__getitem__)
                                for o, r in zip(ours['items'], ref['items'])),
            'max_abs_ll_diff': max(abs(x - y) for o, r in zip(ours['items'], ref['items']) for x, y in zip(o['lls'], r['lls'])),
            'metrics': ref['metrics'],
            'speedup_whole_call': med[k] / med['llmlit'],
            'speedup_requests_only': med_req[k] / med['llmlit'],
        }
    print(json.dumps(res, indent=1))
    if a.out: Path(a.out).write_text(json.dumps(res, indent=1) + '\n')

if __name__ == '__main__': main()
