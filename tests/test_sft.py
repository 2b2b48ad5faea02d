"""Instruction finetuning: every format and loss mask against independently written references on the book's records,
gradient accumulation against one large batch, the verb end to end on a tiny transformers Llama."""
import csv, json, math, os, subprocess
from pathlib import Path
import pytest, torch
import lightning.pytorch as pl
from transformers import LlamaConfig, LlamaForCausalLM
from llmlit.backbone import HFCausalLM, load_backbone
from llmlit.model import GPT, GPTConfig
from llmlit.sft import TRAIN_ON, InstructionDataModule, LitSFT, load_conversations, read_records, render
from llmlit.sft import to_conversation, tokenize_rendered
from llmlit.tokenizer import get_tokenizer
from resume import run_killed_and_resumed
from cli_process import run_llmlit

MODELS = Path(os.environ.get('LLMLIT_MODELS') or Path(__file__).resolve().parents[2]/'shared/models')
GGUF = MODELS/'SmolLM2-135M-Instruct.Q4_1.gguf'
QUIET = ['--trainer.enable_progress_bar', 'false', '--trainer.enable_model_summary', 'false', '--trainer.accelerator', 'cpu']
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}

@pytest.fixture(scope='module')
def book(): return [r for r, _ in read_records('instruction-data')]

@pytest.fixture(scope='module')
def gpt2(): return get_tokenizer('gpt2')

@pytest.fixture(scope='module')
def smol():
    if not GGUF.exists(): pytest.skip(f'{GGUF} is not here')
    return get_tokenizer(str(GGUF))

# ---- references, written from the sources' own descriptions, not from llmlit.sft
def book_prompt(e):   # rasbt/LLMs-from-scratch ch07: format_input, then the response header
    text = ('Below is an instruction that describes a task. Write a response that appropriately completes the request.'
            f"\n\n### Instruction:\n{e['instruction']}")
    return text + (f"\n\n### Input:\n{e['input']}" if e['input'] else '') + '\n\n### Response:\n'

STANFORD = {   # tatsu-lab/stanford_alpaca train.py PROMPT_DICT
    'prompt_input': ('Below is an instruction that describes a task, paired with an input that provides further context. '
                     'Write a response that appropriately completes the request.\n\n'
                     '### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:'),
    'prompt_no_input': ('Below is an instruction that describes a task. Write a response that appropriately completes '
                        'the request.\n\n### Instruction:\n{instruction}\n\n### Response:'),
}
def stanford_prompt(e): return STANFORD['prompt_input' if e['input'] else 'prompt_no_input'].format_map(e)

def alpaca_reference(e, tok, prompt_fn, train_on):
    "Prompt ids, response ids, end-of-text: the response (and end-of-text) trained unless train_on='all' trains all."
    p, r = tok.encode(prompt_fn(e)), tok.encode(e['output'])
    ids = p + r + [tok.eos_id]
    labels = ids[:] if train_on == 'all' else [-100] * len(p) + r + [tok.eos_id]
    return ids, labels

def chatml_reference(messages, tok, train_on):
    "Turn by turn: <|im_start|>, role and newline, content, <|im_end|>, newline; each piece trained or not."
    start, end = tok.encode('<|im_start|>'), tok.encode('<|im_end|>')
    last = max(i for i, m in enumerate(messages) if m['role'] == 'assistant')
    ids, labels = [], []
    for i, m in enumerate(messages):
        asst = m['role'] == 'assistant'
        pieces = [(start + tok.encode(m['role'] + '\n'), False), (tok.encode(m['content']) + end, asst), (tok.encode('\n'), False)]
        for n, (p, trained) in enumerate(pieces):
            on = {'all': True, 'assistant': trained, 'last': trained and i == last,
                  'completion': i == last and n > 0}[train_on]
            ids += p; labels += p if on else [-100] * len(p)
    return ids, labels

def chained(book, n=3, start=0):
    "A real multi-turn conversation: n consecutive book records as the turns of one chat."
    msgs = [{'role': 'system', 'content': 'You are a helpful assistant.'}]
    for e in book[start:start + n]:
        msgs += [{'role': 'user', 'content': e['instruction'] + (f"\n\n{e['input']}" if e['input'] else '')},
                 {'role': 'assistant', 'content': e['output']}]
    return to_conversation({'messages': msgs}, f'chain {start}')

