"""SMS spam on three balanced splits: TF-IDF + logistic regression, llmlit's from-scratch recipe, and SmolLM2-135M-Instruct
(Q4_1 GGUF, dequantized) as the backbone. Recipes are fixed in advance; checkpoints are chosen on validation loss only, and
test accuracy is read once per run. Run alone (it uses both cores):

    python bench/spam_splits.py --seeds 1 2 3 --out bench/results/spam_splits.json

The from-scratch recipe needs the backbone of configs/pretrain_spam_backbone.yaml (llmlit pretrain --config ... --run_dir D)
given as --scratch_backbone D/model; without it that row is skipped."""
import argparse, json, os, tempfile, time, warnings
from pathlib import Path
import torch
import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from llmlit.classify import ClassificationDataModule, LitClassifier

warnings.filterwarnings('ignore')
GGUF = Path(os.environ.get('LLMLIT_MODELS', '../shared/models'))/'SmolLM2-135M-Instruct.Q4_1.gguf'
RECIPES = {   # fixed before any test accuracy was read
    'smollm2': dict(model=dict(trainable='all', lr=3e-5, warmup_steps=10, schedule='cosine', weight_decay=0.01),
                    epochs=2, batch_size=8),
    'scratch': dict(model=dict(trainable='all', lr=1e-3, warmup_steps=20, schedule='cosine', dropout=0.1),
                    epochs=3, batch_size=8),   # configs/classify_spam.yaml
}

def tfidf(dm):
    tr, te = dm.examples['train'], dm.examples['test']
    vec = TfidfVectorizer(analyzer='char_wb', ngram_range=(2, 5))
    clf = LogisticRegression(max_iter=1000).fit(vec.fit_transform(tr.texts), tr.labels)
    return float((clf.predict(vec.transform(te.texts)) == te.labels).mean())

def finetune(backbone, seed, recipe):
    r = RECIPES[recipe]
    dm = ClassificationDataModule('sms-spam', balance=True, seed=seed, tokenizer=str(backbone), batch_size=r['batch_size'])
    pl.seed_everything(seed, verbose=False)
    lit = LitClassifier(str(backbone), labels=['ham', 'spam'], **r['model'])
    with tempfile.TemporaryDirectory() as d:
        ck = ModelCheckpoint(dirpath=d, monitor='val_loss', mode='min', save_top_k=1)
        t = pl.Trainer(max_epochs=r['epochs'], accelerator='cpu', logger=False, callbacks=[ck], enable_progress_bar=False,
                       enable_model_summary=False, gradient_clip_val=1.0, num_sanity_val_steps=0)
        t0 = time.time()
        t.fit(lit, dm)
        val = t.validate(lit, dm, ckpt_path='best', verbose=False)[0]
        test = t.test(lit, dm, ckpt_path='best', verbose=False)[0]
        minutes = (time.time() - t0) / 60
    return {'val_acc': val['val_acc'], 'val_loss': val['val_loss'], 'test_acc': test['test_acc'], 'minutes': round(minutes, 2),
            'best_epoch': Path(ck.best_model_path).name}, dm

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--seeds', type=int, nargs='+', default=[1, 2, 3])
    ap.add_argument('--scratch_backbone', default=None)
    ap.add_argument('--out', default=None)
    a = ap.parse_args()
    torch.set_num_threads(2)
    rows = []
    for seed in a.seeds:
        row = {'seed': seed}
        row['smollm2'], dm = finetune(GGUF, seed, 'smollm2')
        row['tfidf_test_acc'] = tfidf(dm)
        if a.scratch_backbone: row['scratch'], _ = finetune(a.scratch_backbone, seed, 'scratch')
        rows.append(row)
        print(json.dumps(row), flush=True)
    mean = lambda xs: sum(xs) / len(xs)
    summary = {'seeds': a.seeds, 'recipes': RECIPES, 'runs': rows,
               'mean_test_acc': {'smollm2': mean([r['smollm2']['test_acc'] for r in rows]),
                                 'tfidf': mean([r['tfidf_test_acc'] for r in rows]),
                                 **({'scratch': mean([r['scratch']['test_acc'] for r in rows])} if a.scratch_backbone else {})}}
    print(json.dumps(summary['mean_test_acc']))
    if a.out: Path(a.out).write_text(json.dumps(summary, indent=2))
