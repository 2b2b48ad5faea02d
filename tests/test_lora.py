"""LoRA and QLoRA: adapters equal to their base at initialisation, merged equal to unmerged, PEFT parity both ways on
GPT-2- and Llama-shaped models, and every training verb with a `lora:` section (kill -9 and resume included)."""
import copy, csv, json, math, os, subprocess, warnings
from pathlib import Path
import pytest, torch
import torch.nn as nn
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM
from llmlit.backbone import HFCausalLM, load_backbone
from llmlit.lora import apply_lora, load_adapter, lora_layers, merge_lora, merged_copy, save_adapter
from llmlit.model import GPT, GPTConfig, save_hf
from llmlit.sft import read_records
from llmlit.tokenizer import get_tokenizer
from resume import run_killed_and_resumed
from cli_process import run_llmlit

QUIET = ['--trainer.enable_progress_bar', 'false', '--trainer.enable_model_summary', 'false', '--trainer.accelerator', 'cpu']
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}
warnings.filterwarnings('ignore', message='.*kernels')

def hf_gpt2(seed=0):
    torch.manual_seed(seed)
    return GPT2LMHeadModel(GPT2Config(vocab_size=256, n_positions=64, n_embd=32, n_layer=2, n_head=2)).eval()

def hf_llama(seed=0, vocab=256, ctx=64, tie=False, init=0.02):
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=ctx,
                                        tie_word_embeddings=tie, initializer_range=init)).eval()

# the three shapes: llmlit's own GPT (nn.Linear), transformers' GPT-2 (Conv1D), transformers' Llama (grouped-query)
KINDS = {'llmlit-gpt': lambda: GPT(GPTConfig.from_preset('tiny', vocab_size=256, context_length=64)).eval(),
         'hf-gpt2': lambda: HFCausalLM(hf_gpt2()), 'hf-llama': lambda: HFCausalLM(hf_llama())}
IDS = torch.randint(0, 256, (3, 20), generator=torch.Generator().manual_seed(0))

def logits(m, ids=IDS):
    with torch.no_grad(): out = m(ids)
    return getattr(out, 'logits', out)   # transformers and PEFT models return an output object

@pytest.mark.parametrize('kind', KINDS)
def test_init_is_the_base_exactly_and_merge_is_unmerged(kind):
    m = KINDS[kind]()
    want = logits(m)
    rep = apply_lora(m, r=4, alpha=8, dropout=0.1, rslora=kind == 'hf-llama')
    assert rep['layers'] == {'llmlit-gpt': 8, 'hf-gpt2': 8, 'hf-llama': 14}[kind]
    assert rep['trainable'] == sum(p.numel() for n, p in m.named_parameters() if '.lora_' in n) > 0
    assert torch.equal(logits(m), want)                       # B = 0: bit for bit
    for l in lora_layers(m).values(): nn.init.normal_(l.lora_B.weight, std=0.05)
    moved = logits(m)
    assert (moved - want).abs().max() > 1e-3
    for l in lora_layers(m).values(): l.merge(); l.merge()    # idempotent
    assert (logits(m) - moved).abs().max() < 1e-5
    for l in lora_layers(m).values(): l.unmerge()
    assert (logits(m) - moved).abs().max() < 1e-5
    plain = merged_copy(m)
    assert not lora_layers(plain) and (logits(plain) - moved).abs().max() < 1e-5

def _peft(hf, targets, fifo):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return get_peft_model(hf, LoraConfig(r=4, lora_alpha=8, target_modules=targets, fan_in_fan_out=fifo,
                                             init_lora_weights=False)).eval()

@pytest.mark.parametrize('kind', KINDS)
def test_peft_adapters_load_into_llmlit(kind, tmp_path):
    "An adapter PEFT made (random A and B) on the transformers model, loaded into ours: the same logits."
    hf = hf_llama() if kind == 'hf-llama' else hf_gpt2()
    hf.save_pretrained(tmp_path/'base')
    targets = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] if kind == 'hf-llama' \
        else ['c_attn', 'c_proj', 'c_fc']
    peft = _peft(copy.deepcopy(hf), targets, kind != 'hf-llama')
    peft.save_pretrained(tmp_path/'adapter')
    ours = GPT.from_pretrained(tmp_path/'base') if kind == 'llmlit-gpt' else load_backbone(tmp_path/'base')
    rep = load_adapter(ours, tmp_path/'adapter')
    assert rep['layers'] == (14 if kind == 'hf-llama' else 8)
    d = (logits(ours) - logits(peft)).abs().max().item()
    assert d < 1e-5, d
    assert (logits(peft) - logits(hf)).abs().max() > 1e-3   # the adapter changes the model: the check means something

