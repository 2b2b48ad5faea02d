"""The cost of `llmlit serve`: one request through the OpenAI API against `generate` called directly, same prompt and
length, and 16 concurrent requests against the same 16 one after another.

    python bench/serve.py                  # SmolLM2-135M-Instruct, 64 new tokens, 2 threads, 5 rounds
    python bench/serve.py --threads 1 --rounds 3

Model: SmolLM2-135M-Instruct (the GGUF in $LLMLIT_MODELS, dequantized to fp32), loaded once and shared: the server is
`llmlit.serve.make_app` on uvicorn in a thread of this process, called with the `openai` client over 127.0.0.1.
Variants, taking turns every round (order rotated); each figure is the median of its rounds:

- **generate**: `llmlit.generate.generate` on the chat prompt's ids, `max_new_tokens` tokens (no stop id).
- **server**: `/v1/chat/completions`, `max_tokens` the same, `ignore_eos` so that it decodes as many tokens.
- **server stream**: the same with `stream: true`, the server-sent events read to the end.

Then 16 different questions (`max_tokens` 32, greedy, stopping at the end of the answer) sent one after another, and
all at once from 16 threads: the server batches compatible requests, so the concurrent wall time is lower."""
import argparse, json, statistics, time, os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

def rotate(items, r): return items[r % len(items):] + items[:r % len(items)]

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--tokens', type=int, default=64)
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--out', default=None, help='write the figures as JSON here')
    a = p.parse_args()
    import torch
    torch.set_num_threads(a.threads)
    import openai
    from llmlit.backbone import load_backbone
    from llmlit.generate import chat_prompt, generate
    from llmlit.judge import serve_in_thread
    from llmlit.serve import Engine, make_app
    gguf = Path(os.environ.get('LLMLIT_MODELS', '../shared/models'))/'SmolLM2-135M-Instruct.Q4_1.gguf'
    model = load_backbone(gguf)
    tok = model.tokenizer
    engine = Engine(model, tok)
    url, server = serve_in_thread(make_app(engine, 'smol'))
    client = openai.OpenAI(base_url=url, api_key='none', max_retries=0)
    q = 'Explain in a few sentences why the sky is blue.'
    ids = tok.encode(chat_prompt(tok, q))
    msgs = [{'role': 'user', 'content': q}]
    def direct(): return len(generate(model, ids, a.tokens)) - len(ids)
    def request(): return client.chat.completions.create(model='smol', messages=msgs, max_tokens=a.tokens, temperature=0,
                                                         extra_body={'ignore_eos': True}).usage.completion_tokens
    def stream():
        n = 0
        for c in client.chat.completions.create(model='smol', messages=msgs, max_tokens=a.tokens, temperature=0,
                                                stream=True, extra_body={'ignore_eos': True}):
            n += bool(c.choices and c.choices[0].delta.content)
        return n
    variants = {'generate': direct, 'server': request, 'server stream': stream}
    for f in variants.values(): f()                       # warm up
    times = {k: [] for k in variants}
    for r in range(a.rounds):
        for k in rotate(list(variants), r):
            t = time.perf_counter(); n = variants[k](); times[k].append(time.perf_counter() - t)
            if k != 'server stream': assert n == a.tokens, (k, n)
    med = {k: statistics.median(v) for k, v in times.items()}
    qs = [f'What is {i} plus {30 - i}? Answer in one sentence.' for i in range(16)]
    ask = lambda q: client.chat.completions.create(model='smol', messages=[{'role': 'user', 'content': q}],
                                                   max_tokens=32, temperature=0).choices[0].message.content
    seq, conc = [], []
    for r in range(max(1, a.rounds // 2)):
        for k in rotate(['seq', 'conc'], r):
            t = time.perf_counter()
            if k == 'seq': s_out = [ask(x) for x in qs]
            else:
                with ThreadPoolExecutor(16) as pool: c_out = list(pool.map(ask, qs))
            (seq if k == 'seq' else conc).append(time.perf_counter() - t)
    assert s_out == c_out
    res = {'threads': a.threads, 'tokens': a.tokens, 'prompt_tokens': len(ids), 'rounds': a.rounds,
           'seconds': med, 'server_over_generate': med['server'] / med['generate'],
           'stream_over_generate': med['server stream'] / med['generate'],
           'overhead_ms_per_request': 1000 * (med['server'] - med['generate']),
           'sixteen_sequential_s': statistics.median(seq), 'sixteen_concurrent_s': statistics.median(conc),
           'concurrency_speedup': statistics.median(seq) / statistics.median(conc),
           'largest_batch': max(engine.batch_sizes)}
    for k, v in med.items(): print(f'{k:<14} {v:7.3f} s  ({a.tokens / v:5.1f} tokens/s)')
    print(f'server / generate {res["server_over_generate"]:.3f}x, stream / generate {res["stream_over_generate"]:.3f}x, '
          f'overhead {res["overhead_ms_per_request"]:.0f} ms per request')
    print(f'16 requests: one after another {res["sixteen_sequential_s"]:.1f} s, at once {res["sixteen_concurrent_s"]:.1f} s '
          f'({res["concurrency_speedup"]:.2f}x; largest batch {res["largest_batch"]})')
    if a.out: Path(a.out).write_text(json.dumps(res, indent=1) + '\n')
    server.should_exit = True

if __name__ == '__main__': main()
