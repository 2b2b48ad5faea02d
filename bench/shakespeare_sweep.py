"""Which changes to nanoGPT's shakespeare_char recipe move the loss, measured without looking at the validation text.

    python bench/shakespeare_sweep.py                                  # every variant, seeds 1 and 2
    python bench/shakespeare_sweep.py --variants base untied --seeds 1 2 3

Each run is `bench/nanogpt_reference.py --split dev`: the recipe trained on the first 81% of Tiny Shakespeare and scored on the
whole of 81-90%; the last 10% (the validation split `llmlit pretrain` reports) is not read. Runs go two at a time, one thread
each (the machine has 2 cores), and the table gives each variant's mean against the unchanged recipe from the same sweep."""
import argparse, os, statistics, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

VARIANTS = {
    'base':        [],                  # nanoGPT's recipe as it is
    'untied':      ['--untied'],        # lm_head with its own matrix
    'emb_nodecay': ['--emb_nodecay'],   # no weight decay on the (tied) embedding
    'rope':        ['--rope'],          # rotary positions instead of the learned table (not GPT-2's architecture)
    'untied+zero_proj': ['--untied', '--zero_proj'],
    'untied+wd0':       ['--untied', '--wd', '0'],
    'untied+noclip':    ['--untied', '--clip', '0'],
    'untied+emb_std1':  ['--untied', '--emb_std', '1.0'],
    'untied+emb_std0.1': ['--untied', '--emb_std', '0.1'],
}
ap = argparse.ArgumentParser()
ap.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
ap.add_argument('--seeds', nargs='+', type=int, default=[1, 2])
ap.add_argument('--jobs', type=int, default=2)
a = ap.parse_args()
ref = Path(__file__).with_name('nanogpt_reference.py')
env = {**os.environ, 'OMP_NUM_THREADS': '1'}

def run(job):
    name, seed = job
    out = subprocess.run([sys.executable, str(ref), '--split', 'dev', '--seed', str(seed), '--name', name, *VARIANTS[name]],
                         env=env, capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith('RESULT'))
    print(line, flush=True)
    return name, seed, float(line.split('\t')[4])

jobs = [(v, s) for v in a.variants for s in a.seeds]
with ThreadPoolExecutor(a.jobs) as pool: results = list(pool.map(run, jobs))
by = {v: [l for n, s, l in results if n == v] for v in a.variants}
base = statistics.mean(by['base']) if 'base' in by else None
print(f'\ndev loss (first 81% trained, 81-90% scored), seeds {a.seeds}\n')
print('| variant | ' + ' | '.join(f'seed {s}' for s in a.seeds) + ' | mean | vs base |')
print('|---|' + '---|' * (len(a.seeds) + 2))
for v, ls in by.items():
    d = f'{statistics.mean(ls) - base:+.4f}' if base is not None else ''
    print(f'| {v} | ' + ' | '.join(f'{l:.4f}' for l in ls) + f' | {statistics.mean(ls):.4f} | {d} |')
