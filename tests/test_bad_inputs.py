"""Bad input, every verb: `llmlit` prints one `error: <message>` naming what is wrong and where, and exits 2 for bad
input or usage, 1 for a failure at run time; never a traceback (unless `--debug`), never exit 0 having done something
wrong. Each case runs the real command in a fresh process, as a user would (forked from one that has imported llmlit
already: `cli_process.py`)."""
import json, os, pickle, re, subprocess, sys, textwrap
from pathlib import Path
import pytest
from cli_process import run_llmlit

SHARED = Path(os.environ.get('LLMLIT_DATA') or Path(__file__).resolve().parents[2]/'shared/data')
PRE = ['--data.tokenizer', 'char', '--model.preset', 'tiny', '--data.context_length', '16', '--data.batch_size', '2',
       '--trainer.max_steps', '2', '--trainer.val_check_interval', '2', '--trainer.limit_val_batches', '1',
       '--trainer.accelerator', 'cpu', '--trainer.enable_progress_bar', 'false', '--trainer.enable_model_summary', 'false',
       '--sample.every_n_val', '0', '--trainer.log_every_n_steps', '1']
CLS = ['--trainer.max_steps', '1', '--trainer.accelerator', 'cpu', '--trainer.enable_progress_bar', 'false',
       '--trainer.enable_model_summary', 'false', '--data.batch_size', '2']

class Evil:
    "A pickle that, if it were ever loaded unsafely, would leave a marker file behind."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (os.system, (f'touch {self.marker}',))

def run(args, cwd, env=None, timeout=300):
    e = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'TOKENIZERS_PARALLELISM': 'false',
         'LLMLIT_CACHE': str(Path(cwd)/'cache'), 'WANDB_MODE': 'offline', 'PYTHONWARNINGS': 'ignore', **(env or {})}
    e.pop('LLMLIT_DEBUG', None) if 'LLMLIT_DEBUG' not in (env or {}) else None
    return run_llmlit(args, cwd, e, timeout)

