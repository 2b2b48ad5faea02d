"Any causal LM as a backbone: tiny random transformers models (Llama, Qwen2, GPT-2) through every verb from the command line."
import json, os, shutil, subprocess
from pathlib import Path
import pytest, torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM
from llmlit.backbone import HFCausalLM, load_backbone
from llmlit.classify import LitClassifier, SpamDataModule
from llmlit.data import load_corpus
from llmlit.pretrain import LitCausalLM
from llmlit.tokenizer import train_bpe
from cli_process import run_llmlit

QUIET = ['--trainer.enable_progress_bar', 'false', '--trainer.enable_model_summary', 'false', '--trainer.accelerator', 'cpu']
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}

def tiny_hf(kind:str, vocab_size:int):
    torch.manual_seed(0)
    if kind == 'gpt2':
        return GPT2LMHeadModel(GPT2Config(vocab_size=vocab_size, n_positions=128, n_embd=32, n_layer=2, n_head=2))
    shape = dict(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, max_position_embeddings=128)
    if kind == 'llama': return LlamaForCausalLM(LlamaConfig(**shape, tie_word_embeddings=True))
    return Qwen2ForCausalLM(Qwen2Config(**shape))

@pytest.fixture(scope='module')
def tok():
    "A byte-level BPE of 512 tokens trained on The Verdict: the tiny models' own tokenizer."
    return train_bpe(load_corpus('the-verdict'), vocab_size=512)

@pytest.fixture(scope='module')
def spam_files(tmp_path_factory):
    "120 training and 40 validation messages of the balanced SMS split, as label<TAB>text files."
    d = tmp_path_factory.mktemp('spam')
    dm = SpamDataModule(tokenizer='gpt2'); dm.setup()
    for s, n in (('train', 120), ('val', 40)):
        ex = dm.examples[s]
        (d/f'{s}.tsv').write_text(''.join(f'{l}\t{t}\n' for t, l in list(zip(ex.texts, ex.labels))[:n]))
    return d

