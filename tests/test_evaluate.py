"""llmlit.evaluate against lm-eval 0.4 itself: every item's context, per-choice log-likelihoods, chosen answers and
metrics on HellaSwag, MMLU, ARC and TruthfulQA files, on a tiny random model and on SmolLM2; perplexity against lm-eval's
`loglikelihood_rolling`; the `llmlit` model inside lm-eval; the CLI and its errors."""
import csv, json, math, os, subprocess, sys
from pathlib import Path
import pytest
import torch

lm_eval = pytest.importorskip('lm_eval', reason='the parity tests need lm-eval (a dev dependency)')
from llmlit.evaluate import (arc_task, evaluate_task, hellaswag_task, jsonl_task, lm_eval_reference, load_task,
                             mmlu_task, perplexity, truthfulqa_task)
from llmlit.model import GPT, GPTConfig
from llmlit.tokenizer import gpt2_tokenizer
from cli_process import run_llmlit

DATA = Path(os.environ.get('LLMLIT_DATA') or Path(__file__).resolve().parents[2]/'shared/data')
HS = DATA/'mc-sample/hellaswag_train_200.jsonl'
GGUF = Path(os.environ.get('LLMLIT_MODELS', Path(__file__).parents[2]/'shared/models'))/'SmolLM2-135M-Instruct.Q4_1.gguf'
ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture(scope='module')
def tiny():
    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=50257, context_length=1024, n_layer=2, n_head=2, n_embd=32)).eval()
    m.tokenizer = gpt2_tokenizer()
    return m

def compare(ours:dict, ref:dict, metrics, atol=1e-4):
    "Every item's log-likelihoods within `atol`, the same answers, metrics equal to 4 decimals."
    assert ours['n'] == ref['n']
    worst = max(abs(a - b) for o, r in zip(ours['items'], ref['items']) for a, b in zip(o['lls'], r['lls']))
    assert worst < atol, worst
    for o, r in zip(ours['items'], ref['items']):
        lls = r['lls']
        assert o['pred'] == max(range(len(lls)), key=lls.__getitem__), o['id']
    for m in metrics:
        assert round(ours['metrics'][m], 4) == round(ref['metrics'][m], 4), (m, ours['metrics'][m], ref['metrics'][m])
        assert abs(ours['metrics'][f'{m}_stderr'] - ref['metrics'][f'{m}_stderr']) < 1e-6
    return worst

@pytest.mark.skipif(not HS.exists(), reason='no offline HellaSwag sample')
def test_hellaswag_parity_tiny(tiny):
    "All 200 items: lm-eval's own hellaswag task (its process_docs) against llmlit's reader and scorer."
    task = hellaswag_task(HS)
    ours, ref = evaluate_task(tiny, None, task, batch_size=8, progress=False), lm_eval_reference(tiny, task, batch_size=8)
    assert [it.context for it in task.items] == [r['context'] for r in ref['items']]
    worst = compare(ours, ref, ['acc', 'acc_norm'])
    print(f'hellaswag tiny: max |ll diff| {worst:.2e}, {ours["metrics"]}')

@pytest.mark.skipif(not (HS.exists() and GGUF.exists()), reason='no offline SmolLM2 or HellaSwag sample')
def test_hellaswag_parity_smollm2():
    "SmolLM2-135M-Instruct on the first 40 items (bench/eval.py runs all 200 and times both)."
    from llmlit.backbone import load_backbone
    m = load_backbone(GGUF)
    task = hellaswag_task(HS)
    ours = evaluate_task(m, None, task, batch_size=8, limit=40, progress=False)
    ref = lm_eval_reference(m, task, limit=40, batch_size=8)
    worst = compare(ours, ref, ['acc', 'acc_norm'])
    print(f'hellaswag SmolLM2: max |ll diff| {worst:.2e}, {ours["metrics"]}')

def mmlu_files(root:Path):
    "An MMLU subject in the layout of hendrycks' data.tar: data/test and data/dev, no header, answer letters."
    rows = [[f'What is {a} + {b} in Z_7?', *[str((a + b + k) % 7) for k in range(4)], 'ABCD'[(a * b) % 4]]
            for a in range(1, 4) for b in range(2, 6)]
    rows[0][0] = '  Find the order of the group, "S_3".  '   # strip() and a quoted comma
    for split, rs in (('test', rows), ('dev', rows[:5])):
        (root/'data'/split).mkdir(parents=True, exist_ok=True)
        with open(root/'data'/split/f'abstract_algebra_{split}.csv', 'w', newline='') as f: csv.writer(f).writerows(rs)
    return root/'data/test/abstract_algebra_test.csv'

