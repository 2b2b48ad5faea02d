"""SMS spam on three balanced splits (seeds 1, 2, 3): SmolLM2-135M-Instruct as the backbone (Q4_1 GGUF, dequantized), llmlit's
from-scratch recipe (configs/pretrain_spam_backbone.yaml, then configs/classify_spam.yaml), and two TF-IDF + logistic regression
baselines. The recipes are fixed in advance; each run's checkpoint is chosen on validation loss, and its test accuracy is read
once. The classification tutorial imports `RECIPES` and `compare` from here. Run alone (it uses both cores):

    llmlit pretrain --config configs/pretrain_spam_backbone.yaml --run_dir runs/spam_backbone
    python bench/spam_splits.py --seeds 1 2 3 --scratch_backbone runs/spam_backbone/model --out bench/results/spam_splits.json
"""
import argparse, json, os, tempfile, time, warnings
from pathlib import Path
import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from llmlit.classify import ClassificationDataModule, LitClassifier

GGUF = Path(os.environ.get('LLMLIT_MODELS', Path(__file__).parents[2]/'shared/models'))/'SmolLM2-135M-Instruct.Q4_1.gguf'
SMOL = str(GGUF) if GGUF.exists() else 'HuggingFaceTB/SmolLM2-135M-Instruct'   # the offline copy, else the hub's original
RECIPES = {   # fixed before any test accuracy was read
    'SmolLM2-135M': dict(epochs=2, model=dict(trainable='all', lr=3e-5, warmup_steps=10, schedule='cosine',
                                              weight_decay=0.01)),
    'nano, pretrained here': dict(epochs=3, model=dict(trainable='all', lr=1e-3, warmup_steps=20, schedule='cosine',
                                                       dropout=0.1)),   # configs/classify_spam.yaml
}

def split(seed:int, tokenizer:str)->ClassificationDataModule:
    "The balanced SMS split drawn with `seed` (70/10/20 of 747 ham + 747 spam)."
    return ClassificationDataModule('sms-spam', balance=True, seed=seed, tokenizer=str(tokenizer), batch_size=8)

def finetune(name:str, backbone, seed:int, **trainer_args)->dict:
    "Recipe `name` on `backbone` and the split of `seed`: the best checkpoint by validation loss, tested once."
    r, dm = RECIPES[name], split(seed, backbone)
    pl.seed_everything(seed, verbose=False)
    lit = LitClassifier(str(backbone), labels=['ham', 'spam'], **r['model'])
    with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
        warnings.simplefilter('ignore')
        ck = ModelCheckpoint(dirpath=d, monitor='val_loss', mode='min', save_top_k=1)
        t = pl.Trainer(max_epochs=r['epochs'], accelerator='cpu', logger=False, callbacks=[ck], gradient_clip_val=1.0,
                       enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, **trainer_args)
        t0 = time.time()
        t.fit(lit, dm)
        val = t.validate(lit, dm, ckpt_path='best', verbose=False)[0]
        test = t.test(lit, dm, ckpt_path='best', verbose=False)[0]
        best = Path(ck.best_model_path).stem
    return dict(seed=seed, model=name, val_acc=val['val_acc'], val_loss=val['val_loss'], test_acc=test['test_acc'],
                minutes=(time.time() - t0) / 60, best=best)

def tfidf_runs(seed:int)->list[dict]:
    "Both baselines of the tutorial (words with defaults; character 2-5-grams, sublinear tf, C=10) on the split of `seed`."
    dm = split(seed, 'gpt2'); dm.setup()
    tr, te = dm.examples['train'], dm.examples['test']
    chars = TfidfVectorizer(analyzer='char_wb', ngram_range=(2, 5), sublinear_tf=True)
    rows = []
    for name, vec, kw in (('TF-IDF words', TfidfVectorizer(), {}), ('TF-IDF char 2-5-grams', chars, dict(C=10))):
        lr = LogisticRegression(max_iter=1000, **kw).fit(vec.fit_transform(tr.texts), tr.labels)
        rows.append(dict(seed=seed, model=name, test_acc=float((lr.predict(vec.transform(te.texts)) == te.labels).mean())))
    return rows

def compare(seeds, backbones:dict, **trainer_args)->list[dict]:
    "Every recipe of `backbones` ({recipe: backbone}) and both baselines on each split."
    rows = []
    for seed in seeds:
        rows += [finetune(name, b, seed, **trainer_args) for name, b in backbones.items()]
        rows += tfidf_runs(seed)
    return rows

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--seeds', type=int, nargs='+', default=[1, 2, 3])
    ap.add_argument('--recipes', nargs='+', default=list(RECIPES))
    ap.add_argument('--scratch_backbone', default=None, help="the model/ of configs/pretrain_spam_backbone.yaml's run")
    ap.add_argument('--out', default=None)
    a = ap.parse_args()
    import torch; torch.set_num_threads(2)
    backbones = {'SmolLM2-135M': SMOL, 'nano, pretrained here': a.scratch_backbone}
    backbones = {k: v for k, v in backbones.items() if k in a.recipes and v}
    rows = []
    for seed in a.seeds:
        new = compare([seed], backbones)
        for r in new: print(json.dumps(r), flush=True)
        rows += new
    if a.out: Path(a.out).write_text(json.dumps({'recipes': RECIPES, 'runs': rows}, indent=2))
