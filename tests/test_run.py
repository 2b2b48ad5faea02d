"The run-directory contract through `LLMLitCLI`: --config, dotted overrides, default folder, summary and model/."
import json, os
import pytest, torch, yaml
import lightning.pytorch as pl
from huggingface_hub import PyTorchModelHubMixin
from llmlit.run import LLMLitCLI, RunDir, RunDirCallback
from llmlit.tokenizer import Tokenizer, get_tokenizer

class Bigram(torch.nn.Module, PyTorchModelHubMixin):
    def __init__(self, vocab_size:int=64):
        super().__init__(); self.table = torch.nn.Embedding(vocab_size, vocab_size)
    def forward(self, x): return self.table(x)

class LitBigram(pl.LightningModule):
    def __init__(self, vocab_size:int=64, lr:float=0.3):
        super().__init__(); self.save_hyperparameters(); self.model = Bigram(vocab_size)
        self.parent_model = None
    def _loss(self, b):
        x = b['input_ids']; return torch.nn.functional.cross_entropy(self.model(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten())
    def training_step(self, b, i): loss = self._loss(b); self.log('train_loss', loss); return loss
    def validation_step(self, b, i): self.log('val_loss', self._loss(b))
    def test_step(self, b, i): self.log('test_loss', self._loss(b))
    def configure_optimizers(self): return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
    def save_pretrained(self, path): self.model.save_pretrained(path)

class Periodic(pl.LightningDataModule):
    "A sequence with period 7: a bigram model learns it exactly."
    def __init__(self, batch_size:int=4, context_length:int=16):
        super().__init__(); self.save_hyperparameters()
        self.data_source, self.data_sha256 = 'periodic', 'f' * 64
    def setup(self, stage=None):
        text = 'abcdefg' * 200
        self.tokenizer = get_tokenizer('char', texts=[text])
        ids = torch.tensor(self.tokenizer.encode(text))
        T = self.hparams.context_length
        self.windows = [{'input_ids': ids[i:i + T]} for i in range(0, len(ids) - T, T)]
    def _dl(self): return torch.utils.data.DataLoader(self.windows, batch_size=self.hparams.batch_size)
    train_dataloader = val_dataloader = test_dataloader = _dl

QUIET = ['--trainer.enable_progress_bar', 'false', '--trainer.enable_model_summary', 'false', '--trainer.accelerator', 'cpu']

def test_config_file_overrides_and_contract(tmp_path):
    cfg = tmp_path/'cfg.yaml'
    cfg.write_text(yaml.safe_dump({'model': {'vocab_size': 7, 'lr': 0.5}, 'data': {'batch_size': 2},
                                   'trainer': {'max_steps': 40, 'val_check_interval': 9, 'log_every_n_steps': 5}}))
    run_dir = tmp_path/'run'
    cli = LLMLitCLI(LitBigram, Periodic, verb='bigram',
                    args=['--config', str(cfg), '--data.batch_size', '5', '--run_dir', str(run_dir), *QUIET])
    cli.trainer.fit(cli.model, cli.datamodule)
    cli.trainer.test(cli.model, cli.datamodule)
    run = RunDir(run_dir)
    assert {'config.yaml', 'metrics.csv', 'summary.json', 'model', 'checkpoints'} <= set(os.listdir(run_dir))
    saved = yaml.safe_load(run.config.read_text())
    assert (saved['model']['vocab_size'], saved['model']['lr'], saved['data']['batch_size']) == (7, 0.5, 5)
    assert saved['run_dir'] == str(run_dir) and saved['trainer']['max_steps'] == 40
    s = run.read_summary()
    n = len(cli.datamodule.windows); per_epoch = -(-n // 5)   # the last batch of an epoch is short
    examples = (40 // per_epoch) * n + (40 % per_epoch) * 5
    assert s['global_step'] == 40 and s['examples_seen'] == examples and s['tokens_seen'] == examples * 16
    assert s['verb'] == 'bigram' and s['data_source'] == 'periodic' and s['data_sha256'] == 'f' * 64
    assert s['val_loss'] < 1.0 and 'test_loss' in s and s['wall_time_s'] > 0
    # model/ loads back: weights (safetensors), config.json and the tokenizer
    assert {'model.safetensors', 'config.json', 'tokenizer.json'} <= set(os.listdir(run.model))
    assert torch.equal(Bigram.from_pretrained(run.model).table.weight, cli.model.model.table.weight)
    assert Tokenizer.load(run.model).encode('gab') == [6, 0, 1]
    header = run.metrics.read_text().splitlines()[0].split(',')
    assert {'step', 'train_loss', 'val_loss'} <= set(header)

def test_default_run_dir_is_runs_verb_timestamp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = LLMLitCLI(LitBigram, Periodic, verb='bigram', args=['--trainer.max_steps', '2', '--model.vocab_size', '7', *QUIET])
    cli.trainer.fit(cli.model, cli.datamodule)
    (run_dir,) = (tmp_path/'runs/bigram').iterdir()
    assert len(run_dir.name) == 15 and run_dir.name[8] == '-'
    assert json.loads((run_dir/'summary.json').read_text())['global_step'] == 2

def test_bad_override_names_the_key(tmp_path, capsys):
    with pytest.raises(SystemExit):
        LLMLitCLI(LitBigram, Periodic, verb='bigram', args=['--model.n_layers', '2', '--run_dir', str(tmp_path)])
    assert 'n_layers' in capsys.readouterr().err

def test_callback_works_in_a_plain_trainer(tmp_path):
    dm, lit = Periodic(), LitBigram(vocab_size=7)
    trainer = pl.Trainer(max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         callbacks=[RunDirCallback(tmp_path, 'custom')], accelerator='cpu')
    trainer.fit(lit, dm)
    s = RunDir(tmp_path).read_summary()
    assert s['verb'] == 'custom' and s['examples_seen'] == 12 and (tmp_path/'model/model.safetensors').exists()