@pytest.fixture(scope='session')
def d(tmp_path_factory):
    "A folder of inputs, good and bad: texts, tokenizers, models, a classifier, checkpoints, data files."
    import torch
    from llmlit.classify import LitClassifier
    from llmlit.model import GPT, GPTConfig
    from llmlit.tokenizer import get_tokenizer
    d = tmp_path_factory.mktemp('inputs')
    text = (SHARED/'tinyshakespeare.txt').read_text()[:20_000]
    (d/'text.txt').write_text(text)
    (d/'empty.txt').write_text('')
    (d/'binary.txt').write_bytes(bytes(range(256)) * 40)
    (d/'notes.txt').write_text('these are my notes, not a checkpoint\n')
    torch.manual_seed(0)
    tok = get_tokenizer('char', texts=[text])
    GPT(GPTConfig.from_preset('tiny', vocab_size=tok.vocab_size, context_length=32)).save_pretrained(d/'model', tokenizer=tok)
    other = get_tokenizer('char', texts=[text.upper()[:5000] + '0123456789'])   # another text, a vocabulary no larger
    assert other.vocab_size <= tok.vocab_size
    other.save(d/'other_tok')
    GPT(GPTConfig.from_preset('tiny', vocab_size=tok.vocab_size, context_length=32)).save_pretrained(d/'model_other_tok',
                                                                                                    tokenizer=other)
    get_tokenizer('char', texts=[text + ''.join(map(chr, range(0x4e00, 0x4e00 + 200)))]).save(d/'big_tok')
    (d/'model_broken').mkdir(); (d/'model_broken/config.json').write_text((d/'model/config.json').read_text())
    (d/'model_broken/model.safetensors').write_bytes((d/'model/model.safetensors').read_bytes()[:1000])
    (d/'model_evil').mkdir(); (d/'model_evil/config.json').write_text(json.dumps({'model_type': 'gpt2', 'vocab_size': 65,
        'n_positions': 32, 'n_layer': 1, 'n_head': 1, 'n_embd': 8}))
    (d/'model_evil/pytorch_model.bin').write_bytes(pickle.dumps(Evil(d/'PWNED-bin')))
    (d/'no_config').mkdir()
    LitClassifier(str(d/'model'), num_classes=2, labels=['ham', 'spam']).save_pretrained(d/'clf')
    # a real checkpoint, and a truncated copy of it
    r = run(['pretrain', '--data.source', str(d/'text.txt'), *PRE, '--run_dir', str(d/'run')], cwd=d)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    ck = d/'run/checkpoints/last.ckpt'
    (d/'truncated.ckpt').write_bytes(ck.read_bytes()[:len(ck.read_bytes()) // 2])
    torch.save({'state_dict': {}, 'payload': Evil(d/'PWNED-ckpt')}, d/'evil.ckpt')
    # classification files
    rows = [('free entry win cash now', 'spam'), ('see you at dinner', 'ham')] * 12
    def csv(name, body): (d/name).write_text(textwrap.dedent(body))
    (d/'good.csv').write_text('text,label\n' + ''.join(f'{t},{l}\n' for t, l in rows))
    (d/'numeric.csv').write_text('text,label\n' + ''.join(f'{t},{"1" if l == "spam" else "0"}\n' for t, l in rows[:12])
                                 + ''.join(f'{t},{"1.0" if l == "spam" else "0.0"}\n' for t, l in rows[12:]))
    (d/'extra_field.csv').write_text('text,label\n' + ''.join(f'{t},{l}\n' for t, l in rows[:5])
                                     + 'hello there,ham,oops\n' + ''.join(f'{t},{l}\n' for t, l in rows[5:]))
    (d/'few_fields.csv').write_text('text,label\n' + ''.join(f'{t},{l}\n' for t, l in rows[:7]) + 'no label here\n'
                                    + ''.join(f'{t},{l}\n' for t, l in rows[7:]))
    (d/'tiny.csv').write_text('text,label\nfree cash,spam\nhello,ham\n')
    (d/'unbalanced_quote.csv').write_text('text,label\n' + ''.join(f'{t},{l}\n' for t, l in rows[:3])
                                          + '"this quote never ends,spam\n' + ''.join(f'{t},{l}\n' for t, l in rows[3:]))
    (d/'huge_field.csv').write_text('text,label\n' + ''.join(f'{t},{l}\n' for t, l in rows) + '"' + 'a' * 1_200_000 + '",ham\n')
    (d/'empty_label.csv').write_text('text,label\n' + ''.join(f'{t},{l}\n' for t, l in rows[:4]) + 'no label,\n'
                                     + ''.join(f'{t},{l}\n' for t, l in rows[4:]))
    (d/'latin1.csv').write_bytes(('text,label\n' + ''.join(f'{t},{l}\n' for t, l in rows)).encode() + 'caf\xe9,ham\n'.encode('latin-1'))
    (d/'not_objects.jsonl').write_text(''.join(json.dumps({'text': t, 'label': l}) + '\n' for t, l in rows[:3]) + '[1, 2]\n')
    (d/'no_label.jsonl').write_text(''.join(json.dumps({'text': t, 'label': l}) + '\n' for t, l in rows[:3])
                                    + json.dumps({'text': 'where is my label'}) + '\n')
    (d/'data.xlsx').write_text('not really a spreadsheet')
    (d/'val_unseen.csv').write_text('text,label\nhello,ham\nwin,spam\nmaybe,unknown\n')
    (d/'bad.yaml').write_text('model:\n  lr: [unclosed\n')
    # instruction records, and a tiny GPT with GPT-2's tokenizer to finetune on them
    GPT(GPTConfig.from_preset('tiny', vocab_size=50257, context_length=32)).save_pretrained(d/'model_gpt2',
                                                                                           tokenizer=get_tokenizer('gpt2'))
    good = [{'instruction': f'say {w}', 'input': '', 'output': f'{w} to you'} for w in text.split()[:20]]
    (d/'sft_good.json').write_text(json.dumps(good))
    (d/'sft_no_output.json').write_text(json.dumps(good[:3] + [{'instruction': 'say hi', 'input': ''}]))
    (d/'sft_no_instruction.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in good[:4])
                                              + json.dumps({'input': 'a', 'output': 'b'}) + '\n')
    (d/'sft_role.json').write_text(json.dumps(good[:2] + [{'conversations': [{'from': 'robot', 'value': 'beep'}]}]))
    (d/'sft_ends_user.json').write_text(json.dumps([{'messages': [{'role': 'user', 'content': 'hi'},
        {'role': 'assistant', 'content': 'hello'}, {'role': 'user', 'content': 'and'}]}]))
    (d/'sft_empty.json').write_text('[]')
    (d/'sft_empty.jsonl').write_text('\n')
    (d/'sft_not_json.json').write_text('[{"instruction": "a",')
    pref = [{'instruction': f'say {w}', 'input': '', 'chosen': f'{w} to you', 'rejected': 'no'} for w in text.split()[:8]]
    (d/'pref_good.json').write_text(json.dumps(pref))
    (d/'pref_no_rejected.json').write_text(json.dumps(pref[:2] + [{'instruction': 'say hi', 'chosen': 'hi'}]))
    (d/'pref_long.json').write_text(json.dumps([{**pref[1], 'instruction': 'say ' * 40}] * 20))
    return d

def P(*a): return ['pretrain', '--data.source', '{d}/text.txt', *PRE, '--run_dir', '{d}/runs/x', *a]
def C(*a): return ['classify', '--model.backbone', '{d}/model', *CLS, '--run_dir', '{d}/runs/c', *a]
def S(*a): return ['sft', '--model.backbone', '{d}/model_gpt2', *CLS, '--run_dir', '{d}/runs/s', *a]
def D(verb, *a): return [verb, '--model.backbone', '{d}/model_gpt2', *CLS, '--run_dir', '{d}/runs/' + verb, *a]

# (id, args, exit code, regexes the message must match: what is wrong and where)
CASES = [
    # llmlit itself
    ('unknown-verb', ['pretrian'], 2, [r"unknown verb 'pretrian'", 'pretrain']),
    # data
    ('data-unknown-dataset', ['data', 'fetch', 'no-such-set'], 2, ['no-such-set']),
    ('data-show-missing-file', ['data', 'show', '{d}/missing.txt'], 2, ['missing.txt']),
    ('data-no-subcommand', ['data'], 2, ['fetch|list|show']),
    ('data-fetch-offline-no-mirror', ['data', 'fetch', 'the-verdict', '--mirror', '{d}/no_config'], 1,
     ['the-verdict', 'download']),
    # tokenizer
    ('tokenizer-bad-spec', ['tokenizer', 'save', 'bpe:4k', '--out', '{d}/t1'], 2, ["bpe:4k", 'bpe:4096']),
    ('tokenizer-vocab-too-small', ['tokenizer', 'save', 'bpe:10', '--source', '{d}/text.txt', '--out', '{d}/t2'], 2,
     ['vocab_size=10']),
    ('tokenizer-missing-folder', ['tokenizer', 'encode', '{d}/no_such_tok', 'hi'], 2, ['no_such_tok']),
    ('tokenizer-missing-source', ['tokenizer', 'save', 'char', '--source', '{d}/missing.txt', '--out', '{d}/t3'], 2,
     ['missing.txt']),
    ('tokenizer-encode-not-utf8', ['tokenizer', 'encode', '{d}/other_tok', b'caf\xe9'], 2, ['UTF-8']),
    # generate
    ('generate-missing-model', ['generate', '--model', '{d}/no_such_model', 'hi'], 2, ['no_such_model']),
    ('generate-no-config', ['generate', '--model', '{d}/no_config', 'hi'], 2, ['config.json', 'no_config']),
    ('generate-truncated-weights', ['generate', '--model', '{d}/model_broken', 'hi'], 2, ['model_broken']),
    ('generate-unsafe-pickle', ['generate', '--model', '{d}/model_evil', 'hi'], 2, ['pytorch_model.bin']),
    ('generate-prompt-not-utf8', ['generate', '--model', '{d}/model', b'\xff\xfe'], 2, ['prompt', 'UTF-8']),
    ('generate-other-tokenizer', ['generate', '--model', '{d}/model', '--tokenizer', '{d}/other_tok', 'To be'], 2,
     ['other_tok', 'tokenizer']),
    ('generate-tokenizer-too-big', ['generate', '--model', '{d}/model', '--tokenizer', '{d}/big_tok', 'To be'], 2,
     ['tokenizer', r'\d+ tokens']),
    ('generate-negative-temperature', ['generate', '--model', '{d}/model', '--temperature', '-1', 'To be'], 2,
     ['temperature']),
    ('generate-top-p-above-one', ['generate', '--model', '{d}/model', '--top_p', '1.5', 'To be'], 2, ['top_p']),
    ('generate-negative-max-new-tokens', ['generate', '--model', '{d}/model', '--max_new_tokens', '-3', 'To be'], 2,
     ['max_new_tokens']),
    # pretrain
    ('pretrain-missing-source', ['pretrain', '--data.source', '{d}/missing.txt', *PRE], 2, ['missing.txt']),
    ('pretrain-empty-source', ['pretrain', '--data.source', '{d}/empty.txt', *PRE], 2, ['empty']),
    ('pretrain-binary-source', ['pretrain', '--data.source', '{d}/binary.txt', *PRE], 2, ['binary.txt', 'UTF-8']),
    ('pretrain-lr-zero', P('--model.lr', '0'), 2, [r'model\.lr|\blr\b', '> ?0|positive']),
    ('pretrain-min-lr-above-lr', P('--model.lr', '1e-3', '--model.min_lr', '1e-2'), 2, ['min_lr']),
    ('pretrain-sequential-batch-too-big', P('--data.sampling', 'sequential', '--data.batch_size', '100000'), 2,
     ['batch_size', 'windows']),
    ('pretrain-context-longer-than-text', P('--data.context_length', '100000'), 2,
     ['context_length']),
    ('pretrain-val-fraction', P('--data.val_fraction', '1.5'), 2, ['val_fraction']),
    ('pretrain-unknown-option', P('--model.lrr', '0.1'), 2, ['lrr']),
    ('pretrain-missing-config', ['pretrain', '--config', '{d}/missing.yaml'], 2, ['missing.yaml']),
    ('pretrain-bad-yaml', ['pretrain', '--config', '{d}/bad.yaml'], 2, ['bad.yaml']),
    ('pretrain-bad-tokenizer-spec', ['pretrain', '--data.source', '{d}/text.txt', *PRE, '--data.tokenizer', 'bpe:4k'], 2,
     ['bpe:4k']),
    ('pretrain-bad-logger', P('--logger', 'mlflow-ish'), 2, ['logger', 'csv']),
    ('pretrain-ckpt-text-file', P('--ckpt_path', '{d}/notes.txt'), 2, ['notes.txt', 'checkpoint']),
    ('pretrain-ckpt-truncated', P('--ckpt_path', '{d}/truncated.ckpt'), 2, ['truncated.ckpt', 'checkpoint']),
    ('pretrain-ckpt-missing', P('--ckpt_path', '{d}/missing.ckpt'), 2, ['missing.ckpt']),
    ('pretrain-ckpt-unsafe-pickle', P('--ckpt_path', '{d}/evil.ckpt'), 2, ['evil.ckpt']),
    ('pretrain-init-from-other-tokenizer', P('--model.init_from', '{d}/model_other_tok'), 2,
     ['model_other_tok', 'tokenizer']),
    ('pretrain-init-from-missing', P('--model.init_from', '{d}/no_such_model'), 2, ['no_such_model']),
    # classify
    ('classify-extra-field', C('--data.path', '{d}/extra_field.csv'), 2, ['extra_field.csv', 'line 7', '3 fields', '2']),
    ('classify-missing-field', C('--data.path', '{d}/few_fields.csv'), 2, ['few_fields.csv', 'line 9', '1 field']),
    ('classify-split-too-small', C('--data.path', '{d}/tiny.csv'), 2, ['tiny.csv|split', r'\bval', 'empty|no ']),
    ('classify-unbalanced-quote', C('--data.path', '{d}/unbalanced_quote.csv'), 2,
     ['unbalanced_quote.csv', 'line 5', 'quote']),
    ('classify-empty-label', C('--data.path', '{d}/empty_label.csv'), 2, ['empty_label.csv', 'line 6', 'label']),
    ('classify-not-utf8', C('--data.path', '{d}/latin1.csv'), 2, ['latin1.csv', 'UTF-8']),
    ('classify-jsonl-not-object', C('--data.path', '{d}/not_objects.jsonl'), 2, ['not_objects.jsonl', r'\b4\b']),
    ('classify-jsonl-no-label', C('--data.path', '{d}/no_label.jsonl'), 2, ['no_label.jsonl', r'\b4\b', 'label']),
    ('classify-unknown-extension', C('--data.path', '{d}/data.xlsx'), 2, ['data.xlsx']),
    ('classify-missing-file', C('--data.path', '{d}/missing.csv'), 2, ['missing.csv']),
    ('classify-unseen-val-label', C('--data.train_file', '{d}/good.csv', '--data.val_file', '{d}/val_unseen.csv'), 2,
     ['val_unseen.csv', 'unknown']),
    ('classify-missing-text-column', C('--data.path', '{d}/good.csv', '--data.text_column', 'body'), 2,
     ['body', 'good.csv']),
    ('classify-lr-zero', C('--data.path', '{d}/good.csv', '--model.lr', '0'), 2, [r'\blr\b']),
    ('classify-backbone-missing', ['classify', '--model.backbone', '{d}/no_such_model', *CLS, '--data.path', '{d}/good.csv'],
     2, ['no_such_model']),
    ('classify-ckpt-text-file', C('--data.path', '{d}/good.csv', '--ckpt_path', '{d}/notes.txt'), 2,
     ['notes.txt', 'checkpoint']),
    # sft
    ('sft-no-output', S('--data.path', '{d}/sft_no_output.json'), 2, ['sft_no_output.json record 3', "'output'"]),
    ('sft-no-instruction', S('--data.path', '{d}/sft_no_instruction.jsonl'), 2,
     ['sft_no_instruction.jsonl line 5', "'instruction'"]),
    ('sft-unknown-sharegpt-role', S('--data.path', '{d}/sft_role.json', '--data.format', 'chatml'), 2,
     ['sft_role.json record 2', 'robot', 'human, gpt']),
    ('sft-ends-with-user', S('--data.path', '{d}/sft_ends_user.json', '--data.format', 'chatml'), 2,
     ['sft_ends_user.json record 0', 'ends with a user turn']),
    ('sft-empty-file', S('--data.path', '{d}/sft_empty.json'), 2, ['sft_empty.json', 'no records']),
    ('sft-empty-jsonl', S('--data.path', '{d}/sft_empty.jsonl'), 2, ['sft_empty.jsonl', 'no records']),
    ('sft-not-json', S('--data.path', '{d}/sft_not_json.json'), 2, ['sft_not_json.json', 'not JSON']),
    ('sft-missing-file', S('--data.path', '{d}/missing.json'), 2, ['missing.json']),
    ('sft-longer-than-context', S('--data.path', '{d}/sft_good.json', '--data.overflow', 'error'), 2,
     ['sft_good.json record', 'tokens long', 'max_length=32']),
    ('sft-conversation-in-alpaca', S('--data.path', '{d}/sft_ends_user.json'), 2, ['sft_ends_user.json record 0']),
    # preference pairs (dpo, reward)
    ('dpo-no-rejected', D('dpo', '--data.path', '{d}/pref_no_rejected.json'), 2,
     ['pref_no_rejected.json record 2', "'rejected'"]),
    ('dpo-prompt-longer-than-context', D('dpo', '--data.path', '{d}/pref_long.json', '--data.overflow', 'error'), 2,
     ['pref_long.json record 0', 'its prompt alone is', 'max_length=32']),
    ('dpo-unknown-loss', D('dpo', '--data.path', '{d}/pref_good.json', '--model.loss_type', 'kto'), 2,
     ['model.loss_type must be one of sigmoid, ipo, hinge, robust']),
    ('dpo-adapters-without-lora', D('dpo', '--data.path', '{d}/pref_good.json', '--model.reference', 'adapters'), 2,
     ["model.reference='adapters'", 'model.lora']),
    ('reward-not-json', D('reward', '--data.path', '{d}/sft_not_json.json'), 2, ['sft_not_json.json']),
    ('sft-unknown-format', S('--data.path', '{d}/sft_good.json', '--data.format', 'vicuna'), 2, ['data.format', 'chatml']),
    ('sft-unknown-train-on', S('--data.path', '{d}/sft_good.json', '--data.train_on', 'prompt'), 2,
     ['data.train_on', 'completion']),
    ('sft-bad-split', S('--data.path', '{d}/sft_good.json', '--data.split', '[0.9, 0.2, 0.1]'), 2, ['split', 'sum']),
    ('sft-backbone-missing', ['sft', '--model.backbone', '{d}/no_such_model', *CLS], 2, ['no_such_model']),
    ('sft-inspect-missing-config', ['sft', 'inspect', '--config', '{d}/missing.yaml'], 2, ['missing.yaml']),
    ('sft-inspect-unknown-setting', ['sft', 'inspect', '--data.formatt', 'chatml'], 2, ['formatt']),
    # LoRA sections (llmlit.lora)
    ('lora-rank-zero', S('--data.path', '{d}/sft_good.json', '--model.lora', '{"r": 0}'), 2,
     ['model.lora.r must be a positive integer', '0']),
    ('lora-unknown-target', S('--data.path', '{d}/sft_good.json', '--model.lora', '{"targets": ["q_proj"]}'), 2,
     ['model.lora', "'q_proj'", 'c_attn, c_fc, c_proj']),
    ('lora-unknown-quantize', S('--data.path', '{d}/sft_good.json', '--model.lora', '{"quantize": "int4"}'), 2,
     ['model.lora.quantize must be one of nf4, fp4', 'int4']),
    ('lora-unknown-field', S('--data.path', '{d}/sft_good.json', '--model.lora', '{"rank": 8}'), 2, ['rank']),
    ('llama-kv-heads-not-dividing', P('--model.preset', 'llama-tiny', '--model.n_kv_head', '3'), 2,
     ['n_kv_head=3 must divide n_head=4']),
    ('unknown-norm', P('--model.norm', 'batchnorm'), 2, ["GPTConfig.norm must be one of 'layernorm', 'rmsnorm'", 'batchnorm']),
    ('lora-on-a-fresh-model', ['pretrain', '--data.source', '{d}/text.txt', *PRE, '--model.lora', '{"r": 4}'], 2,
     ['model.lora adapts a pretrained model', 'model.init_from']),
    # classify predict
    ('predict-not-a-classifier', ['classify', 'predict', '--model', '{d}/model', 'hello'], 2, ['model', 'classifier']),
    ('predict-missing-model', ['classify', 'predict', '--model', '{d}/no_such_clf', 'hello'], 2, ['no_such_clf']),
    ('predict-empty-text', ['classify', 'predict', '--model', '{d}/clf', ''], 2, ['empty']),
    ('predict-text-not-utf8', ['classify', 'predict', '--model', '{d}/clf', b'caf\xe9'], 2, ['UTF-8']),
    ('predict-missing-file', ['classify', 'predict', '--model', '{d}/clf', '--file', '{d}/missing.txt'], 2, ['missing.txt']),
]

def expand(args, d): return [a if isinstance(a, bytes) else a.replace('{d}', str(d)) for a in args]

@pytest.mark.parametrize('case', CASES, ids=[c[0] for c in CASES])
def test_bad_input(case, d):
    name, args, rc, must = case
    r = run(expand(args, d), cwd=d)
    err = r.stderr.decode(errors='replace')
    assert 'Traceback' not in err, f'{name}: a traceback\n{err[-2000:]}'
    assert r.returncode == rc, f'{name}: exit {r.returncode}, expected {rc}\n{err[-2000:]}'
    line = next((l for l in err.splitlines() if l.startswith('error: ')), None)
    assert line, f'{name}: no "error: " line\n{err[-2000:]}'
    msg = err[err.index('error: '):]
    for pat in must: assert re.search(pat, msg, re.I), f'{name}: the message does not match {pat!r}:\n{msg[:1500]}'
    assert not list(d.glob('PWNED*')), 'an unsafe pickle was executed'

def test_debug_shows_the_traceback(d):
    for extra, env in ((['--debug'], None), ([], {'LLMLIT_DEBUG': '1'})):
        r = run([*extra, 'data', 'fetch', 'no-such-set'], cwd=d, env=env)
        err = r.stderr.decode()
        assert r.returncode == 2 and 'Traceback' in err and 'error: ' in err, err[-1500:]

def test_numerically_equal_labels_are_one_class(d):
    "`1` and `1.0` are the same label: two classes, not four (or a clear refusal naming them)."
    r = run(expand(C('--data.path', '{d}/numeric.csv', '--run_dir', '{d}/runs/numeric'), d), cwd=d)
    err = r.stderr.decode()
    if r.returncode == 0:
        s = json.loads((d/'runs/numeric/summary.json').read_text())
        labels = json.loads((d/'runs/numeric/model/config.json').read_text())['label_names']
        assert len(labels) == 2, labels
    else:
        assert r.returncode == 2 and re.search(r"'1'.*'1\.0'|'1\.0'.*'1'", err), err[-1500:]

def test_huge_field_is_read(d):
    "A 1.2 MB field is text like any other (truncated to the context when tokenized), not a csv field-limit error."
    r = run(expand(C('--data.path', '{d}/huge_field.csv', '--run_dir', '{d}/runs/huge'), d), cwd=d)
    assert r.returncode == 0, r.stderr.decode()[-2000:]

def test_quoted_newlines_come_through(tmp_path):
    "A quoted field holding newlines, quotes, tabs and CRLF is read byte for byte."
    from llmlit.classify import read_rows
    texts = ['line one\nline two\r\nline three', 'a "quoted" word\tand a tab', 'plain']
    import csv
    with open(tmp_path/'q.csv', 'w', newline='') as f:
        w = csv.writer(f); w.writerow(['text', 'label']); [w.writerow([t, 'x']) for t in texts]
    assert [r['text'] for r in read_rows(tmp_path/'q.csv')] == texts
