"Shared by the SFT and LoRA tests: one run whole, one killed with SIGKILL at its first checkpoint and resumed."
import csv, os, signal, subprocess, time
import torch
from cli_process import run_llmlit

ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}

def run_killed_and_resumed(verb:str, common:list, tmp_path)->tuple[dict, dict, int]:
    """`llmlit verb *common` into tmp_path/full; the same into tmp_path/cut, killed with SIGKILL once
    `last.ckpt` exists, then resumed from it. Returns the train losses by step of both, and the killed step."""
    def llmlit(*args):
        r = run_llmlit([verb, *args], env=ENV, text=True)
        assert r.returncode == 0, r.stderr[-3000:]
    llmlit(*common, '--run_dir', tmp_path/'full')
    ck = tmp_path/'cut/checkpoints/last.ckpt'
    p = subprocess.Popen(['llmlit', verb, *map(str, common), '--run_dir', str(tmp_path/'cut')], env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not ck.exists() and p.poll() is None and time.time() - t0 < 300: time.sleep(0.05)
    assert p.poll() is None, p.stderr.read()[-3000:]
    p.send_signal(signal.SIGKILL); p.wait()
    step = torch.load(ck, map_location='cpu', weights_only=True)['global_step']
    llmlit(*common, '--run_dir', tmp_path/'cut', '--ckpt_path', ck)
    loss = lambda d: {r['step']: r['train_loss'] for r in csv.DictReader(open(d/'metrics.csv')) if r.get('train_loss')}
    return loss(tmp_path/'full'), loss(tmp_path/'cut'), step