@pytest.mark.parametrize('kind', KINDS)
def test_llmlit_adapters_load_into_peft(kind, tmp_path):
    "Our adapter, saved in PEFT's format, loaded by PeftModel.from_pretrained onto the transformers model: same logits."
    m = KINDS[kind]()
    if kind == 'llmlit-gpt': save_hf(m, tmp_path/'base')
    else: m.hf.save_pretrained(tmp_path/'base')
    apply_lora(m, targets=['c_attn', 'c_fc'] if kind != 'hf-llama' else 'all-linear', r=4, alpha=8,
               rslora=kind == 'hf-gpt2')
    for l in lora_layers(m).values(): nn.init.normal_(l.lora_B.weight, std=0.05)
    save_adapter(m, tmp_path/'adapter', base_model=str(tmp_path/'base'))
    cls = LlamaForCausalLM if kind == 'hf-llama' else GPT2LMHeadModel
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        theirs = PeftModel.from_pretrained(cls.from_pretrained(tmp_path/'base'), tmp_path/'adapter').eval()
    d = (logits(m) - logits(theirs)).abs().max().item()
    assert d < 1e-5, d
    assert (logits(theirs) - logits(cls.from_pretrained(tmp_path/'base').eval())).abs().max() > 1e-3

def test_refuses_what_it_cannot_run(tmp_path):
    hf = hf_llama(); hf.save_pretrained(tmp_path/'base')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        get_peft_model(copy.deepcopy(hf), LoraConfig(r=2, target_modules=['q_proj'], use_dora=True)).save_pretrained(tmp_path/'dora')
    with pytest.raises(ValueError, match="adapter_config.json: use_dora=True is a PEFT option llmlit does not implement"):
        load_adapter(load_backbone(tmp_path/'base'), tmp_path/'dora')
    with pytest.raises(ValueError, match='name no linear layer.*q_proj'):
        apply_lora(load_backbone(tmp_path/'base'), targets=['c_attn'])
    with pytest.raises(FileNotFoundError, match='adapter_config.json: missing'):
        load_adapter(load_backbone(tmp_path/'base'), tmp_path)

# ---- the verbs
@pytest.fixture(scope='module')
def book(): return [r for r, _ in read_records('instruction-data')]

@pytest.fixture(scope='module')
def gpt2(): return get_tokenizer('gpt2')

def llmlit(*args, rc=0):
    r = run_llmlit(args, env=ENV, text=True)
    assert r.returncode == rc, r.stderr[-3000:]
    return r

def _llama_folder(tok, path, ctx=256, init=0.02):
    # init: embeddings of std 0.02 bound the logits of a 32-wide model by |e| |h| ~ 0.6, so adapters alone cannot
    # lower its loss much; wider ones let a frozen random model learn (what the QLoRA test needs)
    HFCausalLM(hf_llama(vocab=tok.vocab_size, ctx=ctx, tie=True, init=init), tok).save_pretrained(path)
    return path

def test_sft_with_lora_writes_adapter_and_merged_model(book, gpt2, tmp_path):
    base = _llama_folder(gpt2, tmp_path/'llama')
    (tmp_path/'d.jsonl').write_text(''.join(json.dumps(e) + '\n' for e in book[300:340]))
    run = tmp_path/'run'
    llmlit('sft', '--model.backbone', base, '--data.path', tmp_path/'d.jsonl', '--data.batch_size', '4',
           '--model.lr', '3e-3', '--model.lora', '{"r": 4, "alpha": 8, "targets": ["q_proj", "v_proj", "down_proj"]}',
           '--trainer.max_epochs', '2', '--responses.limit', '2', '--responses.max_new_tokens', '4', '--run_dir', run, *QUIET)
    s = json.loads((run/'summary.json').read_text())
    assert s['lora']['layers'] == 6 and s['trainable_params'] == s['lora']['trainable'] < s['lora']['total'] / 20
    assert (run/'adapter/adapter_config.json').is_file() and (run/'adapter/adapter_model.safetensors').is_file()
    # checkpoints hold the adapters only (and the tokenizer's files, which are most of this tiny model's 3.6 MB)
    sd = torch.load(run/'checkpoints/last.ckpt', map_location='cpu', weights_only=True)['state_dict']
    assert all('.lora_' in k for k in sd) and sum(t.numel() for t in sd.values()) == s['trainable_params']
    merged = load_backbone(run/'model')
    assert not lora_layers(merged) and type(merged.hf).__name__ == 'LlamaForCausalLM'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        peft = PeftModel.from_pretrained(LlamaForCausalLM.from_pretrained(base), run/'adapter').eval()
    ids = torch.randint(0, gpt2.vocab_size, (2, 12))
    with torch.no_grad():
        d = (merged(ids) - peft(ids).logits).abs().max().item()
        moved = (merged(ids) - load_backbone(base)(ids)).abs().max().item()
    assert d < 1e-5 and moved > 1e-4, (d, moved)
    # the best checkpoint (by val_loss) was merged: its adapter equals the one in adapter/
    llmlit('generate', '--model', run/'model', '--max_new_tokens', '3', '--temperature', '0', 'Hello')

