"""DPO against TRL 1.16, the reference: loss, rewards, accuracies and log-probabilities of `LitDPO` equal
`DPOTrainer.evaluate()`'s on the same pairs (sigmoid, ipo, hinge), on a tiny llmlit GPT (TRL reads it through
`to_hf`, the pairs as strings) and on SmolLM2-135M-Instruct (conversational pairs through its chat template);
and the verbs from the command line."""
import copy, json, os, subprocess, sys, warnings
from pathlib import Path
import pytest, torch
import lightning.pytorch as pl
from llmlit.backbone import load_backbone
from llmlit.dpo import LitDPO, PreferenceDataModule, read_preferences
from llmlit.model import GPT, GPTConfig, to_hf
from llmlit.sft import render
from llmlit.tokenizer import get_tokenizer
from cli_process import run_llmlit

SMOL = Path(os.environ.get('LLMLIT_MODELS', '../shared/models'))/'SmolLM2-135M-Instruct.Q4_1.gguf'
METRICS = ('loss', 'rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins')
warnings.filterwarnings('ignore', message='.*does not have many workers')

def short_pairs(n:int):
    "The `n` shortest distinct pairs among the book's first 200 (the tests stay fast)."
    ps = [p for p in read_preferences('instruction-preference')[:200] if p.chosen.strip() != p.rejected.strip()]
    return sorted(ps, key=lambda p: len(p.instruction + p.input + p.chosen + p.rejected))[:n]

def book_file(pairs, path:Path)->Path:
    rows = [{'instruction': p.instruction, 'input': p.input, 'chosen': p.chosen, 'rejected': p.rejected} for p in pairs]
    path.write_text(json.dumps(rows))
    return path

def ours(lit:LitDPO, data:Path, fmt:str, loss_types)->dict:
    "llmlit's validation metrics of every pair in `data`, per loss type."
    dm = PreferenceDataModule(str(data), format=fmt, tokenizer=lit.tokenizer, val_path=str(data), batch_size=8)
    out = {}
    for lt in loss_types:
        lit.hparams.loss_type = lt
        t = pl.Trainer(accelerator='cpu', logger=False, enable_progress_bar=False, enable_model_summary=False)
        t.validate(lit, dm, verbose=False)
        out[lt] = {k.removeprefix('val_'): v.item() for k, v in t.callback_metrics.items()}
    return out

def trls(policy, reference, tok_hf, rows:list[dict], beta:float, loss_types, tmp:Path)->dict:
    "TRL's `evaluate()` metrics on `rows`, in float32, one batch holding every pair."
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer
    out = {}
    for lt in loss_types:
        args = DPOConfig(output_dir=str(tmp/f'trl-{lt}'), bf16=False, use_cpu=True, report_to=[], beta=beta,
                         loss_type=[lt], per_device_eval_batch_size=len(rows), max_length=None,
                         dataloader_num_workers=0)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            tr = DPOTrainer(model=policy, ref_model=reference, args=args, processing_class=tok_hf,
                            train_dataset=Dataset.from_list(rows), eval_dataset=Dataset.from_list(rows))
            m = tr.evaluate()
        out[lt] = {k.removeprefix('eval_'): v for k, v in m.items()}
    return out

def check(a:dict, b:dict, eps:float=1e-5):
    for lt in a:   # shown with pytest -s: the largest gap per loss type
        print(lt, {k: f'{abs(a[lt][k] - b[lt][k]):.1e}' for k in (*METRICS, 'logps/chosen', 'logps/rejected')})
        for k in METRICS: assert abs(a[lt][k] - b[lt][k]) < eps, (lt, k, a[lt][k], b[lt][k])
        for k in ('logps/chosen', 'logps/rejected'):   # sums of ~30 to 100 log-probabilities: relative
            assert abs(a[lt][k] - b[lt][k]) < 1e-5 * max(1, abs(b[lt][k])), (lt, k, a[lt][k], b[lt][k])

