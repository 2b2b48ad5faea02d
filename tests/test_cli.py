"The `llmlit` command: fast help, version, verbs, clear errors."
import os, subprocess, sys, time
import llmlit

def run(*args, **kw):
    return subprocess.run(['llmlit', *args], capture_output=True, text=True, **kw)

def test_help_is_fast_and_lists_verbs():
    run('--help')   # warm the file cache
    t = time.time(); r = run('--help'); dt = time.time() - t
    assert r.returncode == 0 and 'verbs:' in r.stdout
    for verb in ['data', 'tokenizer']: assert f'\n  {verb} ' in r.stdout
    assert dt < 2, f'llmlit --help took {dt:.2f}s'

def test_version():
    r = run('--version')
    assert r.returncode == 0 and r.stdout.strip() == f'llmlit {llmlit.__version__}'

def test_unknown_verb_lists_the_verbs():
    r = run('pretrian')
    assert r.returncode == 2 and "unknown verb 'pretrian'" in r.stderr and 'data, tokenizer' in r.stderr

def test_cli_module_imports_nothing_heavy():
    code = 'import sys, llmlit.cli; print(sorted(m for m in ("torch", "lightning", "transformers") if m in sys.modules))'
    assert subprocess.run([sys.executable, '-c', code], capture_output=True, text=True).stdout.strip() == '[]'

def test_data_fetch_prints_verified_path():
    r = run('data', 'fetch', 'the-verdict', 'sms-spam')
    assert r.returncode == 0, r.stderr
    paths = r.stdout.split()
    assert paths[0].endswith('the-verdict.txt') and paths[1].endswith('SMSSpamCollection.tsv')
    assert len(open(paths[1], encoding='utf-8').read().splitlines()) == 5574

def test_data_errors_are_one_line_not_tracebacks(tmp_path):
    r = run('data', 'fetch', 'no-such-set')   # bad input: exit code 2
    assert r.returncode == 2 and r.stderr.startswith('error: Unknown dataset') and 'Known datasets:' in r.stderr
    assert 'Traceback' not in r.stderr
    r = run('data', 'show', str(tmp_path/'*.txt'))
    assert r.returncode == 2 and r.stderr.startswith('error: ') and 'matched no files' in r.stderr

def test_tokenizer_save_and_encode(tmp_path):
    r = run('tokenizer', 'save', 'char', '--source', 'the-verdict', '--out', str(tmp_path/'tok'))
    assert r.returncode == 0, r.stderr
    r = run('tokenizer', 'encode', str(tmp_path/'tok'), 'I HAD')
    assert r.returncode == 0 and r.stdout.splitlines()[1] == "['I', ' ', 'H', 'A', 'D']"
