"""llmlit's own Llama (`llmlit.llama`) on SmolLM2-135M-Instruct's real weights against transformers' `LlamaForCausalLM`: logits,
greedy tokens, the KV cache, left-padded batches, streaming, the transformers round trip; and the Llama family in the stages."""
import os, tempfile
from pathlib import Path
import pytest, torch
from llmlit.backbone import check_backbone, load_backbone
from llmlit.generate import generate, generate_text, stream_text
from llmlit.lora import apply_lora, load_adapter, save_adapter
from llmlit.model import GPT, GPTConfig, save_hf, to_hf

MODELS = Path(os.environ.get('LLMLIT_MODELS') or Path(__file__).resolve().parents[2]/'shared/models')
GGUF = MODELS/'SmolLM2-135M-Instruct.Q4_1.gguf'

@pytest.fixture(scope='module')
def smol():
    "SmolLM2 twice: in llmlit's GPT and in transformers' LlamaForCausalLM (both dequantized fp32 from the GGUF file)."
    return load_backbone(GGUF, native=True), load_backbone(GGUF).hf

@pytest.fixture(scope='module')
def prompts(smol):
    tok = smol[0].tokenizer
    qs = ['What is the capital of France?', 'Name three colours.', 'Write a haiku about the sea and the moon at night.']
    return [tok.encode(tok.apply_chat_template([{'role': 'user', 'content': q}], add_generation_prompt=True)) for q in qs]

def test_logits_match_transformers(smol):
    ours, hf = smol
    assert isinstance(ours, GPT) and ours.config.n_kv_head == 3 and ours.num_params() == 134_515_008
    ids = torch.randint(0, 49152, (2, 64), generator=torch.Generator().manual_seed(0))
    with torch.no_grad(): d = (ours(ids) - hf(ids).logits).abs().max().item()
    assert d <= 1e-4, d

def test_64_greedy_tokens_as_transformers(smol, prompts):
    ours, hf = smol
    mine = generate(ours, prompts[2], max_new_tokens=64)
    hf.generation_config.eos_token_id = None   # 64 tokens, whatever they are
    x = torch.tensor([prompts[2]])   # the mask given: transformers would mask the prompt's <|im_end|>, its pad id
    with torch.no_grad(): theirs = hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=64, do_sample=False)[0]
    assert len(mine) == len(prompts[2]) + 64
    assert torch.equal(mine, theirs)

def test_cache_equals_recomputation_and_batches_equal_single(smol, prompts):
    ours, _ = smol
    cached = generate(ours, prompts[0], max_new_tokens=24)
    full = generate(ours, prompts[0], max_new_tokens=24, use_cache=False)
    assert torch.equal(cached, full)
    eos = ours.tokenizer.stop_ids(chat=True)
    alone = [generate(ours, p, max_new_tokens=24, eos_id=eos) for p in prompts]
    batch = generate(ours, prompts, max_new_tokens=24, eos_id=eos)   # left-padded: prompts of 3 lengths
    assert len({len(p) for p in prompts}) == 3
    for a, b in zip(alone, batch): assert torch.equal(a, b)

def test_chat_and_stream(smol):
    ours, _ = smol
    answer = generate_text(ours, ours.tokenizer, 'What is the capital of France?', chat=True)
    assert 'Paris' in answer
    assert ''.join(stream_text(ours, ours.tokenizer, 'What is the capital of France?', chat=True)) == answer

def test_transformers_round_trip(smol, tmp_path):
    ours, _ = smol
    d = save_hf(ours, tmp_path/'hf')
    import json
    assert json.loads((d/'config.json').read_text())['model_type'] == 'llama'
    from transformers import AutoModelForCausalLM
    hf = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
    back = GPT.from_pretrained(d)
    ids = torch.randint(0, 49152, (1, 32), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = ours(ids)
        assert (hf(ids).logits - ref).abs().max().item() <= 1e-5
        assert (back(ids) - ref).abs().max().item() <= 1e-5
    own = ours.save_pretrained(tmp_path/'own', tokenizer=ours.tokenizer)   # llmlit's format: a backbone spec
    again = load_backbone(own)
    assert isinstance(again, GPT) and again.tokenizer is not None
    with torch.no_grad(): assert torch.equal(again(ids), ref)

def test_backbone_contract_and_lora_in_peft_names(tmp_path):
    "A tiny Llama keeps the contract; its LoRA adapters load in PEFT onto the transformers Llama it exports to."
    torch.manual_seed(0)
    m = GPT(GPTConfig.from_preset('llama-tiny', vocab_size=300)).eval()
    d = check_backbone(m)
    assert d['padding'] < 1e-5 and d['cache'] < 1e-5
    hf = to_hf(m)
    apply_lora(m, ['q_proj', 'v_proj'], r=4, alpha=8)
    for n, p in m.named_parameters():
        if 'lora_B' in n: torch.nn.init.normal_(p, std=0.1)   # a trained-looking adapter
    save_adapter(m, tmp_path/'adapter')
    from peft import PeftModel
    peft = PeftModel.from_pretrained(hf, tmp_path/'adapter').eval()
    ids = torch.randint(0, 300, (2, 10))
    with torch.no_grad(): assert (peft(ids).logits - m(ids)).abs().max().item() < 1e-5
    fresh = GPT(GPTConfig.from_preset('llama-tiny', vocab_size=300)).eval()
    fresh.load_state_dict({k: v for k, v in m.state_dict().items() if 'lora' not in k}
                          | {k.replace('.base_layer', ''): v for k, v in m.state_dict().items() if 'base_layer' in k}, strict=False)
    load_adapter(fresh, tmp_path/'adapter')
    with torch.no_grad(): assert (fresh(ids) - m(ids)).abs().max().item() < 1e-6

def test_llama_pretrains_from_the_command_line(tmp_path):
    "The recipe's architecture runs in `llmlit pretrain` and its run folder loads back as a Llama."
    import subprocess
    r = subprocess.run(['llmlit', 'pretrain', '--config', 'configs/pretrain_shakespeare_char_llama.yaml', '--run_dir', str(tmp_path/'run'),
                        '--trainer.max_steps', '20', '--trainer.val_check_interval', '20', '--trainer.limit_val_batches', '4',
                        '--trainer.enable_progress_bar', 'false', '--sample.max_new_tokens', '10'],
                       capture_output=True, text=True, env={**os.environ, 'OMP_NUM_THREADS': '1'},
                       cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0, r.stderr[-2000:]
    m = GPT.from_pretrained(tmp_path/'run'/'model')
    assert (m.config.norm, m.config.mlp, m.config.pos, m.config.n_kv_head) == ('rmsnorm', 'swiglu', 'rope', 4)
    assert m.wpe is None and not any('wpe' in k for k in m.state_dict())
