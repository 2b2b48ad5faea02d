"Tokenizers against reference counts, offline fallbacks and the transformers round trip."
import os, subprocess, sys
import pytest
from llmlit.data import load_corpus
from llmlit.tokenizer import CharTokenizer, Tokenizer, get_tokenizer

def test_gpt2_counts_match_tiktoken():
    gpt2 = get_tokenizer('gpt2')
    assert len(gpt2.encode(load_corpus('tinyshakespeare').text)) == 338_025   # shared/data/SOURCES.md, tiktoken's count
    assert len(gpt2.encode(load_corpus('the-verdict').text)) == 5_145

def test_gpt2_without_hf_cache_uses_openai_files(tmp_path):
    env = {**os.environ, 'HF_HOME': str(tmp_path), 'HF_HUB_OFFLINE': '1'}
    code = ('from llmlit.tokenizer import get_tokenizer; t = get_tokenizer("gpt2"); '
            'print(t.encode("Hello, world. Is this-- a test?<|endoftext|>"), t.vocab_size)')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '[15496, 11, 995, 13, 1148, 428, 438, 257, 1332, 30, 50256] 50257'

def test_unknown_hub_name_is_a_clear_error():
    with pytest.raises(OSError, match="Could not load a tokenizer from 'no-such/tokenizer-xyz'"): get_tokenizer('no-such/tokenizer-xyz')

@pytest.mark.parametrize('name', ['gpt2', 'bpe:1000', 'char'])
def test_batch_equals_single_and_unicode_round_trip(name, tmp_path):
    texts = ['Grüße aus Köln 🚀', 'naïve café', '', 'x' * 1000, 'line\r\nbreaks\tand tabs']
    tok = get_tokenizer(name, texts=texts if name != 'gpt2' else None)
    assert tok.encode_batch(texts) == [tok.encode(t) for t in texts]
    assert [tok.decode(tok.encode(t)) for t in texts] == texts
    back = Tokenizer.load(tok.save(tmp_path/name.replace(':', '_')))
    assert back.encode_batch(texts) == tok.encode_batch(texts) and back.kind == tok.kind

def test_bpe_respects_vocab_size_and_decodes_tensors():
    import torch
    tok = get_tokenizer('bpe:2000', texts=load_corpus('the-verdict'))
    assert tok.vocab_size <= 2000 and tok.eos_id == 0
    ids = tok.encode('I HAD always thought Jack Gisburn rather a cheap genius')
    assert len(ids) < 20 and tok.decode(torch.tensor(ids)) == 'I HAD always thought Jack Gisburn rather a cheap genius'

def test_char_with_eos_survives_save_load(tmp_path):
    tok = CharTokenizer.from_texts(['hello'], eos_token='<|endoftext|>')
    back = Tokenizer.load(tok.save(tmp_path))
    assert isinstance(back, CharTokenizer) and back.eos_id == tok.eos_id == 4
    assert back.encode('hell<|endoftext|>') == [1, 0, 2, 2, 4]
    with pytest.raises(ValueError, match=r"Characters \['x'\]"): back.encode('hex')