@pytest.mark.parametrize('shots', [0, 2])
def test_mmlu_parity(tiny, tmp_path, shots):
    "lm-eval's mmlu_abstract_algebra (description line, first-n dev shots, letter choices) on a file in MMLU's layout."
    mmlu_files(tmp_path)
    task = load_task('mmlu:abstract_algebra', tmp_path, shots)
    ours = evaluate_task(tiny, None, task, progress=False)
    ref = lm_eval_reference(tiny, task, 'mmlu:abstract_algebra', num_fewshot=shots)
    assert [it.context for it in task.items] == [r['context'] for r in ref['items']]
    compare(ours, ref, ['acc'])

def test_truthfulqa_parity(tiny, tmp_path):
    "MC1 and MC2 from a file in the release's mc_task.json layout (answers mapped to 1/0), against lm-eval's tasks."
    qs = []
    for i in range(10):
        true = [f'The answer is {i}.', f'It is {i}.'][: 1 + i % 2]
        false = [f'The answer is {i + 1}.', 'Nobody knows.', f'It is {i * 3 + 2}, obviously.'][: 2 + i % 2]
        qs.append({'question': f'What is {i} times one?', 'mc1_targets': {true[0]: 1, **{f: 0 for f in false}},
                   'mc2_targets': {**{t: 1 for t in true}, **{f: 0 for f in false}}})
    (tmp_path/'mc_task.json').write_text(json.dumps(qs))
    for which in ('mc1', 'mc2'):
        task = truthfulqa_task(tmp_path/'mc_task.json', which)
        ours, ref = evaluate_task(tiny, None, task, progress=False), lm_eval_reference(tiny, task)
        assert [it.context for it in task.items] == [r['context'] for r in ref['items']]
        compare(ours, ref, ['acc'] if which == 'mc1' else ['mc2'])