def test_lora_run_killed_mid_epoch_resumes_exactly(book, gpt2, tmp_path):
    "kill -9 inside the first epoch of a LoRA run (adapter dropout on), resume from last.ckpt: the same losses."
    base = _llama_folder(gpt2, tmp_path/'llama')
    (tmp_path/'d.jsonl').write_text(''.join(json.dumps(e) + '\n' for e in book[700:740]))
    common = ['--model.backbone', base, '--data.path', tmp_path/'d.jsonl', '--data.batch_size', '4',
              '--trainer.max_epochs', '2', '--trainer.log_every_n_steps', '1', '--responses.limit', '0',
              '--checkpoint.every_n_train_steps', '2', '--trainer.accumulate_grad_batches', '2', '--model.lr', '3e-3',
              '--model.lora', '{"r": 4, "dropout": 0.1}', *QUIET]
    full, cut, step = run_killed_and_resumed('sft', common, tmp_path)
    assert 0 < step < 5
    assert len(full) == 10
    assert all(str(s) in cut for s in range(step, 10)) and all(full[k] == v for k, v in cut.items())
    assert len({v for v in full.values()}) > 5   # the loss moved

def test_resume_refuses_another_base(book, gpt2, tmp_path):
    base = _llama_folder(gpt2, tmp_path/'llama')
    (tmp_path/'d.jsonl').write_text(''.join(json.dumps(e) + '\n' for e in book[:24]))
    common = ['--data.path', tmp_path/'d.jsonl', '--data.batch_size', '4', '--trainer.max_steps', '2',
              '--responses.limit', '0', '--model.lora', '{"r": 2}', *QUIET]
    llmlit('sft', '--model.backbone', base, *common, '--run_dir', tmp_path/'a')
    HFCausalLM(hf_llama(seed=1, vocab=gpt2.vocab_size, ctx=256, tie=True), gpt2).save_pretrained(base)   # another base, same shape
    r = llmlit('sft', '--model.backbone', base, *common, '--trainer.max_steps', '4', '--run_dir', tmp_path/'a',
               '--ckpt_path', tmp_path/'a/checkpoints/last.ckpt', rc=2)
    assert 'frozen base weights differ' in r.stderr and 'Traceback' not in r.stderr

def test_qlora_trains_through_the_sanity_check(book, gpt2, tmp_path):
    "A 4-bit NF4 base (bitsandbytes on CPU): 50 steps with Lightning's sanity check first, the loss falling."
    base = _llama_folder(gpt2, tmp_path/'llama', init=0.3)
    (tmp_path/'d.jsonl').write_text(''.join(json.dumps(e) + '\n' for e in book[:220]))
    run = tmp_path/'run'
    llmlit('sft', '--model.backbone', base, '--data.path', tmp_path/'d.jsonl', '--data.batch_size', '4',
           '--model.lr', '1e-2', '--model.schedule', 'constant', '--model.lora', '{"r": 8, "quantize": "nf4"}',
           '--trainer.max_steps', '50', '--trainer.log_every_n_steps', '1', '--trainer.num_sanity_val_steps', '2',
           '--trainer.val_check_interval', '25', '--responses.limit', '0', '--run_dir', run, *QUIET)
    rows = [float(r['train_loss']) for r in csv.DictReader(open(run/'metrics.csv')) if r.get('train_loss')]
    assert len(rows) == 50
    first, last = sum(rows[:10]) / 10, sum(rows[-10:]) / 10
    assert last < first - 0.5, (first, last)
    s = json.loads((run/'summary.json').read_text())
    assert s['lora']['quantize'] == 'nf4' and s['lora']['quantized_bytes'] < s['lora']['weight_bytes'] / 5
    merged = load_backbone(run/'model')   # merged into the full-precision base
    assert not lora_layers(merged) and merged.hf.model.layers[0].self_attn.q_proj.weight.dtype == torch.float32