def llmlit(*args, cwd=None):
    r = run_llmlit(args, cwd, ENV, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return r

@pytest.mark.parametrize('kind', ['llama', 'qwen2', 'gpt2'])
def test_transformers_backbone_through_every_verb(kind, tok, spam_files, tmp_path):
    folder = tmp_path/kind
    HFCausalLM(tiny_hf(kind, len(tok)), tok).save_pretrained(folder)
    # pretrain: 20 steps from the transformers folder, on the model's own tokenizer (data.tokenizer left unset)
    pre = tmp_path/'pre'
    llmlit('pretrain', '--model.init_from', folder, '--data.source', 'the-verdict', '--data.context_length', 32,
           '--data.batch_size', 4, f'--data.cache_dir={tmp_path/"cache"}', '--trainer.max_steps', 20,
           '--trainer.val_check_interval', 10, '--trainer.limit_val_batches', 4, '--sample.every_n_val', 0,
           '--run_dir', pre, *QUIET)
    s = json.loads((pre/'summary.json').read_text())
    assert s['global_step'] == 20
    assert s['model_weights'] == 'best' and Path(s['model_checkpoint']).is_file()
    cfg = json.loads((pre/'model/config.json').read_text())
    assert cfg['model_type'] == kind and (pre/'model/tokenizer.json').is_file()
    trained = load_backbone(pre/'model')
    assert type(trained.hf).__name__ == type(tiny_hf(kind, 8)).__name__
    # the weights moved, and model/ holds the best checkpoint's
    ids = torch.tensor([tok.encode('I had always thought')])
    with torch.no_grad():
        assert (trained(ids) - load_backbone(folder)(ids)).abs().max() > 1e-3
        lit = LitCausalLM.load_from_checkpoint(s['model_checkpoint'], map_location='cpu').eval()
        assert torch.allclose(lit.model(ids), trained(ids), atol=1e-6)
    # classify: one epoch, the class head on the backbone's hidden states
    clf = tmp_path/'clf'
    llmlit('classify', '--model.backbone', folder, '--model.trainable', 'all', '--model.lr', '1e-3',
           '--data.train_file', spam_files/'train.tsv', '--data.val_file', spam_files/'val.tsv', '--trainer.max_epochs', 1,
           '--run_dir', clf, *QUIET)
    c = json.loads((clf/'summary.json').read_text())
    assert c['epochs'] == 1 and 0 <= c['val_acc'] <= 1 and c['tokenizer'] == str(folder)
    r = llmlit('classify', 'predict', '--model', clf/'model', 'WINNER! Claim your prize now', 'see you at lunch')
    assert [l.split('\t')[0] in ('ham', 'spam') for l in r.stdout.splitlines()] == [True, True]
    # generate: greedy from the pretrained folder, with its tokenizer
    g = llmlit('generate', '--model', pre/'model', '--max_new_tokens', 8, '--temperature', 0, 'I had always')
    assert g.stdout.startswith('I had always') and len(g.stdout) > len('I had always\n')

def test_checkpoints_load_without_their_backbone(tok, tmp_path):
    "A LitCausalLM and a LitClassifier checkpoint, made from a folder that is then deleted, still load (arch + tokenizer)."
    import lightning.pytorch as pl
    folder = tmp_path/'llama'
    HFCausalLM(tiny_hf('llama', len(tok)), tok).save_pretrained(folder)
    lit = LitCausalLM(init_from=str(folder))
    clf = LitClassifier(str(folder), labels=['a', 'b'])
    trainer = pl.Trainer(accelerator='cpu', logger=False, enable_progress_bar=False)
    for m, name in ((lit, 'lm'), (clf, 'clf')):
        trainer.strategy.connect(m)
        trainer.save_checkpoint(tmp_path/f'{name}.ckpt')
    shutil.rmtree(folder)
    ids = torch.tensor([tok.encode('the picture')])
    with torch.no_grad():
        lm2 = LitCausalLM.load_from_checkpoint(tmp_path/'lm.ckpt', map_location='cpu').eval()
        assert torch.equal(lm2.model(ids), lit.eval().model(ids)) and lm2.tokenizer.encode('x y') == tok.encode('x y')
        clf2 = LitClassifier.load_from_checkpoint(tmp_path/'clf.ckpt', map_location='cpu').eval()
        assert torch.equal(clf2(ids), clf.eval()(ids))
    assert clf2.predict('the picture')[0] in ('a', 'b')

def test_classifier_with_adapters_saves_and_loads(tok, tmp_path):
    "LoRA layers injected into the backbone (PEFT) are merged on save; the folder loads without them, same outputs."
    from peft import LoraConfig, inject_adapter_in_model
    folder = tmp_path/'qwen2'
    HFCausalLM(tiny_hf('qwen2', len(tok)), tok).save_pretrained(folder)
    clf = LitClassifier(str(folder), labels=['ham', 'spam'])
    inject_adapter_in_model(LoraConfig(r=4, target_modules=['q_proj', 'v_proj'], init_lora_weights=False), clf.model.hf)
    assert any('lora_A' in k for k in clf.state_dict())
    texts = ['free prize, call now', 'see you at five']
    _, want = clf.predict(texts)
    clf.save_pretrained(tmp_path/'saved')
    back = LitClassifier.from_pretrained(tmp_path/'saved')
    assert not any('lora' in k for k in back.state_dict())
    assert torch.allclose(back.predict(texts)[1], want, atol=1e-5)

GGUF = Path(os.environ.get('LLMLIT_MODELS', Path(__file__).parents[2]/'shared/models'))/'SmolLM2-135M-Instruct.Q4_1.gguf'

@pytest.mark.skipif(not GGUF.exists(), reason='no offline copy of SmolLM2-135M-Instruct')
def test_smollm2_spam_recipe_runs(tmp_path):
    "configs/classify_spam_smollm2.yaml, with the GGUF file as the backbone, for 3 batches: the recipe parses and trains."
    root = Path(__file__).parents[1]
    run = tmp_path/'run'
    llmlit('classify', '--config', root/'configs/classify_spam_smollm2.yaml', '--model.backbone', GGUF,
           '--trainer.max_epochs', 1, '--trainer.limit_train_batches', 3, '--trainer.limit_val_batches', 3,
           '--trainer.limit_test_batches', 3, '--run_dir', run, *QUIET)
    s = json.loads((run/'summary.json').read_text())
    assert s['trainable_params'] == 134_515_008 + 2 * 576 + 2 and s['tokenizer'] == str(GGUF)
    cfg = json.loads((run/'model/config.json').read_text())
    assert cfg['backbone']['config']['model_type'] == 'llama' and (run/'model/tokenizer.json').is_file()