def test_arc_parity(tiny, tmp_path):
    "ARC in AI2's JSONL layout, labels A-E and 1-4, against lm-eval's arc_easy."
    recs = []
    for i in range(12):
        labels = ['A', 'B', 'C', 'D', 'E'][: 3 + i % 3] if i % 4 else ['1', '2', '3', '4']
        recs.append({'id': f'q{i}', 'question': {'stem': f'Which gas do plants take in, case {i}?',
                     'choices': [{'text': t, 'label': l} for t, l in zip(['carbon dioxide', 'oxygen', 'helium', 'neon',
                                                                          'argon'], labels)]},
                     'answerKey': labels[i % len(labels)]})
    (tmp_path/'ARC-Easy-Test.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in recs))
    task = load_task('arc_easy', tmp_path)
    ours, ref = evaluate_task(tiny, None, task, progress=False), lm_eval_reference(tiny, task)
    compare(ours, ref, ['acc', 'acc_norm'])

def test_perplexity_parity(tiny):
    "Token, word and byte perplexity and bits per byte of The Verdict equal lm-eval's loglikelihood_rolling figures."
    from lm_eval.api.instance import Instance
    from lm_eval.api.metrics import bits_per_byte, weighted_perplexity
    from lm_eval.models.huggingface import HFLM
    from llmlit.model import to_hf
    text = (DATA/'the-verdict.txt').read_text()
    lm = HFLM(pretrained=to_hf(tiny).eval(), tokenizer=tiny.tokenizer.hf, batch_size=4)
    [ll] = lm.loglikelihood_rolling([Instance('loglikelihood_rolling', {}, (text,), 0)], disable_tqdm=True)
    words, nbytes = len(__import__('re').split(r'\s+', text)), len(text.encode())
    ours = perplexity(tiny, str(DATA/'the-verdict.txt'), batch_size=4)
    ref = {'word_perplexity': weighted_perplexity([(ll, words)]), 'byte_perplexity': weighted_perplexity([(ll, nbytes)]),
           'bits_per_byte': bits_per_byte([(ll, nbytes)])}
    for k, v in ref.items(): assert abs(ours[k] / v - 1) < 1e-4, (k, ours[k], v)
    assert abs(-ours['nll'] / ll - 1) < 1e-5
    slid = perplexity(tiny, str(DATA/'the-verdict.txt'), stride=256, batch_size=4)
    assert slid['tokens'] == ours['tokens'] and slid['nll'] < ours['nll']   # more context per token: lower loss

def test_lm_eval_runs_llmlit_models(tiny, tmp_path):
    "lm-eval with `--model llmlit`: loglikelihood, loglikelihood_rolling and generate_until equal its HF backend's."
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    from llmlit.evaluate import lm_eval_model
    from llmlit.model import to_hf
    tiny.save_pretrained(tmp_path/'model', tiny.tokenizer)
    (tmp_path/'docs.jsonl').write_text(''.join(json.dumps({'text': t, 'q': t[:40]}) + '\n'
                                              for t in (DATA/'the-verdict.txt').read_text().split('\n\n')[:6]))
    base = {'dataset_path': 'json', 'dataset_kwargs': {'data_files': {'test': str(tmp_path/'docs.jsonl')}},
            'test_split': 'test'}
    import yaml
    (tmp_path/'t_roll.yaml').write_text(yaml.safe_dump({**base, 'task': 't_roll', 'output_type': 'loglikelihood_rolling',
        'doc_to_text': '', 'doc_to_target': '{{text}}', 'metric_list': [{'metric': 'word_perplexity'}]}))
    (tmp_path/'t_gen.yaml').write_text(yaml.safe_dump({**base, 'task': 't_gen', 'output_type': 'generate_until',
        'doc_to_text': '{{q}}', 'doc_to_target': '{{text}}', 'metric_list': [{'metric': 'exact_match'}],
        'generation_kwargs': {'until': ['\n', '.'], 'max_gen_toks': 12, 'do_sample': False}}))
    hs = {'include': str(Path(lm_eval.__file__).parent/'tasks/hellaswag/hellaswag.yaml'), 'task': 't_hs',
          'dataset_path': 'json', 'dataset_kwargs': {'data_files': {'validation': str(HS)}}, 'training_split': None}
    (tmp_path/'t_hs.yaml').write_text(yaml.safe_dump(hs))
    tm = TaskManager(include_path=str(tmp_path))
    tasks = ['t_roll', 't_gen', 't_hs']
    lm_eval_model()
    ours = lm_eval.simple_evaluate(model='llmlit', model_args=f'model={tmp_path/"model"},batch_size=4', tasks=tasks,
                                   task_manager=tm, limit=6, log_samples=True)
    ref = lm_eval.simple_evaluate(model=HFLM(pretrained=to_hf(tiny).eval(), tokenizer=tiny.tokenizer.hf, batch_size=4),
                                  tasks=tasks, task_manager=tm, limit=6, log_samples=True)
    o, r = ours['results'], ref['results']
    assert abs(o['t_roll']['word_perplexity,none'] / r['t_roll']['word_perplexity,none'] - 1) < 1e-4
    gen = lambda res: [s['filtered_resps'][0] for s in sorted(res['samples']['t_gen'], key=lambda s: s['doc_id'])]
    assert gen(ours) == gen(ref), (gen(ours), gen(ref))
    lls = lambda res: [x[0][0] for s in sorted(res['samples']['t_hs'], key=lambda s: s['doc_id']) for x in s['resps']]
    assert max(abs(a - b) for a, b in zip(lls(ours), lls(ref))) < 1e-4
    # and from the shell: lm-eval's own CLI, the llmlit model registered and chosen
    r = subprocess.run(['llmlit', 'lm-eval', '--model_args', f'model={tmp_path/"model"}', '--tasks', 't_hs',
                        '--include_path', str(tmp_path), '--limit', '4'], capture_output=True, text=True, timeout=600,
                       env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stderr[-3000:]
    assert '|t_hs' in r.stdout.replace(' ', '') and 'acc_norm' in r.stdout and 'llmlit' in r.stdout, r.stdout

def llmlit(*args, cwd):
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONWARNINGS': 'ignore'}
    return run_llmlit(args, cwd, env, text=True)

def test_eval_cli(tiny, tmp_path):
    "`llmlit eval` writes results.json and results.md with the random band; `llmlit eval ppl` the perplexity."
    tiny.save_pretrained(tmp_path/'model', tiny.tokenizer)
    mmlu_files(tmp_path)
    r = llmlit('eval', '--model', tmp_path/'model', '--tasks', f'hellaswag={HS},mmlu:abstract_algebra', '--data_dir',
               tmp_path, '--limit', 10, '--lm_eval', '--out', tmp_path/'run', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path/'run/results.json').read_text())
    assert [t['task'] for t in res['tasks']] == ['hellaswag', 'mmlu:abstract_algebra'] and res['tasks'][0]['n'] == 10
    for t in res['tasks']:   # --lm_eval: lm-eval's figures on the same items, beside llmlit's
        assert t['lm_eval']['n'] == 10 and round(t['lm_eval']['metrics']['acc'], 4) == round(t['metrics']['acc'], 4)
    md = (tmp_path/'run/results.md').read_text()
    acc_norm = res['tasks'][0]['metrics']['acc_norm']
    assert f'| hellaswag | 10 | acc_norm | {acc_norm:.4f} |' in md and md.count('| 0.2500 |') == 3, md
    assert md.splitlines()[4].endswith(f"| {res['tasks'][0]['lm_eval']['metrics']['acc']:.4f} |"), md
    r = llmlit('eval', 'ppl', '--model', tmp_path/'model', '--data', DATA/'the-verdict.txt', '--out', tmp_path/'ppl',
               cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path/'ppl/results.json').read_text())['perplexity']['tokens'] == 5145