@pytest.mark.parametrize('train_on', TRAIN_ON)
@pytest.mark.parametrize('fmt,prompt_fn', [('alpaca', book_prompt), ('alpaca-stanford', stanford_prompt)])
def test_alpaca_masks_match_reference(fmt, prompt_fn, train_on, book, gpt2):
    same = 0
    for i, e in enumerate(book[:200]):
        ours = tokenize_rendered(render(to_conversation(e), fmt), gpt2, train_on)
        ids, labels = alpaca_reference(e, gpt2, prompt_fn, train_on)
        assert gpt2.decode(ours['input_ids']) == gpt2.decode(ids), i
        if ours['input_ids'] != ids:   # pieces tokenized apart differ from the whole where they meet: ours is the whole
            assert ours['input_ids'] == gpt2.encode(prompt_fn(e) + e['output']) + [gpt2.eos_id]
            continue
        same += 1
        assert ours['labels'] == labels, (i, e)
    assert same >= 190, same   # at most a few records whose boundary merges into one token

def test_alpaca_text_is_the_books_byte_for_byte(book):
    for e in book[:3]: assert render(to_conversation(e)).text == book_prompt(e) + e['output']
    with_input = next(e for e in book if e['input'])
    assert render(to_conversation(with_input), 'alpaca-stanford').text == stanford_prompt(with_input) + with_input['output']

@pytest.mark.parametrize('train_on', TRAIN_ON)
def test_chatml_masks_match_reference(train_on, book, smol):
    convs = [chained(book, 3, s) for s in range(0, 60, 3)] + [to_conversation(e) for e in book[60:100]]
    for c in convs:
        ours = tokenize_rendered(render(c, 'chatml'), smol, train_on)
        ids, labels = chatml_reference(c.messages, smol, train_on)
        assert ours['input_ids'] == ids, c.where
        assert ours['labels'] == labels, (c.where, train_on)

@pytest.mark.parametrize('train_on', TRAIN_ON)
def test_model_template_masks_match_reference(train_on, book, smol):
    "SmolLM2's template is ChatML with a default system message: the reference is ChatML with that message first."
    default = 'You are a helpful AI assistant named SmolLM, trained by Hugging Face'
    for c in [chained(book, 2, s) for s in range(100, 120, 2)] + [to_conversation(e) for e in book[120:150]]:
        r = render(c, 'model', smol)
        assert r.text == smol.hf.apply_chat_template(c.messages, tokenize=False)   # transformers' own string
        msgs = c.messages if c.messages[0]['role'] == 'system' else [{'role': 'system', 'content': default}] + c.messages
        ours = tokenize_rendered(r, smol, train_on)
        ids, labels = chatml_reference(msgs, smol, train_on)
        assert (ours['input_ids'], ours['labels']) == (ids, labels), (c.where, train_on)

def test_multiturn_chatml_trains_exactly_its_assistant_turns(book, smol):
    c = chained(book, 3, 200)
    rec = tokenize_rendered(render(c, 'chatml'), smol, 'assistant')
    runs, cur = [], []
    for i, l in zip(rec['input_ids'], rec['labels']):
        if l != -100: cur.append(i)
        elif cur: runs.append(smol.decode(cur)); cur = []
    if cur: runs.append(smol.decode(cur))
    assert runs == [m['content'] + '<|im_end|>' for m in c.messages if m['role'] == 'assistant']
    im_end = smol.encode('<|im_end|>')[0]
    assert sum(1 for i, l in zip(rec['input_ids'], rec['labels']) if l == im_end) == 3           # each turn's own
    assert sum(1 for i, l in zip(rec['input_ids'], rec['labels']) if i == im_end and l == -100) == 4   # system, users

def tiny_llama(tok, ctx=512):
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=ctx,
                                        tie_word_embeddings=True))

class Grads(pl.Callback):
    def on_before_optimizer_step(self, trainer, module, optimizer):
        self.g = torch.cat([p.grad.flatten() for p in module.parameters() if p.grad is not None])

@pytest.mark.parametrize('kind', ['gpt', 'llama'])
def test_gradient_accumulation_equals_one_large_batch(kind, book, gpt2, tmp_path):
    if kind == 'gpt':
        GPT(GPTConfig.from_preset('nano', vocab_size=gpt2.vocab_size, context_length=256)).save_pretrained(
            tmp_path/'m', tokenizer=gpt2)
    else: HFCausalLM(tiny_llama(gpt2), gpt2).save_pretrained(tmp_path/'m')
    recs = book[300:308]
    (tmp_path/'eight.jsonl').write_text(''.join(json.dumps(e) + '\n' for e in recs))
    lengths = [len(tokenize_rendered(render(to_conversation(e)), gpt2)['input_ids']) for e in recs]
    assert len(set(lengths)) > 4   # records of different lengths

    def grads(batch_size, accumulate):
        pl.seed_everything(0, verbose=False)
        dm = InstructionDataModule(str(tmp_path/'eight.jsonl'), tokenizer='gpt2', val_path=str(tmp_path/'eight.jsonl'),
                                   batch_size=batch_size)
        cb = Grads()
        t = pl.Trainer(max_steps=1, accumulate_grad_batches=accumulate, logger=False, callbacks=[cb], accelerator='cpu',
                       enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                       limit_val_batches=0)
        t.fit(LitSFT(str(tmp_path/'m'), dropout=0.0), dm)
        return cb.g
    big, acc, pairs = grads(8, 1), grads(2, 4), grads(4, 2)
    assert (big - acc).abs().max() < 1e-6 and (big - pairs).abs().max() < 1e-6
    assert big.abs().max() > 1e-3

