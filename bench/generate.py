"""Generation throughput: llmlit with KV cache, llmlit without, and transformers' `generate`, on the same random weights.

    OMP_NUM_THREADS=2 python bench/generate.py                    # gpt2 preset, batch 1 and 8, 200 new tokens
    python bench/generate.py --preset tiny --new 50 --repeats 1   # a quick smoke run

Variants are interleaved in each repeat (so a slow moment of the machine hits all of them), greedy, no early stop, and the
median over repeats is reported as tokens/s (new tokens of the whole batch per second) with ratios to transformers."""
import argparse, statistics, time
import torch
from transformers import GPT2LMHeadModel
from llmlit.generate import generate
from llmlit.model import GPT, GPTConfig, to_hf

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', default='gpt2')
    p.add_argument('--new', type=int, default=200, help='new tokens per prompt')
    p.add_argument('--prompt', type=int, default=16, help='prompt length')
    p.add_argument('--batch', type=int, nargs='+', default=[1, 8])
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--threads', type=int, default=None, help='torch threads (default: as torch decides)')
    p.add_argument('--skip-nocache', action='store_true', help='leave out the (slow) no-cache variant')
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = GPTConfig.from_preset(a.preset, vocab_size=50257)
    ours = GPT(cfg).eval()
    hf = to_hf(ours)
    hf.config._attn_implementation = 'sdpa'
    hf.generation_config.pad_token_id = hf.generation_config.eos_token_id = None

    def run_ours(x, cache): return generate(ours, x, max_new_tokens=a.new, use_cache=cache)
    @torch.inference_mode()
    def run_hf(x):
        return hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=a.new, min_new_tokens=a.new,
                           do_sample=False, use_cache=True, pad_token_id=0)
    variants = {'llmlit (cache)': lambda x: run_ours(x, True), 'transformers generate': run_hf}
    if not a.skip_nocache: variants['llmlit (no cache)'] = lambda x: run_ours(x, False)

    print(f'preset={a.preset} ({ours.num_params():,} params), prompt={a.prompt}, new={a.new}, threads={torch.get_num_threads()}, '
          f'torch {torch.__version__}, device=cpu')
    rows = []
    for B in a.batch:
        x = torch.randint(0, cfg.vocab_size, (B, a.prompt))
        for f in variants.values(): f(x[:, :4])          # warm-up
        times = {k: [] for k in variants}
        for r in range(a.repeats):
            for k, f in variants.items():
                t = time.perf_counter(); out = f(x); times[k].append(time.perf_counter() - t)
        # same greedy tokens from all variants: a benchmark of different work would be meaningless
        ref = run_hf(x)[:, a.prompt:]
        assert torch.equal(torch.stack(run_ours(list(x), True))[:, a.prompt:], ref)
        base = B * a.new / statistics.median(times['transformers generate'])
        for k, ts in times.items():
            tps = B * a.new / statistics.median(ts)
            rows.append((B, k, tps, tps / base))
    print(f'\n| batch | variant | tokens/s | vs transformers |\n|---|---|---|---|')
    for B, k, tps, ratio in rows: print(f'| {B} | {k} | {tps:,.1f} | {ratio:.2f}x |')
    for B in a.batch:
        d = {k: t for b, k, t, _ in rows if b == B}
        if 'llmlit (no cache)' in d: print(f'batch {B}: cache / no cache = {d["llmlit (cache)"] / d["llmlit (no cache)"]:.1f}x')

if __name__ == '__main__': main()