def test_bad_benchmark_files(tiny, tmp_path):
    "A record missing its choices or answer, an answer out of range, an empty file, a context too long: file and record named."
    good = {'context': 'The sky is', 'choices': ['blue', 'green'], 'answer': 0}
    cases = {
        'no_choices.jsonl': ([good, {'context': 'Grass is', 'answer': 1}], "no_choices.jsonl:2: the record has no 'choices'"),
        'no_answer.jsonl': ([good, {'context': 'Grass is', 'choices': ['a', 'b']}], "no_answer.jsonl:2: the record has no 'answer'"),
        'out_of_range.jsonl': ([good, {**good, 'answer': 2}], 'out_of_range.jsonl:2: the answer index 2 is out of range for 2'),
        'empty.jsonl': ([], 'empty.jsonl: the file is empty'),
    }
    for name, (recs, msg) in cases.items():
        (tmp_path/name).write_text(''.join(json.dumps(r) + '\n' for r in recs))
        with pytest.raises(ValueError, match=msg.replace('(', r'\(')): jsonl_task(tmp_path/name)
    (tmp_path/'hs.jsonl').write_text(json.dumps({'ctx_a': 'a', 'ctx_b': 'b', 'activity_label': 'x', 'endings': ['c', 'd'],
                                                 'label': 5}) + '\n')
    with pytest.raises(ValueError, match='hs.jsonl:1: the answer index 5 is out of range'): hellaswag_task(tmp_path/'hs.jsonl')
    (tmp_path/'long.jsonl').write_text(json.dumps(good) + '\n' + json.dumps({**good, 'context': 'word ' * 1100}) + '\n')
    with pytest.raises(ValueError, match="long.jsonl:2: context and longest choice are 1,10.? tokens, more than the model's context of 1,024"):
        evaluate_task(tiny, None, jsonl_task(tmp_path/'long.jsonl'), progress=False)
    r = llmlit('eval', '--model', 'tiny', '--tasks', f'mine={tmp_path/"no_answer.jsonl"}', cwd=tmp_path)
    assert r.returncode == 2 and 'no_answer.jsonl:2' in r.stderr and 'Traceback' not in r.stderr, r.stderr

def test_perplexity_on_two_ddp_processes_equals_one(tiny, tmp_path):
    "`llmlit eval ppl --devices 2 --strategy ddp`: 21 windows split 11/10 (none repeated), the same sums as one process."
    tiny.save_pretrained(tmp_path/'model', tiny.tokenizer)
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONWARNINGS': 'ignore'}
    out = {}
    for name, extra in (('one', []), ('two', ['--devices', '2', '--strategy', 'ddp'])):
        r = subprocess.run(['llmlit', 'eval', 'ppl', '--model', str(tmp_path/'model'), '--data', str(DATA/'the-verdict.txt'),
                            '--context_length', '256', '--out', str(tmp_path/name), *extra], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
        out[name] = json.loads((tmp_path/name/'results.json').read_text())['perplexity']
    one, two = out['one'], out['two']
    assert one['tokens'] == two['tokens'] == 5145 and one['bytes'] == two['bytes'] and one['words'] == two['words']
    assert abs(two['nll'] / one['nll'] - 1) < 1e-6, (one['nll'], two['nll'])

@pytest.mark.skipif(not HS.exists(), reason='no offline HellaSwag sample')
def test_hellaswag_text_form_reads_as_the_jsonl(tmp_path):
    "llama.cpp's hellaswag_val_full.txt layout (context, label, four endings per item) gives the same items."
    task = hellaswag_task(HS)
    (tmp_path/'hellaswag_val_full.txt').write_text(''.join(f'{it.context}\n{it.gold}\n' + ''.join(f'{c}\n' for c in it.choices)
                                                           for it in task.items))
    txt = load_task('hellaswag', tmp_path)
    assert [(i.context, i.choices, i.gold) for i in txt.items] == [(i.context, i.choices, i.gold) for i in task.items]
    (tmp_path/'bad.txt').write_text('a\n0\nb\nc\n')
    with pytest.raises(ValueError, match='bad.txt: 4 lines is not a multiple of 6'): hellaswag_task(tmp_path/'bad.txt')