def llmlit(*args, cwd=None, rc=0):
    r = run_llmlit(args, cwd, ENV, text=True)
    assert r.returncode == rc, r.stderr[-3000:]
    return r

def test_sft_verb_end_to_end(book, smol, tmp_path):
    HFCausalLM(tiny_llama(smol), smol).save_pretrained(tmp_path/'llama')
    chats = [{'messages': chained(book, 2, s).messages} for s in range(400, 448, 2)]
    (tmp_path/'chats.jsonl').write_text(''.join(json.dumps(c) + '\n' for c in chats))
    cfg = tmp_path/'sft.yaml'
    cfg.write_text(f'model:\n  backbone: {tmp_path/"llama"}\n  lr: 0.003\ndata:\n  path: {tmp_path/"chats.jsonl"}\n'
                   '  format: model\n  train_on: assistant\n  split: [0.75, 0.125, 0.125]\n  batch_size: 4\n'
                   '  group_by_length: true\ntrainer:\n  max_epochs: 3\nresponses:\n  max_new_tokens: 6\n')
    shown = llmlit('sft', 'inspect', '--config', cfg, '--n', '1').stdout
    assert '<|im_start|>assistant\n{+' in shown and '<|im_end|>+}' in shown and 'train: 18 records' in shown
    assert 'max_length=512 ' in shown   # the backbone's context, read from its config
    run = tmp_path/'run'
    llmlit('sft', '--config', cfg, '--run_dir', run, *QUIET)
    s = json.loads((run/'summary.json').read_text())
    assert s['global_step'] == 15 and s['epochs'] == 3 and s['data']['train']['records'] == 18
    assert s['test_loss'] < math.log(smol.vocab_size) - 0.5 and 0 <= s['train_pad_share'] < 1   # it learned
    rows = [json.loads(l) for l in (run/'responses.jsonl').read_text().splitlines()]
    assert len(rows) == 3 and all(r['prompt'].endswith('<|im_start|>assistant\n') for r in rows)
    assert [r['reference'] for r in rows] == [c['messages'][-1]['content'] for c in chats[18:21]]
    m = load_backbone(run/'model')
    assert type(m.hf).__name__ == 'LlamaForCausalLM' and m.tokenizer.vocab_size == smol.vocab_size
    g = llmlit('generate', '--model', run/'model', '--chat', '--max_new_tokens', '4', '--temperature', '0', 'Hi')
    assert g.returncode == 0

def test_sft_resumes_from_its_checkpoint(book, gpt2, tmp_path):
    GPT(GPTConfig.from_preset('nano', vocab_size=gpt2.vocab_size, context_length=256)).save_pretrained(tmp_path/'m',
                                                                                                       tokenizer=gpt2)
    (tmp_path/'d.jsonl').write_text(''.join(json.dumps(e) + '\n' for e in book[500:540]))
    common = ['--model.backbone', tmp_path/'m', '--data.path', tmp_path/'d.jsonl', '--data.batch_size', '4',
              '--trainer.max_epochs', '2', '--trainer.log_every_n_steps', '1', '--responses.limit', '0',
              '--model.schedule', 'constant', *QUIET]   # the same schedule whatever the number of epochs
    llmlit('sft', *common, '--run_dir', tmp_path/'full')
    llmlit('sft', *common, '--trainer.max_epochs', '1', '--run_dir', tmp_path/'half')
    llmlit('sft', *common, '--run_dir', tmp_path/'half', '--ckpt_path', tmp_path/'half/checkpoints/last.ckpt')
    loss = lambda d: [(r['step'], r['train_loss']) for r in csv.DictReader(open(d/'metrics.csv')) if r.get('train_loss')]
    full, half = loss(tmp_path/'full'), loss(tmp_path/'half')
    assert len(full) == 18 and full == half

