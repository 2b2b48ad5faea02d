"`llmlit classify` end to end: a pretrained llmlit backbone, split files, the run directory, predict, file formats, bad input."
import json, os, subprocess
from pathlib import Path
import pytest, torch
from llmlit.classify import ClassificationDataModule, LitClassifier, SpamDataModule, classify_main, read_rows
from llmlit.model import GPT, GPTConfig, save_pretrained
from llmlit.pretrain import pretrain_main

QUIET = ['--trainer.enable_progress_bar', 'false', '--trainer.enable_model_summary', 'false', '--trainer.accelerator', 'cpu']

@pytest.fixture(scope='module')
def backbone(tmp_path_factory):
    "A tiny GPT pretrained by `llmlit pretrain` (BPE on The Verdict, 30 steps): its model/ folder, tokenizer included."
    d = tmp_path_factory.mktemp('pre')
    pretrain_main(['--data.source', 'the-verdict', '--data.tokenizer', 'bpe:512', '--data.context_length', '64',
                   '--data.batch_size', '8', f'--data.cache_dir={d/"cache"}', '--model.preset', 'tiny', '--trainer.max_steps', '30',
                   '--trainer.val_check_interval', '30', '--sample.every_n_val', '0', '--run_dir', str(d/'run'), *QUIET])
    return d/'run'/'model'

@pytest.fixture(scope='module')
def split_files(tmp_path_factory):
    "The book's balanced 70/10/20 SMS split written as label<TAB>text files, like the UCI file."
    d = tmp_path_factory.mktemp('split')
    dm = SpamDataModule(tokenizer='gpt2'); dm.setup()
    for s, ex in dm.examples.items(): (d/f'{s}.tsv').write_text(''.join(f'{l}\t{t}\n' for t, l in zip(ex.texts, ex.labels)))
    return d

def test_classify_cli_from_pretrained_backbone(backbone, split_files, tmp_path):
    run = tmp_path/'run'
    classify_main(['--config', 'configs/classify_spam.yaml', '--model.backbone', str(backbone),
                   '--data.train_file', str(split_files/'train.tsv'), '--data.val_file', str(split_files/'val.tsv'),
                   '--data.test_file', str(split_files/'test.tsv'), '--trainer.max_epochs', '1', '--run_dir', str(run), *QUIET])
    s = json.loads((run/'summary.json').read_text())
    assert s['split_sizes'] == {'train': 1045, 'val': 149, 'test': 300}
    assert {'val_acc', 'test_acc', 'test_f1'} <= set(s) and s['test_acc'] > 0.75, s
    assert sum(map(sum, s['test_confusion'])) == 300 and s['parent_model'] == str(backbone)
    assert (run/'config.yaml').exists() and (run/'metrics.csv').exists() and Path(s['best_checkpoint']).exists()
    # the backbone's own tokenizer was used (linked from --model.backbone), and is saved with the classifier
    assert Path(s['model_dir'], 'tokenizer.json').exists()
    assert s['tokenizer'] == str(backbone)
    r = subprocess.run(['llmlit', 'classify', 'predict', '--model', str(run/'model'), 'WINNER!! Claim your free prize now, call 09061701461',
                        'Sorry, I will call you later'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2 and all(l.split('\t')[0] in ('ham', 'spam') for l in lines)
    clf = LitClassifier.from_pretrained(run/'model')
    labels, probs = clf.predict(['WINNER!! Claim your free prize now, call 09061701461', 'Sorry, I will call you later'])
    assert [l.split('\t')[0] for l in lines] == labels

def test_file_formats_agree(tmp_path):
    rows = [{'text': 'hello, "friend"', 'label': 'ham'}, {'text': 'WIN\tcash', 'label': 'spam'}]
    (tmp_path/'a.jsonl').write_text('\n'.join(json.dumps(r) for r in rows) + '\n')
    (tmp_path/'a.json').write_text(json.dumps(rows))
    (tmp_path/'a.csv').write_text('label,text\nham,"hello, ""friend"""\nspam,WIN\tcash\n')
    (tmp_path/'a.tsv').write_text('ham\thello, "friend"\nspam\tWIN\tcash\n')     # UCI layout: the first tab splits
    for f in ('a.jsonl', 'a.json', 'a.csv', 'a.tsv'):
        assert [(r['text'], r['label']) for r in read_rows(tmp_path/f)] == [(r['text'], r['label']) for r in rows], f

def test_datasets_folder_and_json_labels(tmp_path):
    import datasets
    ds = datasets.DatasetDict(
        train=datasets.Dataset.from_dict({'sentence': ['good', 'bad', 'fine', 'awful'] * 5, 'y': [1, 0, 1, 0] * 5}),
        validation=datasets.Dataset.from_dict({'sentence': ['nice', 'poor'], 'y': [1, 0]}))
    ds.save_to_disk(str(tmp_path/'ds'))
    dm = ClassificationDataModule(dataset=str(tmp_path/'ds'), text_column='sentence', label_column='y', tokenizer='gpt2')
    dm.setup()
    assert dm.label_names == ['0', '1'] and {s: len(v) for s, v in dm.splits.items()} == {'train': 20, 'val': 2}
    assert not dm.has_split('test')

def test_vocabulary_mismatch_through_the_cli(split_files, tmp_path):
    # a backbone folder without its tokenizer: the CLI falls back to GPT-2's, whose 50,257 ids do not fit a 512-row embedding
    save_pretrained(GPT(GPTConfig.from_preset('tiny', vocab_size=512)), tmp_path/'bare')
    with pytest.raises(ValueError, match=r'does not fit the checkpoint .*bare \(512 embeddings\)'):
        classify_main(['--model.backbone', str(tmp_path/'bare'), '--data.train_file', str(split_files/'val.tsv'),
                       '--data.val_file', str(split_files/'val.tsv'), '--trainer.max_epochs', '1', '--run_dir', str(tmp_path/'r'), *QUIET])

def test_other_tokenizer_than_the_backbones_is_refused(backbone, split_files):
    import lightning.pytorch as pl
    dm = ClassificationDataModule(train_file=str(split_files/'val.tsv'), val_file=str(split_files/'val.tsv'), tokenizer='gpt2')
    # GPT-2's tokenizer is larger than this backbone's embedding
    with pytest.raises(ValueError, match='does not fit the checkpoint'):
        pl.Trainer(max_epochs=1, accelerator='cpu', logger=False, enable_progress_bar=False).fit(LitClassifier(str(backbone)), dm)

def test_missing_column_through_the_cli(tmp_path):
    (tmp_path/'t.csv').write_text('body,tag\nhi,a\nyo,b\n')
    with pytest.raises(ValueError, match=r"no column 'text' \(set text_column=\.\.\.\)\. Columns found: 'body', 'tag'"):
        classify_main(['--data.train_file', str(tmp_path/'t.csv'), '--data.val_file', str(tmp_path/'t.csv'),
                       '--run_dir', str(tmp_path/'r'), *QUIET])
