"""Faults a long run meets: a `kill -9` while a checkpoint is being written (with $TMPDIR on another filesystem, where a
write-to-/tmp-then-move would not be atomic), and resuming into the same run folder. Nothing written before may be lost:
the previous checkpoint stays loadable, the resumed run continues from it, and metrics.csv keeps every earlier row."""
import csv, os, random, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest, torch
from cli_process import run_llmlit

LAUNCH = 'import sys; from llmlit.cli import main; sys.exit(main())'
SHARED = Path(os.environ.get('LLMLIT_DATA') or Path(__file__).resolve().parents[2]/'shared/data')
TMPFS = Path('/dev/shm')

def env(tmp, **kw):
    return {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'TOKENIZERS_PARALLELISM': 'false',
            'LLMLIT_CACHE': str(tmp/'cache'), 'PYTHONWARNINGS': 'ignore', **kw}

def pretrain_args(src, run_dir, steps, every=1, preset='tiny', extra=()):
    return ['pretrain', '--data.source', str(src), '--data.tokenizer', 'char', '--model.preset', preset,
            '--data.context_length', '32', '--data.batch_size', '4', '--trainer.max_steps', str(steps),
            '--trainer.val_check_interval', str(steps), '--trainer.limit_val_batches', '1', '--trainer.accelerator', 'cpu',
            '--trainer.enable_progress_bar', 'false', '--trainer.enable_model_summary', 'false', '--sample.every_n_val', '0',
            '--trainer.log_every_n_steps', '1', '--model.warmup_steps', '0',
            '--checkpoint.every_n_train_steps', str(every), '--run_dir', str(run_dir), *extra]

def llmlit(args, tmp, **kw):
    return run_llmlit(args, tmp, env(tmp, **kw), text=True)

def load_ckpt(p:Path)->dict:
    "Load a checkpoint the way llmlit resumes one (its own checkpoint IO, weights_only)."
    from llmlit.run import AtomicCheckpointIO
    return AtomicCheckpointIO().load_checkpoint(p)

@pytest.fixture
def text(tmp_path):
    p = tmp_path/'text.txt'; p.write_text((SHARED/'tinyshakespeare.txt').read_text()[:100_000]); return p

@pytest.mark.skipif(not TMPFS.is_dir(), reason='needs a tmpfs at /dev/shm')
def test_kill_during_checkpoint_writes_keeps_the_previous_one(tmp_path, text):
    "kill -9 at random moments of a run that checkpoints every step: last.ckpt always loads, and resuming continues."
    tmpdir = Path(TMPFS/f'llmlit-test-{os.getpid()}'); tmpdir.mkdir(exist_ok=True)
    assert os.stat(tmpdir).st_dev != os.stat(tmp_path).st_dev, 'TMPDIR must be on another filesystem'
    run_dir, ck = tmp_path/'run', tmp_path/'run/checkpoints/last.ckpt'
    rng, kills, mid_write = random.Random(0), 0, 0
    try:
        for i in range(6):
            args = pretrain_args(text, run_dir, steps=10_000, preset='small',
                                 extra=['--ckpt_path', str(ck)] if ck.exists() else [])
            p = subprocess.Popen([sys.executable, '-c', LAUNCH, *args], cwd=tmp_path, env=env(tmp_path, TMPDIR=str(tmpdir)),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            before = ck.stat().st_mtime_ns if ck.exists() else None
            t0 = time.time()
            while (not ck.exists() or ck.stat().st_mtime_ns == before) and p.poll() is None and time.time() - t0 < 300:
                time.sleep(0.05)    # until this process has written a checkpoint of its own
            assert p.poll() is None, p.stderr.read()[-3000:]
            time.sleep(rng.uniform(0.0, 1.5))    # somewhere in the next writes
            p.send_signal(signal.SIGKILL); p.wait(); kills += 1
            names = [f.name for f in ck.parent.iterdir()]
            mid_write += any(not n.endswith('.ckpt') for n in names)
            for f in ck.parent.glob('*.ckpt'):     # every file under a checkpoint's name is a whole checkpoint
                assert load_ckpt(f)['global_step'] >= 1, f
        assert kills == 6
        step = load_ckpt(ck)['global_step']
        r = llmlit(pretrain_args(text, run_dir, steps=step + 2, preset='small', extra=['--ckpt_path', str(ck)]), tmp_path,
                   TMPDIR=str(tmpdir))
        assert r.returncode == 0, r.stderr[-3000:]
        assert load_ckpt(ck)['global_step'] == step + 2
        print(f'{kills} kills, {mid_write} left a partial temporary file beside the checkpoint; resumed at step {step}')
    finally: shutil.rmtree(tmpdir, ignore_errors=True)

def rows(p:Path)->list[dict]: return list(csv.DictReader(open(p)))

def test_resume_keeps_every_metrics_row(tmp_path, text):
    run_dir, ck = tmp_path/'run', tmp_path/'run/checkpoints/last.ckpt'
    r = llmlit(pretrain_args(text, run_dir, steps=6, every=3), tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    first = rows(run_dir/'metrics.csv')
    steps = [int(x['step']) for x in first if x.get('train_loss')]
    assert steps == list(range(6)), steps
    r = llmlit(pretrain_args(text, run_dir, steps=10, every=3, extra=['--ckpt_path', str(ck)]), tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    after = rows(run_dir/'metrics.csv')
    train = [x for x in after if x.get('train_loss')]
    assert [int(x['step']) for x in train] == list(range(10)), [x['step'] for x in train]
    old = {int(x['step']): x['train_loss'] for x in first if x.get('train_loss')}
    assert all(x['train_loss'] == old[int(x['step'])] for x in train if int(x['step']) < 6), 'earlier rows were rewritten'
    assert sorted(f.name for f in (run_dir/'checkpoints').glob('last*.ckpt')) == ['last.ckpt']

def test_resume_a_copied_run_folder_keeps_one_last_ckpt(tmp_path, text):
    a, b = tmp_path/'a', tmp_path/'b'
    assert llmlit(pretrain_args(text, a, steps=4, every=2), tmp_path).returncode == 0
    shutil.copytree(a, b)
    r = llmlit(pretrain_args(text, b, steps=6, every=2, extra=['--ckpt_path', str(b/'checkpoints/last.ckpt')]), tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert sorted(f.name for f in (b/'checkpoints').glob('last*.ckpt')) == ['last.ckpt']
    assert load_ckpt(b/'checkpoints/last.ckpt')['global_step'] == 6
    assert len([x for x in rows(b/'metrics.csv') if x.get('train_loss')]) == 6
