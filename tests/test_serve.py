"""`llmlit serve` on 127.0.0.1 with SmolLM2, driven by the `openai` client: chat, streaming and completions equal to
`llmlit generate`, 16 clients at once, 400s for bad requests; `llmlit chat` through a real terminal (pexpect)."""
import json, os, socket, subprocess, sys, time
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import pytest

openai = pytest.importorskip('openai')
pexpect = pytest.importorskip('pexpect')
import httpx

MODELS = Path(os.environ.get('LLMLIT_MODELS') or Path(__file__).resolve().parents[2]/'shared/models')
GGUF = MODELS/'SmolLM2-135M-Instruct.Q4_1.gguf'
pytestmark = pytest.mark.skipif(not GGUF.exists(), reason='no offline SmolLM2')
LLMLIT = ['llmlit']

def free_port()->int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def llmlit(*args, **kw):
    r = subprocess.run([*LLMLIT, *map(str, args)], capture_output=True, text=True, timeout=300, **kw)
    assert r.returncode == 0, r.stderr
    return r.stdout

@contextmanager
def running_server(name:str):
    "`llmlit serve` of SmolLM2 as its own process, serving `name`: its base URL once /health answers."
    port = free_port()
    p = subprocess.Popen([*LLMLIT, 'serve', '--model', GGUF, '--port', str(port), '--name', name],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(600):
            if p.poll() is not None: pytest.fail(f'llmlit serve exited: {p.stdout.read()}')
            try:
                if httpx.get(f'{url}/health', timeout=1).status_code == 200: break
            except httpx.HTTPError: time.sleep(0.5)
        else: pytest.fail('llmlit serve did not come up in 5 minutes')
        yield url
    finally: p.terminate(); p.wait(30)

@pytest.fixture(scope='module')
def server():
    with running_server('smol') as url: yield url

@pytest.fixture(scope='module')
def client(server): return openai.OpenAI(base_url=f'{server}/v1', api_key='none', max_retries=0, timeout=300)

Q = 'What is the capital of France?'

def test_models_chat_stream_and_completions_equal_generate(client):
    assert [m.id for m in client.models.list().data] == ['smol']
    r = client.chat.completions.create(model='smol', messages=[{'role': 'user', 'content': Q}], max_tokens=24,
                                       temperature=0)
    answer = r.choices[0].message.content
    assert 'Paris' in answer and r.choices[0].finish_reason == 'stop'
    assert answer == llmlit('generate', '--model', GGUF, '--chat', '--temperature', 0, '--max_new_tokens', 24, Q)[:-1]
    chunks = list(client.chat.completions.create(model='smol', messages=[{'role': 'user', 'content': Q}], max_tokens=24,
                                                 temperature=0, stream=True, stream_options={'include_usage': True}))
    assert ''.join(c.choices[0].delta.content or '' for c in chunks if c.choices) == answer
    assert len(chunks) > 5 and chunks[-1].usage.completion_tokens == r.usage.completion_tokens
    prompt = 'The three primary colours are'
    c = client.completions.create(model='smol', prompt=prompt, max_tokens=16, temperature=0)
    assert c.choices[0].finish_reason == 'length' and c.usage.completion_tokens == 16
    assert prompt + c.choices[0].text == llmlit('generate', '--model', GGUF, '--temperature', 0, '--max_new_tokens', 16,
                                                prompt)[:-1]
    s = client.completions.create(model='smol', prompt=prompt, max_tokens=16, temperature=0, stream=True)
    assert ''.join(x.choices[0].text for x in s) == c.choices[0].text

def test_16_clients_at_once_get_their_own_replies(server, client):
    "Each of 16 concurrent clients gets the reply its question gets alone; the server batched them."
    qs = [f'What is {a} plus {b}?' for a, b in zip(range(1, 17), range(30, 14, -1))]
    ask = lambda q: client.chat.completions.create(model='smol', messages=[{'role': 'user', 'content': q}],
                                                   max_tokens=12, temperature=0).choices[0].message.content
    alone = [ask(q) for q in qs]
    before = httpx.get(f'{server}/health').json()
    with ThreadPoolExecutor(16) as pool: together = list(pool.map(ask, qs))
    after = httpx.get(f'{server}/health').json()
    assert together == alone
    assert len(set(alone)) > 8                       # distinct questions, distinct replies: none crossed over
    assert after['requests'] - before['requests'] == 16 and after['largest_batch'] > 1
    assert after['batches'] - before['batches'] < 16  # batched, not one at a time

def test_bad_requests_get_400s(server, client):
    r = httpx.post(f'{server}/v1/chat/completions', content=b'{"model": "smol", "messages": [', timeout=30,
                   headers={'content-type': 'application/json'})
    assert r.status_code == 400 and 'not valid JSON' in r.json()['error']['message']
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model='gpt-4o', messages=[{'role': 'user', 'content': Q}])
    assert e.value.status_code == 400 and e.value.body['code'] == 'model_not_found' and 'smol' in e.value.body['message']
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model='smol', messages=[{'role': 'user', 'content': Q}], max_tokens=9000)
    assert e.value.body['code'] == 'context_length_exceeded' and '8192' in e.value.body['message']
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model='smol', prompt='Hi', temperature=5)
    assert e.value.body['param'] == 'temperature'
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model='smol', messages=[{'role': 'robot', 'content': Q}])
    assert e.value.body['param'] == 'messages[0].role'

def test_chat_in_a_terminal():
    "Two turns through a real pseudo-terminal, then a third that no longer fits: the oldest turn is dropped, with a notice."
    env = {**os.environ, 'PYTHONUNBUFFERED': '1'}
    cmd = ' '.join(map(str, [*LLMLIT, 'chat', '--model', GGUF, '--temperature', 0, '--max_new_tokens', 24, '--context', 100]))
    child = pexpect.spawn(cmd, env=env, encoding='utf-8', timeout=300, dimensions=(40, 200))
    child.expect('>>> ')
    child.sendline(Q)
    child.expect('>>> ')
    assert 'Paris' in child.before
    child.sendline('And what is the capital of Italy?')
    child.expect('>>> ')
    second = child.before
    assert 'Rome' in second and 'dropped' not in second
    child.sendline('Which of the two cities is bigger?')
    child.expect('>>> ')
    assert 'the oldest turn was dropped' in child.before
    child.sendline('/reset')
    child.expect('conversation reset')
    child.sendline('/exit')
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
