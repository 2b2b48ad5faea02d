"""Check the built docs site (`_docs/`, from `nbdev-docs`) in a real browser: headless Chromium driven by Playwright.

Every page must load with no JavaScript error and no failed request of its own; every internal link must reach a page
(and its `#anchor`, if it names one) and every image must load; no page may show a traceback, a cell's error or stderr
output, or a docstring inherited from PyTorch or Lightning; the code a page shows must fit its box at 1200 px (no
horizontal scrolling); every notebook page has its Open in Colab badge. Screenshots of the home page, one API page and one tutorial go to `--shots`.

    python tools/check_docs.py [--site _docs] [--shots _screenshots] [--browser /usr/bin/chromium]

Exits 1 listing every problem found. The browser is the system's Chromium (Playwright's own download needs internet):
`--browser`, `$LLMLIT_CHROMIUM`, or the first of chromium / chromium-browser / google-chrome on PATH."""
import argparse, functools, http.server, json, os, re, shutil, sys, threading
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 1200
SHOTS = {'home': 'index.html', 'api-attention': 'api/attention.html', 'tutorial-pretrain': 'tutorials/pretrain_tutorial.html'}
# Scripts Quarto loads from a CDN, which this check cannot reach, and the globals they define: a page that uses one
# (require.js comes with any HTML output, such as a pandas table) throws a ReferenceError for them here, not online.
CDN_GLOBALS = {'require.min.js': ('define', 'require'), 'mathjax': ('MathJax',)}
TRACEBACK = 'Traceback (most recent call last)'

def inherited_docstrings()->list[str]:
    "First lines of the docstrings a class without its own would show: torch's and Lightning's base classes."
    import torch, lightning.pytorch as pl
    from lightning.pytorch.cli import LightningCLI
    bases = [torch.nn.Module, torch.utils.data.Dataset, torch.utils.data.IterableDataset, pl.LightningModule,
             pl.LightningDataModule, pl.Callback, LightningCLI, object]
    return [d.strip().splitlines()[0] for b in bases if (d := b.__dict__.get('__doc__')) and d.strip()]

def find_browser(given=None)->str:
    for c in [given, os.environ.get('LLMLIT_CHROMIUM'), 'chromium', 'chromium-browser', 'google-chrome']:
        if c and (p := shutil.which(c) or (c if Path(c).exists() else None)): return p
    sys.exit('error: no Chromium found; install it (Debian: apt-get install chromium) or pass --browser PATH')

def serve(site:Path):
    "Serve `site` on a free localhost port in a background thread; return the base URL and the server."
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f'http://127.0.0.1:{srv.server_address[1]}/', srv

def ids_of(html:str)->set[str]: return set(re.findall(r'\bid="([^"]+)"', html))

