"""`llmlit` commands in fresh processes without paying for the imports each time: every command runs in its own process,
forked from a server process that imported llmlit's verbs once (importing Lightning takes 6 s of each command
otherwise). The child has its own working directory, environment, stdout and stderr, and exits with `main`'s code,
so a test sees what a user's shell would."""
import multiprocessing as mp, os, shutil, subprocess, sys, tempfile, warnings
from pathlib import Path

PRELOAD = ['llmlit.cli', 'llmlit.pretrain', 'llmlit.classify', 'llmlit.sft', 'llmlit.dpo']
_ctx = None

def _context():
    global _ctx
    if _ctx is None:
        _ctx = mp.get_context('forkserver')
        _ctx.set_forkserver_preload(PRELOAD)
    return _ctx

def _child(args, cwd, env, out, err):
    os.chdir(cwd)
    sys.argv = [shutil.which('llmlit') or 'llmlit', *args]   # what Lightning's DDP launcher runs again per rank
    os.environ.clear(); os.environ.update(env)
    tempfile.tempdir = None   # $TMPDIR is read again
    if env.get('PYTHONWARNINGS') == 'ignore': warnings.simplefilter('ignore')
    for fd, path in ((1, out), (2, err)):
        f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC); os.dup2(f, fd); os.close(f)
    from llmlit.cli import main
    try: code = main(args)
    finally: sys.stdout.flush(); sys.stderr.flush()
    sys.exit(code)

def run_llmlit(args, cwd=None, env:dict|None=None, timeout:float=600, text:bool=False)->subprocess.CompletedProcess:
    """`llmlit *args` in `cwd` (default: this one) with environment `env` (default: this one): exit code, stdout and
    stderr, as `subprocess.run(..., capture_output=True)` gives them (bytes, or str with `text`)."""
    args = [os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in args]   # what sys.argv would hold
    cwd, env = cwd or os.getcwd(), os.environ if env is None else env
    with tempfile.TemporaryDirectory() as t:
        out, err = Path(t)/'out', Path(t)/'err'
        p = _context().Process(target=_child, args=(args, str(cwd), dict(env), str(out), str(err)))
        p.start(); p.join(timeout)
        if p.is_alive():
            p.kill(); p.join()
            raise subprocess.TimeoutExpired(['llmlit', *args], timeout)
        o, e = (f.read_bytes() if f.exists() else b'' for f in (out, err))
    if text: o, e = o.decode(errors='replace'), e.decode(errors='replace')
    return subprocess.CompletedProcess(['llmlit', *args], p.exitcode, o, e)
