"Parity with transformers' GPT-2: logits, weights both ways, greedy generation; KV cache = no cache."
import pytest, torch
from transformers import GPT2Config, GPT2LMHeadModel
from llmlit.generate import generate
from llmlit.model import GPT, GPTConfig, to_hf, save_hf

@pytest.fixture(scope='module')
def hf_dir(tmp_path_factory):
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=1000, n_positions=128, n_embd=64, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0)
    hf = GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():   # random biases and norms too, so that every tensor is checked
        for n, p in hf.named_parameters():
            if n.endswith('bias') or 'ln_' in n: p.add_(torch.randn_like(p) * 0.1)
    d = tmp_path_factory.mktemp('hf-gpt2')
    hf.save_pretrained(d, safe_serialization=True)
    return d, hf

def test_logits_match_transformers(hf_dir):
    d, hf = hf_dir
    ours = GPT.from_pretrained(d)
    x = torch.randint(0, 1000, (3, 50))
    with torch.no_grad(): ref, got = hf(x).logits, ours(x)
    assert (ref - got).abs().max() < 1e-4
    with torch.no_grad(): back = to_hf(ours)(x).logits
    assert (ref - back).abs().max() < 1e-4

def test_bin_checkpoint_loads_with_weights_only(hf_dir, tmp_path):
    d, hf = hf_dir
    (tmp_path/'config.json').write_text((d/'config.json').read_text())
    torch.save(hf.state_dict(), tmp_path/'pytorch_model.bin')     # the pre-safetensors format
    x = torch.randint(0, 1000, (1, 20))
    with torch.no_grad(): assert (GPT.from_pretrained(tmp_path)(x) - hf(x).logits).abs().max() < 1e-4
    torch.save({'w': Evil()}, tmp_path/'pytorch_model.bin')      # a pickle that would run code
    with pytest.raises(ValueError, match='pytorch_model.bin contains objects that are not allowed to load') as e:
        GPT.from_pretrained(tmp_path)
    assert 'weights_only=False' not in str(e.value)   # never suggest the unsafe way

class Evil:
    def __reduce__(self): return (print, ('this must never run',))

def test_save_hf_loads_in_transformers(hf_dir, tmp_path):
    d, hf = hf_dir
    ours = GPT.from_pretrained(d)
    reloaded = GPT2LMHeadModel.from_pretrained(save_hf(ours, tmp_path)).eval()
    x = torch.randint(0, 1000, (2, 30))
    with torch.no_grad(): assert (reloaded(x).logits - ours(x)).abs().max() < 1e-4

def test_greedy_generation_matches_transformers(hf_dir):
    d, hf = hf_dir
    ours = GPT.from_pretrained(d)
    for prompt in ([5, 17, 256, 999], [1, 2]):
        ref = hf.generate(torch.tensor([prompt]), max_new_tokens=30, min_new_tokens=30, do_sample=False, pad_token_id=0)[0]
        assert generate(ours, prompt, max_new_tokens=30).tolist() == ref.tolist()

def test_batched_left_padded_generation_matches_transformers(hf_dir):
    d, hf = hf_dir
    ours = GPT.from_pretrained(d)
    prompts = [[5, 17, 256, 999, 3, 8], [42], [7, 7, 7]]
    T = max(map(len, prompts))
    ids = torch.tensor([[0] * (T - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (T - len(p)) + [1] * len(p) for p in prompts])
    ref = hf.generate(ids, attention_mask=mask, max_new_tokens=20, min_new_tokens=20, do_sample=False, pad_token_id=0)
    got = generate(ours, prompts, max_new_tokens=20)
    for p, r, g in zip(prompts, ref, got): assert g.tolist() == r[T - len(p):].tolist()

@pytest.mark.parametrize('batched', [False, True])
def test_kv_cache_is_token_identical(batched):
    torch.manual_seed(1)
    m = GPT(GPTConfig.from_preset('tiny', vocab_size=300, context_length=48, n_layer=3, n_head=4))
    prompts = [[3, 1, 4, 1, 5, 9, 2, 6], [2, 7], [1, 8, 2, 8, 1]] if batched else [3, 1, 4, 1, 5]
    a = generate(m, prompts, max_new_tokens=60)          # runs past the 48-token context
    b = generate(m, prompts, max_new_tokens=60, use_cache=False)
    if not batched: a, b = [a], [b]
    assert [x.tolist() for x in a] == [x.tolist() for x in b]
    assert all(len(x) == len(p) + 60 for x, p in zip(a, prompts if batched else [prompts]))

def test_bad_inputs(tmp_path, hf_dir):
    with pytest.raises(ValueError, match="Unknown GPT preset 'gpt-5'"): GPTConfig.from_preset('gpt-5')
    with pytest.raises(ValueError, match='n_embd=65 is not divisible by n_head=4'): GPTConfig(n_embd=65, n_head=4)
    m = GPT(GPTConfig.from_preset('tiny', vocab_size=50))
    with pytest.raises(ValueError, match=r'Token ids \[-1, 50\] are outside the vocabulary .*vocab_size=50'):
        m(torch.tensor([[1, 50, -1]]))
    d, _ = hf_dir
    with pytest.raises(ValueError, match=r'(?s)does not fit this model.*shape mismatches: wte.weight: checkpoint \(1000, 64\) vs model \(1000, 32\)'):
        GPT.from_pretrained(d, n_embd=32)
    with pytest.raises(FileNotFoundError, match='neither a local folder nor a Hugging Face model'):
        GPT.from_pretrained('no-such-org/no-such-model')
    (tmp_path/'config.json').write_text('{"model_type": "mistral"}')
    with pytest.raises(ValueError, match="Expected a GPT-2, Llama or Qwen2 config"): GPT.from_pretrained(tmp_path)
    (tmp_path/'config.json').write_text('{"model_type": "llama", "vocab_size": 10}')
    with pytest.raises(ValueError, match="llama config.json lacks hidden_size, num_hidden_layers"):
        GPT.from_pretrained(tmp_path)

def test_gpt2_preset_size():
    with torch.device('meta'): m = GPT(GPTConfig.from_preset('gpt2'))
    assert m.num_params() == 124_439_808
    assert m.flops_per_token(1024) == 6 * (124_439_808 - 1024 * 768) + 12 * 12 * 768 * 1024

def test_hub_name_resolves_through_the_hf_cache(monkeypatch):
    "shared/hf holds GPT-2's config but no weights: the name resolves offline, and the error says what is missing."
    import os
    if not os.path.isdir(os.path.join(os.environ.get('HF_HOME', '/nonexistent'), 'hub', 'models--gpt2')): pytest.skip('no HF cache')
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    with pytest.raises(FileNotFoundError, match=r'No weights in .*models--gpt2.*expected model.safetensors'):
        GPT.from_pretrained('gpt2')

def test_own_folder_with_tokenizer(tmp_path):
    from llmlit.tokenizer import Tokenizer, get_tokenizer
    tok = get_tokenizer('char', texts=['hello world'])
    m = GPT(GPTConfig.from_preset('tiny', vocab_size=tok.vocab_size))
    m.save_pretrained(tmp_path, tokenizer=tok)
    back, tok2 = GPT.from_pretrained(tmp_path), Tokenizer.load(tmp_path)
    x = torch.tensor([tok2.encode('hello')])
    with torch.no_grad(): assert torch.equal(back(x), m.eval()(x))
    with pytest.raises(ValueError, match='tokenizer has 50257 tokens but the model only 8'):
        m.save_pretrained(tmp_path/'x', tokenizer=get_tokenizer('gpt2'))
