"`llmlit.data` beyond the notebook: zip members, cache reuse and refusal, trust-on-first-use, offline errors."
import os, zipfile, pytest
from pathlib import Path
from llmlit.core import sha256_file
from llmlit.data import SOURCES, FetchError, Source, fetch, load_corpus, register_source

MIRROR = Path(os.environ.get('LLMLIT_DATA', Path(__file__).parents[2]/'shared/data'))

@pytest.fixture
def source():
    "Register a throwaway source for one test."
    names = []
    def make(**kw):
        names.append(kw['name']); return register_source(Source(**kw))
    yield make
    for n in names: SOURCES.pop(n, None)

def test_all_named_datasets_in_the_mirror_pass_their_checksum():
    for name, src in SOURCES.items():
        if src.sha256 is None: continue
        p = fetch(name, mirror=MIRROR, offline=True)
        assert sha256_file(p) == src.sha256 and p.stat().st_size == src.size

def test_zip_member_is_extracted_and_verified(tmp_path, source):
    z = tmp_path/'sms.zip'
    with zipfile.ZipFile(z, 'w') as f:
        f.write(MIRROR/'SMSSpamCollection.tsv', 'SMSSpamCollection'); f.writestr('readme', 'x')
    src = source(name='t-sms', url=z.as_uri(), sha256=SOURCES['sms-spam'].sha256, size=477_907, license='CC BY 4.0',
                 filename='sms.tsv', kind='tsv', member='SMSSpamCollection')
    p = fetch('t-sms', mirror=tmp_path/'none', cache=tmp_path/'cache', offline=False)
    assert p == tmp_path/'cache/sms.tsv' and sha256_file(p) == src.sha256
    assert sorted(os.listdir(tmp_path/'cache')) == ['sms.tsv'], 'no temporary files left behind'

def test_cache_is_reused_offline_and_a_corrupt_cache_is_refused(tmp_path, source):
    source(name='t-verdict', url=(MIRROR/'the-verdict.txt').as_uri(), sha256=SOURCES['the-verdict'].sha256, size=20_479,
           license='pd', filename='v.txt')
    p = fetch('t-verdict', mirror='', cache=tmp_path, offline=False)
    assert fetch('t-verdict', mirror='', cache=tmp_path, offline=True) == p
    p.write_text('tampered')
    with pytest.raises(FetchError, match=r'Cached file .*v.txt.*corrupt.*not used'):
        fetch('t-verdict', mirror='', cache=tmp_path, offline=True)

def test_unpinned_source_is_held_to_its_first_download(tmp_path, source):
    (tmp_path/'a.json').write_text('[1]')
    source(name='t-unpinned', url=(tmp_path/'a.json').as_uri(), sha256=None, size=None, license='?', filename='u.json', kind='json')
    p = fetch('t-unpinned', mirror='', cache=tmp_path/'c', offline=False)
    assert (tmp_path/'c/u.json.sha256').read_text() == sha256_file(p)
    p.write_text('[2]')
    with pytest.raises(FetchError, match='its first download had'): fetch('t-unpinned', mirror='', cache=tmp_path/'c')

def test_unreachable_url_names_dataset_url_and_mirror(tmp_path, source):
    source(name='t-gone', url=(tmp_path/'missing.txt').as_uri(), sha256='0'*64, size=1, license='?', filename='g.txt')
    with pytest.raises(FetchError, match=r"Could not download dataset 't-gone' from file://.*missing.txt.*LLMLIT_DATA"):
        fetch('t-gone', mirror='', cache=tmp_path, offline=False)
    assert not (tmp_path/'g.txt').exists()

def test_offline_env_var_blocks_the_network(tmp_path, monkeypatch):
    monkeypatch.setenv('LLMLIT_OFFLINE', '1'); monkeypatch.delenv('LLMLIT_DATA', raising=False)
    with pytest.raises(FetchError, match=r"'the-verdict' is not available offline: no mirror folder is set \(\$LLMLIT_DATA\)"):
        fetch('the-verdict', cache=tmp_path)

def test_corpus_errors(tmp_path):
    (tmp_path/'empty').mkdir()
    with pytest.raises(FileNotFoundError): load_corpus(str(tmp_path/'empty/*.txt'))
    (tmp_path/'empty/a.txt').write_text('')
    with pytest.raises(ValueError, match=r"is empty: .*a.txt holds no text"): load_corpus(str(tmp_path/'empty'))
    (tmp_path/'bin.txt').write_bytes(b'\xff\xfe\x00bad')
    with pytest.raises(ValueError, match='bin.txt is not UTF-8'): load_corpus(str(tmp_path/'bin.txt'))
    with pytest.raises(ValueError, match='is json, not plain text'): load_corpus('instruction-data')

def test_directory_and_recursive_glob(tmp_path):
    (tmp_path/'d/sub').mkdir(parents=True)
    (tmp_path/'d/b.txt').write_text('b'); (tmp_path/'d/sub/a.txt').write_text('a')
    assert load_corpus(str(tmp_path/'d')).texts == ['b', 'a']
    assert load_corpus(str(tmp_path/'d/**/*.txt')).texts == ['b', 'a']