def test_classifier_with_lora_saves_loads_and_predicts_the_same(tmp_path):
    from llmlit.classify import LitClassifier
    sms = tmp_path/'sms.csv'
    rows = [('ham', f'see you at {i} tonight ok?') for i in range(40)] + [('spam', f'WIN {i} cash now! call 0800{i}') for i in range(40)]
    sms.write_text('label,text\n' + ''.join(f'{l},{t}\n' for l, t in rows))
    tok = get_tokenizer('gpt2')
    _llama_folder(tok, tmp_path/'llama')
    run = tmp_path/'run'
    llmlit('classify', '--model.backbone', tmp_path/'llama', '--data.path', sms, '--data.batch_size', '8',
           '--model.lr', '3e-3', '--model.lora', '{"r": 4}', '--trainer.max_epochs', '3', '--run_dir', run, *QUIET)
    s = json.loads((run/'summary.json').read_text())
    assert s['trainable'] == 'lora' and s['test_acc'] > 0.9 and (run/'adapter/adapter_config.json').is_file()
    clf = LitClassifier.from_pretrained(run/'model')
    texts = ['WIN 7 cash now! call 08007', 'see you at 3 tonight ok?', 'call me', 'free cash prize']
    labels, probs = clf.predict(texts)
    again, probs2 = LitClassifier.from_pretrained(run/'model').predict(texts)
    assert labels[:2] == ['spam', 'ham'] and labels == again and torch.allclose(probs, probs2)
    r = llmlit('classify', 'predict', '--model', run/'model', *texts)
    assert [l.split('\t')[0] for l in r.stdout.strip().splitlines()] == labels

def test_continued_pretraining_with_lora(gpt2, tmp_path):
    base = tmp_path/'gpt'
    GPT(GPTConfig.from_preset('nano', vocab_size=gpt2.vocab_size, context_length=64)).save_pretrained(base, tokenizer=gpt2)
    run = tmp_path/'run'
    llmlit('pretrain', '--model.init_from', base, '--data.source', 'the-verdict', '--data.tokenizer', base,
           '--data.context_length', '64', '--data.batch_size', '4', '--model.lora', '{"r": 4, "targets": ["c_attn"]}',
           '--trainer.max_steps', '6', '--trainer.val_check_interval', '3', '--run_dir', run, *QUIET)
    s = json.loads((run/'summary.json').read_text())
    assert s['lora']['layers'] == 4 and (run/'adapter/adapter_model.safetensors').is_file()
    assert GPT.from_pretrained(run/'model').config == GPT.from_pretrained(base).config

@pytest.mark.parametrize('kind', ['llmlit-gpt', 'hf-llama'])
def test_gradient_checkpointing_gives_the_same_gradients(kind):
    "Recomputing activations in backward changes memory, not the loss or the adapters' gradients (dropout included)."
    grads = []
    for ckpt in (False, True):
        torch.manual_seed(0)
        m = KINDS[kind]()
        apply_lora(m, r=4, dropout=0.1)
        for l in lora_layers(m).values(): nn.init.normal_(l.lora_B.weight, std=0.05)
        if ckpt: m.gradient_checkpointing_enable()
        m.train()
        torch.manual_seed(1)
        loss = m(IDS).logsumexp(-1).mean()
        loss.backward()
        grads.append((loss.item(), torch.cat([p.grad.flatten() for p in m.parameters() if p.grad is not None])))
    assert grads[0][0] == grads[1][0] and torch.equal(grads[0][1], grads[1][1])

def test_sft_loss_on_trained_positions_equals_the_full_logits(gpt2):
    "LitSFT applies the LM head to the trained positions only: the same sum and count as the full logits."
    from llmlit.sft import LitSFT, masked_nll, output_head
    m = HFCausalLM(hf_llama(vocab=512, ctx=64, tie=True))
    lit = LitSFT('tiny'); lit.model = m; lit.eval()
    assert output_head(m) is m.hf.lm_head
    ids = torch.randint(0, 512, (3, 30))
    labels = ids.clone(); labels[:, :12] = -100; labels[2, 25:] = -100
    mask = torch.ones_like(ids); mask[0, :4] = 0; labels[0, :4] = -100
    batch = {'input_ids': ids, 'attention_mask': mask, 'labels': labels}
    with torch.no_grad(): full, fast = masked_nll(m(ids, mask), labels), lit._nll(batch)
    assert fast[1] == full[1] and abs(fast[0].item() - full[0].item()) < 1e-3 * full[0].item()
