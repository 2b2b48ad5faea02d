"""The Shakespeare comparison of the Llama tutorial: nanoGPT's shakespeare_char CPU budget trained with `llmlit pretrain` as
GPT-2 (configs/pretrain_shakespeare_char.yaml), as GPT-2 with rotary positions (`--model.pos rope`), and as a Llama
(configs/pretrain_shakespeare_char_llama.yaml), validation loss over the whole last 10% every 250 steps.

    python bench/shakespeare_llama.py --runs runs/shakespeare           # trains what is missing (about 6 min a run, 1 thread)
    python bench/shakespeare_llama.py --runs runs/shakespeare --seeds 1337 1 2 --variants llama

Each run is `llmlit pretrain --config C --run_dir RUNS/<variant>_s<seed> --seed_everything S --data.seed S`; a run folder
that already has summary.json is read, not retrained. Writes bench/results/shakespeare_llama.json: per run, the validation
curve (step, val_loss), the final validation loss, wall time and the last sample."""
import argparse, csv, json, os, subprocess, sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {'gpt2': ['--config', 'configs/pretrain_shakespeare_char.yaml'],
            'gpt2_rope': ['--config', 'configs/pretrain_shakespeare_char.yaml', '--model.pos', 'rope'],
            'llama': ['--config', 'configs/pretrain_shakespeare_char_llama.yaml']}

def curve(run:Path)->list:
    with open(run/'metrics.csv') as f:
        return [(int(r['step']) + 1, float(r['val_loss'])) for r in csv.DictReader(f) if r.get('val_loss')]

def last_sample(log:Path)->str|None:
    if not log.exists(): return None
    text = log.read_text(errors='replace')
    i = text.rfind('--- sample at step')
    return text[i:].split('\n', 1)[1].split('\n---', 1)[0] if i >= 0 else None

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--runs', default='runs/shakespeare'); ap.add_argument('--seeds', type=int, nargs='+', default=[1337])
    ap.add_argument('--variants', nargs='+', default=list(VARIANTS))
    ap.add_argument('--out', default=str(ROOT/'bench/results/shakespeare_llama.json'))
    a = ap.parse_args()
    runs, out = Path(a.runs).resolve(), Path(a.out)
    res = json.loads(out.read_text()) if out.exists() else {}
    for v in a.variants:
        for s in a.seeds:
            run = runs/f'{v}_s{s}'
            log = runs/f'{v}_s{s}.log'
            if not (run/'summary.json').exists():
                run.parent.mkdir(parents=True, exist_ok=True)
                cmd = ['llmlit', 'pretrain', *VARIANTS[v], '--run_dir', str(run), '--seed_everything', str(s),
                       '--data.seed', str(s), '--trainer.enable_progress_bar', 'false']
                with open(log, 'w') as f:
                    p = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                                       env={**os.environ, 'OMP_NUM_THREADS': '1'})
                if p.returncode: sys.exit(f'{v} seed {s} failed: see {log}')
            summ = json.loads((run/'summary.json').read_text())
            res[f'{v}_s{s}'] = {'variant': v, 'seed': s, 'val_loss': summ['val_loss'], 'wall_time_s': summ['wall_time_s'],
                                'params': summ['trainable_params'], 'curve': curve(run), 'sample': last_sample(log)}
            print(f'{v:10s} seed {s:5d}: val_loss {summ["val_loss"]:.4f} ({summ["wall_time_s"]:.0f} s)')
    out.write_text(json.dumps(res, indent=1))

if __name__ == '__main__': main()
