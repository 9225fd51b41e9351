"The simulated benchmark as a user makes it: the CLI, the seed format end to end, interruption, bad parameters."
import hashlib, os, shutil, signal, subprocess, sys, time
from pathlib import Path
import numpy as np, pandas as pd, pytest, tifffile
from powderflow.conversion import convert_tiles, list_tiles, read_tile
from powderflow.synthetic import Powder, SynthError, default_powders, synthesize
from test_cli import run

def digest(folder):
    return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(Path(folder).rglob('*.tiff'))}

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
    assert records.Flow_rate.isna().equals(~records.flowable)
    # the records CSV is a valid input of the converter
    df = convert_tiles(tmp_path/'d'/'records.csv', tmp_path/'c', methods=['PC'], n_workers=2, progress=False)
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
    assert 40 <= len(written) < 480 and not (out/'records.csv').exists()
    for f in written: assert read_tile(f)[0].dtype == np.uint16  # whole tiles only
    synthesize(out, 'quick', progress=False)                     # resume
    synthesize(tmp_path/'fresh', 'quick', progress=False)        # and an uninterrupted run
    assert digest(out) == digest(tmp_path/'fresh') and len(digest(out)) == 480
    assert not list(out.rglob('*.tmp'))

@pytest.mark.parametrize('args, message', [
    (['--profile', 'huge'], "unknown profile 'huge'; known: tiny, quick, full"),
    (['--tiles-per-mag', '0'], 'tiles_per_mag must be at least 1, not 0'),
    (['--size', '-64'], 'size must be at least'),
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
        Powder('p', 'Cu', 'gas atomised', 30, 0.4, 1.5, 0.5, 0.1, 0.1)

def test_default_set_matches_the_seed_balance_for_other_seeds():
    for seed in (1, 2, 3):
        p = default_powders(seed)
        assert len(p) == 38 and p.flowable.sum() == 21 and p.name.is_unique
        assert p.Flow_rate.isna().equals(~p.flowable)