def perturb(model, scale:float, seed:int=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters(): p.add_(torch.randn(p.shape, generator=g) * scale * p.std().clamp(min=1e-3))
    return model

def test_trl_parity_on_a_tiny_gpt(tmp_path):
    tok = get_tokenizer('gpt2')
    torch.manual_seed(0)
    ref = GPT(GPTConfig.from_preset('nano', vocab_size=tok.vocab_size, context_length=256)).eval()
    policy = perturb(copy.deepcopy(ref), 0.3)
    ref.save_pretrained(tmp_path/'ref', tokenizer=tok); policy.save_pretrained(tmp_path/'policy', tokenizer=tok)
    pairs = short_pairs(8)
    rows = []
    for p in pairs:   # TRL's string form: the prompt rendered in the book's format, each answer as llmlit scores it
        r = {w: render(p.conversation(w), 'alpaca', tok) for w in ('chosen', 'rejected')}
        rows.append({'prompt': r['chosen'].prompt, 'chosen': r['chosen'].text[r['chosen'].completion:],
                     'rejected': r['rejected'].text[r['rejected'].completion:]})
    lts, beta = ('sigmoid', 'ipo', 'hinge'), 0.5
    lit = LitDPO(str(tmp_path/'policy'), reference_backbone=str(tmp_path/'ref'), beta=beta)
    a = ours(lit, book_file(pairs, tmp_path/'pairs.json'), 'alpaca', lts)
    b = trls(to_hf(policy, tok).float().eval(), to_hf(ref, tok).float().eval(), tok.hf, rows, beta, lts, tmp_path)
    assert 0 < a['sigmoid']['rewards/accuracies'] < 1 and abs(a['sigmoid']['rewards/margins']) > 1e-3   # not a tie
    check(a, b)

@pytest.mark.skipif(not SMOL.is_file(), reason='SmolLM2 GGUF not found (set LLMLIT_MODELS)')
def test_trl_parity_on_smollm2_through_its_chat_template(tmp_path):
    pairs = short_pairs(4)
    lts, beta = ('sigmoid', 'ipo', 'hinge'), 0.1
    lit = LitDPO(str(SMOL), beta=beta)   # the reference: a frozen copy of the start
    perturb(lit.model, 0.02)             # the policy moved away from it
    rows = [{'prompt': p.messages, 'chosen': [{'role': 'assistant', 'content': p.chosen}],
             'rejected': [{'role': 'assistant', 'content': p.rejected}]} for p in pairs]
    a = ours(lit, book_file(pairs, tmp_path/'pairs.json'), 'model', lts)
    b = trls(lit.model.hf.eval(), lit.reference_model.hf.eval(), lit.model.tokenizer.hf, rows, beta, lts, tmp_path)
    assert abs(a['sigmoid']['rewards/margins']) > 1e-3
    check(a, b)

def test_dpo_and_reward_verbs_from_the_command_line(tmp_path):
    tok = get_tokenizer('gpt2')
    torch.manual_seed(0)
    GPT(GPTConfig.from_preset('nano', vocab_size=tok.vocab_size, context_length=128)).save_pretrained(
        tmp_path/'tiny', tokenizer=tok)
    data = book_file(short_pairs(8), tmp_path/'pairs.json')
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    common = ['--model.backbone', str(tmp_path/'tiny'), '--data.path', str(data), '--data.val_path', str(data),
              '--trainer.max_steps', '2', '--data.batch_size', '4', '--trainer.accelerator', 'cpu',
              '--trainer.enable_progress_bar', 'false', '--trainer.enable_model_summary', 'false']
    r = run_llmlit(['dpo', *common, '--model.lora.r', '4', '--model.lr', '1e-3', '--run_dir', tmp_path/'dpo'],
                   tmp_path, env, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    s = json.loads((tmp_path/'dpo'/'summary.json').read_text())
    assert s['reference'] == 'adapters' and s['global_step'] == 2 and 'val_rewards/accuracies' in s
    assert (tmp_path/'dpo'/'adapter'/'adapter_model.safetensors').is_file()
    r = run_llmlit(['reward', *common, '--model.loss_type', 'ipo', '--run_dir', tmp_path/'bad'], tmp_path, env, text=True)
    assert r.returncode != 0 and 'loss_type' in r.stderr and 'Traceback' not in r.stderr, r.stderr[-2000:]
