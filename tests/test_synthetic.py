"The simulated benchmark as a user makes it: the CLI, the seed format end to end, interruption, bad parameters."
import hashlib, os, re, shutil, signal, subprocess, sys, time
from pathlib import Path
import numpy as np, pandas as pd, pytest, tifffile
from powderflow.conversion import convert_tiles, read_tile
from powderflow.synthetic import Powder, SynthError, default_powders, synthesize
from conftest import cli as run

def digest(folder, pattern='*.tiff'):
    return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(Path(folder).rglob(pattern)) if p.is_file()}

def test_cli_synth_then_convert(tmp_path):
    r = run('synth', '--profile', 'tiny', '--out', tmp_path/'d', '--seed-format', '--workers', 2)
    assert r.returncode == 0, r.stderr
    assert '48 tiles' in r.stdout
    records = pd.read_csv(tmp_path/'d'/'records.csv')
    powders = pd.read_csv(tmp_path/'d'/'powders.csv')
    assert set(records.powder_name) == set(powders.name) and len(powders) == 8
    # labels in the records are the powders' labels, and CI = 100 (1 - 1/HR)
    merged = records.merge(powders, left_on='powder_name', right_on='name', suffixes=('', '_p'))
    np.testing.assert_array_equal(merged.AOR, merged.AOR_p)
    np.testing.assert_allclose(records.CI, 100 * (1 - 1 / records.HR), atol=1e-12)
    assert records.Hall_time.isna().equals(~records.flowable)
    # the records CSV is a valid input of the converter
    df = convert_tiles(tmp_path/'d'/'records.csv', tmp_path/'c', pipelines=['PC'], n_workers=2, progress=False)
    assert (df.status == 'done').sum() == 48
    # the seed format: every tile x 12 pipelines, found on disk from the CSV's Windows-style paths
    seed = pd.read_csv(tmp_path/'d'/'seed'/'data.csv')
    assert len(seed) == 48 * 12 and seed.convert_method.nunique() == 12
    for p in seed.image_path.sample(20, random_state=0):
        f = tmp_path/'d'/'seed'/Path(*p.replace('{DATASET_ROOT}/', '').split('\\'))
        assert tifffile.imread(f).dtype == np.uint8
    np.testing.assert_allclose(seed.magnification_scaled, (np.log(seed.magnification) - 6.681) / 0.5561)

def test_killed_generation_resumes_to_the_same_bytes(tmp_path):
    out = tmp_path/'q'
    exe = shutil.which('powderflow') or str(Path(sys.executable).parent/'powderflow')
    p = subprocess.Popen([exe, 'synth', '--profile', 'quick', '--out', str(out), '--workers', '2'],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(out.rglob('tile_*.tiff'))) < 40: time.sleep(0.02)
    os.killpg(p.pid, signal.SIGKILL); p.wait()
    written = list(out.rglob('tile_*.tiff'))
    assert 40 <= len(written) < 960 and not (out/'records.csv').exists()
    for f in written: assert read_tile(f)[0].dtype == np.uint16  # whole tiles only
    synthesize(out, 'quick', progress=False)                     # resume
    synthesize(tmp_path/'fresh', 'quick', progress=False)        # and an uninterrupted run
    assert digest(out) == digest(tmp_path/'fresh') and len(digest(out)) == 960
    assert not list(out.rglob('*.tmp'))

@pytest.mark.parametrize('args, message', [
    (['--profile', 'huge'], "unknown profile 'huge'; known: tiny, quick, full"),
    (['--tiles-per-mag', '0'], 'tiles_per_mag must be a whole number of at least 1, not 0'),
    (['--size', '-64'], 'size must be a whole number of at least 8, not -64'),
    (['--seed', '-1'], 'seed must be a non-negative integer, not -1'),
])
def test_cli_bad_parameters(tmp_path, args, message):
    r = run('synth', '--out', tmp_path/'x', *args)
    assert r.returncode == 1 and message in r.stderr and 'Traceback' not in r.stderr, r.stderr

