"`llmlit pretrain` end to end: exact resume, DDP on 2 CPU processes, loggers, bad inputs."
import csv, json, os, subprocess, sys
from pathlib import Path
import pytest, torch
from llmlit.pretrain import pretrain_main

ROOT = Path(__file__).resolve().parents[1]
QUIET = ['--trainer.enable_progress_bar', 'false', '--trainer.enable_model_summary', 'false', '--sample.every_n_val', '0',
         '--trainer.accelerator', 'cpu']

def args(run_dir, cache, *extra, steps=40, batch=8):
    return ['--data.source', 'tinyshakespeare', '--data.tokenizer', 'char', '--data.context_length', '32',
            '--data.batch_size', str(batch), f'--data.cache_dir={cache}', '--model.preset', 'tiny', '--model.n_embd', '32',
            '--model.dropout', '0.1', '--model.warmup_steps', '5', '--model.decay_steps', '40', '--model.lr', '3e-3',
            '--trainer.max_steps', str(steps), '--trainer.val_check_interval', '10', '--trainer.limit_val_batches', '4',
            '--trainer.log_every_n_steps', '1', '--seed_everything', '7', '--run_dir', str(run_dir), *QUIET, *extra]

def losses(run_dir, key='train_loss'):
    rows = csv.DictReader(open(Path(run_dir)/'metrics.csv'))
    return {int(r['step']): float(r[key]) for r in rows if r.get(key)}

def test_resume_gives_identical_losses(tmp_path):
    straight = tmp_path/'straight'; first = tmp_path/'first'; resumed = tmp_path/'resumed'
    pretrain_main(args(straight, tmp_path/'cache'))
    pretrain_main(args(first, tmp_path/'cache', steps=20))                 # "interrupted" after 20 steps
    ckpt = first/'checkpoints/last.ckpt'
    assert ckpt.exists()
    pretrain_main(args(resumed, tmp_path/'cache', '--ckpt_path', str(ckpt)))
    a, b = losses(straight), {**losses(first), **losses(resumed)}
    assert sorted(a) == sorted(b) and len(a) == 40
    for step in a: assert a[step] == pytest.approx(b[step], abs=1e-6), step
    va, vb = losses(straight, 'val_loss'), losses(resumed, 'val_loss')
    assert va[max(va)] == pytest.approx(vb[max(vb)], abs=1e-6)
    s = json.loads((resumed/'summary.json').read_text())
    assert s['global_step'] == 40 and s['tokens_seen'] == 40 * 8 * 32    # the token counter resumes too
    assert losses(resumed, 'tokens_seen')[39] == losses(straight, 'tokens_seen')[39] == 40 * 8 * 32   # and so does the logged one

def test_resume_from_other_model_config_is_refused(tmp_path):
    pretrain_main(args(tmp_path/'a', tmp_path/'cache', steps=10))
    with pytest.raises(ValueError, match=r'checkpoint was made by a different model \(n_layer: checkpoint 2 vs now 3\)'):
        pretrain_main(args(tmp_path/'b', tmp_path/'cache', '--model.n_layer', '3', '--ckpt_path', str(tmp_path/'a/checkpoints/last.ckpt')))

def test_ddp_on_two_cpu_processes_matches_single(tmp_path):
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    single = tmp_path/'single'; ddp = tmp_path/'ddp'
    base = lambda d, b: ['llmlit', 'pretrain', *args(d, tmp_path/'cache', steps=30, batch=b)]
    r = subprocess.run(base(single, 8), capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    r = subprocess.run([*base(ddp, 4), '--trainer.strategy', 'ddp', '--trainer.devices', '2'], capture_output=True, text=True,
                       env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    s1, s2 = (json.loads((d/'summary.json').read_text()) for d in (single, ddp))
    assert s2['global_step'] == 30 and s2['tokens_seen'] == s1['tokens_seen'] == 30 * 8 * 32
    # 2 processes x batch 4 see the same windows as 1 process x batch 8 (dropout noise aside)
    assert s2['val_loss'] == pytest.approx(s1['val_loss'], abs=0.05)

def test_wandb_offline_logger(tmp_path, monkeypatch):
    monkeypatch.setenv('WANDB_MODE', 'offline'); monkeypatch.setenv('WANDB_SILENT', 'true')
    run = tmp_path/'w'
    pretrain_main(args(run, tmp_path/'cache', '--logger', 'wandb', steps=10))
    assert list((run/'wandb').glob('offline-run-*')) and (run/'metrics.csv').exists()
    assert json.loads((run/'summary.json').read_text())['global_step'] == 10

def test_tensorboard_logger(tmp_path):
    run = tmp_path/'tb'
    pretrain_main(args(run, tmp_path/'cache', '--logger', 'tensorboard', steps=5))
    assert list((run/'tensorboard').glob('events.out.tfevents.*')) and (run/'metrics.csv').exists()

def test_empty_corpus_is_a_clear_error(tmp_path):
    (tmp_path/'empty.txt').write_text('')
    with pytest.raises(ValueError, match=r"^The text source '.*empty.txt' is empty"):
        pretrain_main(['--data.source', str(tmp_path/'empty.txt'), '--run_dir', str(tmp_path/'r'), *QUIET])

def test_generate_verb_on_a_run(tmp_path):
    pretrain_main(args(tmp_path/'g', tmp_path/'cache', steps=5))
    r = subprocess.run(['llmlit', 'generate', '--model', str(tmp_path/'g/model'), '--max_new_tokens', '30', 'ROMEO:'],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith('ROMEO:') and len(r.stdout) > 30, r.stderr

def test_readme_main_command_defaults(tmp_path):
    "`llmlit pretrain` with nothing set: embedded corpus, BPE learned from it, CPU; shortened to 20 steps here."
    env = {**os.environ, 'LLMLIT_CACHE': str(tmp_path/'cache')}
    r = subprocess.run(['llmlit', 'pretrain', '--trainer.max_steps', '20', '--trainer.val_check_interval', '10',
                        '--trainer.limit_val_batches', '2', '--run_dir', str(tmp_path/'run')], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert '--- sample at step 20 ---' in r.stdout
    s = json.loads((tmp_path/'run/summary.json').read_text())
    assert s['data_source'] == 'python-docs' and s['global_step'] == 20 and s['val_loss'] < 8.3   # ln 4096 = 8.32
    cfg = (tmp_path/'run/config.yaml').read_text()
    assert 'tokenizer: bpe:4096' in cfg and 'preset: nano' in cfg
