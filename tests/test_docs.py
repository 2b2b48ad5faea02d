"""The docs site's house rules, checked on the notebooks themselves (the built site is checked in a browser by
tools/check_docs.py): import cells stand alone, every exported name has its own docstring, shown code fits its box,
committed outputs hold no machine paths or stray warnings, and the sidebar is in the order a learner reads."""
import ast, importlib, inspect, json, re
from pathlib import Path
import pytest, yaml
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p for p in (ROOT/'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts and not p.name.startswith('_'))
MAX_LINE = 100   # characters of code a code box shows at 1200 px without scrolling (tools/check_docs.py measures it)

def cells(nb:Path): return json.loads(nb.read_text())['cells']
def src(c)->str: return ''.join(c['source'])
def directives(c)->dict:
    "The `#| key: value` lines of a cell, as nbdev reads them."
    return {m.group(1): (m.group(2) or '').strip() for m in re.finditer(r'^#\|\s*([\w-]+):?(.*)$', src(c), re.M)}

def shown(c)->bool:
    "Does the docs site show this code cell's source?"
    d = directives(c)
    if d.keys() & {'export', 'exporti', 'hide', 'default_exp'}: return False
    return d.get('echo', 'true') != 'false' and d.get('include', 'true') != 'false'

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.name)
def test_import_cells_stand_alone(nb):
    "nbdev-docs runs every cell holding an import, alone: such a cell must hold nothing else (nbdev's FAQ)."
    bad = []
    for i, c in enumerate(cells(nb)):
        if c['cell_type'] != 'code' or directives(c).keys() & {'export', 'exports', 'exporti'}: continue
        body = ast.parse(TransformerManager().transform_cell(src(c))).body   # magics and ! lines as IPython runs them
        imports = [n for n in body if isinstance(n, (ast.Import, ast.ImportFrom))]
        if imports and len(imports) < len(body): bad.append(i)
    assert not bad, f'{nb.name}: cells {bad} mix imports with other code; move the imports to a cell of their own'

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.name)
def test_shown_code_fits(nb):
    long = [(i, len(l)) for i, c in enumerate(cells(nb)) if c['cell_type'] == 'code' and shown(c)
            for l in src(c).splitlines() if len(l) > MAX_LINE and not l.startswith('#|')]
    assert not long, f'{nb.name}: (cell, length) of lines over {MAX_LINE} characters in code the site shows: {long}'

MACHINE = re.compile(r'/tmp/|/work/|/root/|/home/|/Users/|site-packages|\\\\Users\\\\|Traceback \(most recent call last\)'
                     r'|\w+Warning:|\d{4}-\d\d-\d\d[T_ ]\d\d[:-]\d\d')

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.name)
def test_outputs_are_clean(nb):
    "Committed outputs show what a reader's run would show: no paths of the machine that ran them, no warnings, no timestamps."
    bad = []
    for i, c in enumerate(cells(nb)):
        for o in c.get('outputs', []):
            text = ''.join(o.get('text', '')) + ''.join(''.join(v) for k, v in o.get('data', {}).items() if k.startswith('text/'))
            if o.get('output_type') == 'stream' and o.get('name') == 'stderr' and text.strip(): bad.append((i, text.strip()[:80]))
            if o.get('output_type') == 'error': bad.append((i, o.get('ename')))
            if m := MACHINE.search(text): bad.append((i, text[max(0, m.start() - 30):m.end() + 30]))
    assert not bad, f'{nb.name}: {bad}'

MODULES = sorted(p.stem for p in (ROOT/'llmlit').glob('*.py') if not p.name.startswith('_'))

@pytest.mark.parametrize('mod', MODULES)
def test_every_exported_name_has_its_own_docstring(mod):
    "The docs page of a class shows its docstring: one inherited from nn.Module or a dataclass signature is not one."
    m = importlib.import_module(f'llmlit.{mod}')
    missing = []
    for name in getattr(m, '__all__', []):
        o = getattr(m, name)
        if inspect.isclass(o):
            doc = o.__dict__.get('__doc__') or ''
            if not doc.strip() or doc.startswith(f'{o.__name__}('): missing.append(name)
        elif inspect.isfunction(o) and not (o.__doc__ or '').strip(): missing.append(name)
    assert not missing, f'llmlit.{mod}: no docstring of their own: {missing}'

def test_sidebar_reads_in_learning_order():
    "Build, train, evaluate, serve, export, then plumbing; tutorials in a section of their own; every notebook listed once."
    side = yaml.safe_load((ROOT/'nbs/sidebar.yml').read_text())['website']['sidebar']['contents']
    assert side[0] == 'index.ipynb'
    sections = {s['section']: s['contents'] for s in side[1:]}
    order = [s['section'] for s in side[1:]]
    known = ['Build', 'Train', 'Evaluate', 'Serve', 'Export', 'Plumbing', 'Tutorials']
    assert [s for s in known if s in order] == order, order
    stem = lambda p: Path(p).stem.split('_', 1)[-1]
    assert [stem(p) for p in sections['Build']] == ['tokenizer', 'attention', 'model', 'llama', 'backbone',
                                                     'generate']
    assert [stem(p) for p in sections['Train']][:1] == ['training'], 'the shared training code opens Train'
    assert [stem(p) for p in sections['Plumbing']] == ['core', 'data', 'run', 'cli']
    assert all(p.startswith('tutorials/') for p in sections['Tutorials'])
    listed = ['index.ipynb'] + [p for s in sections.values() for p in s]
    assert sorted(listed) == sorted(str(p.relative_to(ROOT/'nbs')) for p in NBS), 'every notebook in the sidebar, once'

def test_tutorials_install_llmlit_in_colab():
    "A tutorial opened in Colab installs llmlit first; elsewhere the cell does nothing."
    for nb in (ROOT/'nbs/tutorials').glob('*.ipynb'):
        first = next(c for c in cells(nb) if c['cell_type'] == 'code')
        assert 'COLAB_RELEASE_TAG' in src(first) and 'pip install' in src(first), nb.name