def test_folder_with_another_data_set_is_refused(tmp_path):
    synthesize(tmp_path/'d', 'tiny', progress=False, n_workers=0)
    before = digest(tmp_path/'d')
    r = run('synth', '--out', tmp_path/'d', '--seed', 3)
    assert r.returncode == 1 and 'holds a different data set' in r.stderr
    assert digest(tmp_path/'d') == before  # nothing touched
    r = run('synth', '--out', tmp_path/'d', '--seed', 3, '--overwrite', '--workers', 0)
    assert r.returncode == 0 and digest(tmp_path/'d') != before

def test_impossible_powder():
    with pytest.raises(SynthError, match=r"powder 'p': impossible sphericity=1.5, aspect=0.5"):
        Powder(name='p', material='Cu', route='gas atomised', d50_um=30, sigma=0.4, sphericity=1.5,
               aspect=0.5, satellites=0.1, roughness=0.1)

def test_default_set_matches_the_seed_balance_for_other_seeds():
    for seed in (1, 2, 3):
        p = default_powders(seed)
        assert len(p) == 38 and p.flowable.sum() == 21 and p.name.is_unique
        assert p.Hall_time.isna().equals(~p.flowable)

def test_same_bytes_whatever_the_worker_count(tmp_path):
    synthesize(tmp_path/'serial', 'tiny', seed_format=True, n_workers=0, progress=False)
    synthesize(tmp_path/'three', 'tiny', seed_format=True, n_workers=3, progress=False)
    a, b = digest(tmp_path/'serial', '*'), digest(tmp_path/'three', '*')
    assert a == b and {'records.csv', 'powders.csv', 'manifest.json', 'seed/data.csv'} <= set(a) and len(a) > 600

def test_foreign_folders_are_never_touched(tmp_path):
    mine = tmp_path/'mine'; mine.mkdir(); (mine/'records.csv').write_text('my,own\n1,2\n')
    with pytest.raises(FileExistsError, match='holds other files and no data set of the simulator'):
        synthesize(mine, 'tiny', progress=False, overwrite=True)
    assert (mine/'records.csv').read_text() == 'my,own\n1,2\n'
    app = tmp_path/'app'; (app/'tiles').mkdir(parents=True); (app/'tiles'/'precious.png').write_bytes(b'x')
    (app/'manifest.json').write_text('{"name": "my app"}')
    with pytest.raises(FileExistsError, match='not a powderflow.synthetic manifest'):
        synthesize(app, 'tiny', progress=False, overwrite=True)
    assert (app/'tiles'/'precious.png').exists()
    (app/'manifest.json').write_text('{not json')
    with pytest.raises(FileExistsError, match='manifest.json: not a readable manifest'): synthesize(app, 'tiny', progress=False)

def test_interrupted_overwrite_leaves_no_stale_tables(tmp_path, monkeypatch):
    import powderflow.synthetic as syn
    synthesize(tmp_path/'d', 'tiny', n_workers=0, progress=False)
    def interrupted(*a, **k): raise KeyboardInterrupt
    monkeypatch.setattr(syn, 'parallel_map', interrupted)
    with pytest.raises(KeyboardInterrupt): synthesize(tmp_path/'d', 'tiny', seed=3, overwrite=True, n_workers=0, progress=False)
    monkeypatch.undo()
    assert not (tmp_path/'d'/'records.csv').exists() and not (tmp_path/'d'/'tiles').exists()  # no seed-0 tables pointing at nothing
    synthesize(tmp_path/'d', 'tiny', seed=3, n_workers=0, progress=False)   # resumes as seed 3
    synthesize(tmp_path/'fresh', 'tiny', seed=3, n_workers=0, progress=False)
    assert digest(tmp_path/'d', '*') == digest(tmp_path/'fresh', '*')

@pytest.mark.parametrize('kw, message', [
    (dict(max_mags=0), 'max_mags must be a whole number of at least 1 (or None), not 0'),
    (dict(n_powders=3.5), 'n_powders must be a whole number of at least 2 (or None), not 3.5'),
    (dict(tiles_per_mag=2.5), 'tiles_per_mag must be a whole number of at least 1, not 2.5'),
    (dict(n_powders=39), 'n_powders must be at most 38'),
])
def test_bad_profile_overrides(tmp_path, kw, message):
    with pytest.raises(SynthError, match=re.escape(message)): synthesize(tmp_path/'x', 'tiny', progress=False, **kw)
    assert not (tmp_path/'x').exists()  # checked before anything is written