def check_page(page, url:str, base:str, site:Path, bad_docs:list[str])->tuple[list[str], list[str]]:
    "Load one page; return (problems, internal links to check)."
    problems, errors, failed, external = [], [], [], []
    page.on('pageerror', lambda e: errors.append(str(e)))
    page.on('requestfailed', lambda r: (failed if r.url.startswith(base) else external).append(r.url))
    page.on('response', lambda r: failed.append(f'{r.url} ({r.status})') if r.url.startswith(base) and r.status >= 400 else None)
    page.goto(url, wait_until='load')
    page.wait_for_timeout(150)   # let deferred scripts (search, tooltips) run
    offline = {g for u in external for k, gs in CDN_GLOBALS.items() if k in u.lower() for g in gs}
    errors = [e for e in errors if not any(e == f'{g} is not defined' for g in offline)]
    problems += [f'JavaScript error: {e}' for e in errors] + [f'failed request: {f}' for f in failed]
    text = page.inner_text('main') if page.query_selector('main') else page.inner_text('body')
    if TRACEBACK in text: problems.append('shows a traceback')
    # a cell that raised (Quarto renders its output as .cell-output-error) or wrote to stderr (warnings)
    for kind in ('error', 'stderr'):
        for out in page.query_selector_all(f'.cell-output-{kind}'):
            problems.append(f'shows a cell {kind} output: {out.inner_text().strip()[:100]!r}')
    problems += [f'shows an inherited docstring: {d!r}' for d in bad_docs if d in text]
    broken = page.eval_on_selector_all('img', 'els => els.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)')
    problems += [f'image does not load: {s}' for s in broken if s.startswith(base)]
    clipped = page.eval_on_selector_all('div.cell-code pre, details pre',
        'els => els.filter(p => p.scrollWidth > p.clientWidth + 1).map(p => p.innerText.split("\\n")'
        '.reduce((a, b) => a.length >= b.length ? a : b))')
    problems += [f'code box clips at {WIDTH}px: {l.strip()[:70]!r}' for l in clipped]
    badge = page.query_selector('a.colab-badge')
    if badge is None: problems.append('no Open in Colab badge')
    else:
        href = badge.get_attribute('href')
        nb = urlparse(href).path.split('/blob/main/nbs/', 1)[-1]
        if not href.startswith('https://colab.research.google.com/github/') or not (ROOT/'nbs'/nb).exists():
            problems.append(f'Colab badge points at no notebook of this repo: {href}')
    links = page.eval_on_selector_all('a[href]', 'els => els.map(a => a.href)')
    return problems, [l for l in links if l.startswith(base)]

def check_links(links:set[str], base:str, site:Path)->list[str]:
    "Every internal link reaches a file of the site, and an anchor it names exists there."
    problems, cache = [], {}
    for link in sorted(links):
        url, frag = urldefrag(link)
        rel = urlparse(url).path.lstrip('/')
        f = site/rel
        if f.is_dir(): f = f/'index.html'
        if not f.exists(): problems.append(f'broken link: {rel}'); continue
        if frag and f.suffix == '.html':
            if f not in cache: cache[f] = ids_of(f.read_text(errors='replace'))
            if frag not in cache[f]: problems.append(f'broken anchor: {rel}#{frag}')
    return problems

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--site', default=str(ROOT/'_docs')); ap.add_argument('--shots', default=str(ROOT/'_screenshots'))
    ap.add_argument('--browser')
    a = ap.parse_args(argv)
    site, shots = Path(a.site), Path(a.shots)
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob('*.html') if 'site_libs' not in p.parts)
    if not pages: sys.exit(f'error: no pages in {site}: run nbdev-docs first')
    expected = {str(Path(p).with_suffix('.html')) for p in
                [re.sub(r'(^|/)\d+[a-z]?_', r'\1', nb.relative_to(ROOT/'nbs').as_posix())
                 for nb in (ROOT/'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in nb.parts]}
    problems = [f'{p}: not built' for p in sorted(expected - set(pages))]
    from playwright.sync_api import sync_playwright
    base, srv = serve(site)
    bad_docs, links = inherited_docstrings(), set()
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=find_browser(a.browser), args=[
            '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync'])
        ctx = browser.new_context(viewport={'width': WIDTH, 'height': 900})
        ctx.route(re.compile(r'^(?!http://127\.0\.0\.1)'), lambda route: route.abort())   # nothing leaves the machine
        for rel in pages:
            page = ctx.new_page()
            found, page_links = check_page(page, urljoin(base, rel), base, site, bad_docs)
            problems += [f'{rel}: {p}' for p in found]; links |= set(page_links)
            for name, target in SHOTS.items():
                if target == rel: page.screenshot(path=str(shots/f'{name}.png'), full_page=True)
            page.close()
        browser.close()
    srv.shutdown()
    problems += check_links(links, base, site)
    missing = [t for t in SHOTS.values() if t not in pages]
    problems += [f'{t}: screenshot page missing' for t in missing]
    print(f'check_docs: {len(pages)} pages, {len(links)} internal links, screenshots in {shots}')
    if problems:
        print(f'FAIL: {len(problems)} problems', *problems, sep='\n  ')
        sys.exit(1)
    print('check_docs: every page passed')

if __name__ == '__main__': main()