def test_records_from_folders_jsonl_and_datasets(book, tmp_path):
    d = tmp_path/'data'; d.mkdir()
    (d/'a.json').write_text(json.dumps(book[:3]))
    (d/'b.jsonl').write_text(''.join(json.dumps({'conversations': [{'from': 'human', 'value': e['instruction']},
                                                                   {'from': 'gpt', 'value': e['output']}]}) + '\n'
                                     for e in book[3:5]))
    convs = load_conversations(d)
    assert [c.where for c in convs] == ['a.json record 0', 'a.json record 1', 'a.json record 2', 'b.jsonl line 1',
                                        'b.jsonl line 2']
    assert convs[3].messages == [{'role': 'user', 'content': book[3]['instruction']},
                                 {'role': 'assistant', 'content': book[3]['output']}]
    # hf: goes through Hugging Face datasets (here a local folder of JSON Lines, which it reads offline)
    h = tmp_path/'hf'; h.mkdir()
    (h/'train.jsonl').write_text(''.join(json.dumps(e) + '\n' for e in book[:4]))
    via_hf = load_conversations(f'hf:{h}')
    assert [c.messages for c in via_hf] == [c.messages for c in load_conversations(h/'train.jsonl')]
    assert via_hf[1].where == f'hf:{h} row 1'

def test_ddp_on_two_processes_equals_accumulation(book, gpt2, tmp_path):
    """2 ranks x batch 2 train the same weights as 1 process accumulating 2 x batch 2 (and, to Adam's rounding, as
    batch 4): the loss is divided by the trained tokens of all ranks."""
    from safetensors.torch import load_file
    GPT(GPTConfig.from_preset('nano', vocab_size=gpt2.vocab_size, context_length=256)).save_pretrained(tmp_path/'m',
                                                                                                       tokenizer=gpt2)
    (tmp_path/'d.jsonl').write_text(''.join(json.dumps(e) + '\n' for e in book[600:620]))
    common = ['--model.backbone', tmp_path/'m', '--data.path', tmp_path/'d.jsonl', '--data.val_path', tmp_path/'d.jsonl',
              '--trainer.max_steps', '4', '--model.lr', '1e-3', '--responses.limit', '0',
              '--trainer.num_sanity_val_steps', '0', *QUIET]
    runs = {'one': ['--data.batch_size', '4'], 'acc': ['--data.batch_size', '2', '--trainer.accumulate_grad_batches', '2'],
            'ddp': ['--data.batch_size', '2', '--trainer.devices', '2', '--trainer.strategy', 'ddp']}
    w = {}
    for name, args in runs.items():
        llmlit('sft', *common, *args, '--run_dir', tmp_path/name)
        w[name] = load_file(tmp_path/name/'model/model.safetensors')
    diff = lambda a, b: max((w[a][k] - w[b][k]).abs().max().item() for k in w[a])
    start = load_file(tmp_path/'m/model.safetensors')
    assert max((w['one'][k] - start[k]).abs().max().item() for k in start) > 1e-3   # it trained
    assert diff('ddp', 'acc') < 1e-6
    assert diff('ddp', 'one') < 1e-4   # the same gradients up to float rounding, which Adam's 1/sqrt(v) amplifies

def test_killed_mid_epoch_resumes_exactly(book, gpt2, tmp_path):
    "kill -9 inside the first epoch, resume from last.ckpt: the same batches follow, and the same losses are logged."
    GPT(GPTConfig.from_preset('nano', vocab_size=gpt2.vocab_size, context_length=256)).save_pretrained(tmp_path/'m',
                                                                                                       tokenizer=gpt2)
    (tmp_path/'d.jsonl').write_text(''.join(json.dumps(e) + '\n' for e in book[700:740]))
    common = ['--model.backbone', tmp_path/'m', '--data.path', tmp_path/'d.jsonl', '--data.batch_size', '4',
              '--trainer.max_epochs', '2', '--trainer.log_every_n_steps', '1', '--responses.limit', '0',
              '--checkpoint.every_n_train_steps', '2', '--trainer.accumulate_grad_batches', '2',
              '--model.dropout', '0.1', *QUIET]   # dropout: the RNG resumes too
    full, cut, step = run_killed_and_resumed('sft', common, tmp_path)
    assert 0 < step < 5   # inside the first epoch (5 optimizer steps of 2 batches)
    assert len(full) == 10
    # every step from the checkpoint on is logged again, identically; a row the kill caught unwritten may be missing before
    assert all(str(s) in cut for s in range(step, 10)) and all(full[k] == v for k, v in cut.items())
