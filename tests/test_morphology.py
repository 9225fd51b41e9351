"`powderflow morphology` as a user runs it, and the segmentation against ground truth (simulated masks, real hand outlines)."

from pathlib import Path
import numpy as np, pandas as pd, pytest, tifffile, cv2
from conftest import REPO
from test_cli import run
from powderflow import synthetic as syn
from powderflow.conversion import write_tile
from powderflow.morphology import segment_particles, match_instances, grey8, measure_particles, annotated_check

REAL = REPO.parent/'shared'/'real-sem'/'ampis-powder'
needs_real = pytest.mark.skipif(not REAL.exists(), reason=f'{REAL} is not here: the real annotated micrographs are checked where it is')

def powder(name):
    row = syn.default_powders().set_index('name').loc[name]
    return syn.Powder(name=name, **{k: row[k] for k in syn.Powder.__dataclass_fields__ if k != 'name'})

def write_powder(folder, name, n=2, size=256, seed=0):
    p, rng = powder(name), np.random.default_rng(seed)
    (Path(folder)/name).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img, _, meta = syn.render_tile(p, 127000 / (p.number_median_um / 30 * size), size, rng, frame_px=size)
        write_tile(Path(folder)/name/f'tile_{i}.tif', img, meta['magnification'], meta['pixel_size_um'])

def test_cli_writes_labels_tables_and_figures(tmp_path):
    for name in ('Cu-GA-15', 'Fe-WA-24'): write_powder(tmp_path/'tiles', name)
    r = run('morphology', tmp_path/'tiles', '--out', tmp_path/'out')
    assert r.returncode == 0, r.stderr
    assert 'Cu-GA-15' in r.stdout and 'D50' in r.stdout
    parts, pows = pd.read_csv(tmp_path/'out'/'particles.csv'), pd.read_csv(tmp_path/'out'/'powders.csv')
    assert sorted(pows.powder_name) == ['Cu-GA-15', 'Fe-WA-24'] and set(pows.unit) == {'um'}
    for tile in sorted((tmp_path/'tiles').rglob('*.tif')):
        lab = tifffile.imread(tmp_path/'out'/'labels'/tile.parent.name/f'{tile.stem}_labels.tif')
        assert lab.shape == (256, 256) and lab.dtype == np.uint16
        assert lab.max() == (parts.image == str(tile)).sum() == len(np.unique(lab)) - 1   # one row per particle, ids 1..n
    for _, p in pows.iterrows():   # what each statistic rests on, and an interval around D50
        assert p.n_particles == ((parts.powder_name == p.powder_name) & ~parts.border).sum() > 20
        assert p.D50_lo < p.D50 < p.D50_hi and p.D10 < p.D50 < p.D90 < p.Dv90
    # the gas-atomised powder is rounder than the water-atomised one, as the simulator made them
    c = pows.set_index('powder_name').circularity_mean
    assert c['Cu-GA-15'] > c['Fe-WA-24'] + 0.05, c
    assert (tmp_path/'out'/'figures'/'Cu-GA-15.png').stat().st_size > 20_000

def test_cli_bad_input(tmp_path):
    write_powder(tmp_path/'tiles', 'Cu-GA-15', n=1)
    tile = next((tmp_path/'tiles').rglob('*.tif'))
    for bad in ('0', '-2', 'ten'):
        r = run('morphology', tile, '--out', tmp_path/'o', '--pixel-size', bad)
        assert r.returncode == 1 and f"pixel size is '{bad}'" in r.stderr and 'Traceback' not in r.stderr, r.stderr
    r = run('morphology', tile, '--out', tmp_path/'o', '--pixel-size', '0.5', '--magnification', '500')
    assert r.returncode == 2 and 'not allowed with argument' in r.stderr
    cv2.imwrite(str(tmp_path/'flat.png'), np.full((64, 64), 7, np.uint8))
    (tmp_path/'junk.tif').write_bytes(b'II*\x00 garbage')
    for f, msg in (('flat.png', 'flat.png: constant image'), ('junk.tif', 'junk.tif: not a readable TIFF')):
        r = run('morphology', tile, tmp_path/f, '--out', tmp_path/'o2')
        assert r.returncode == 1 and msg in r.stderr and 'Traceback' not in r.stderr, r.stderr
        assert not (tmp_path/'o2'/'particles.csv').exists()   # no table from a half-done run
        assert not list((tmp_path/'o2').rglob('.*.tmp'))        # and no temporary left behind

def test_segmentation_on_simulated_atomised_powders():
    "Against the simulator's exact instance masks: gas- and plasma-atomised particles are found, and sized"
    rng, f1, ratio = np.random.default_rng(1), [], []
    for name in ('Cu-GA-15', 'Ni-PA-74', 'Cu-GA-41'):
        p = powder(name)
        img, true, meta = syn.render_tile(p, 127000 / (p.number_median_um / 30 * 384), 384, rng, frame_px=384, instances=True)
        true = np.where((np.bincount(true.ravel()) < 20)[true], 0, true)
        labels, _ = segment_particles(grey8(img))
        f1.append(match_instances(true, labels)['f1'])
        found, truth = measure_particles(labels), measure_particles(true)
        ratio.append(found.ed[~found.border].median() / truth.ed[~truth.border].median())
    assert min(f1) > 0.8, f1
    assert max(abs(np.array(ratio) - 1)) < 0.3, ratio

@needs_real
def test_real_micrographs_in_and_out(tmp_path):
    r = run('morphology', REAL, '--out', tmp_path/'out', '--pixel-size', '0.25', '--no-figures')
    assert r.returncode == 0, r.stderr
    labels = sorted((tmp_path/'out'/'labels').glob('*_labels.tif'))
    assert len(labels) == 9 and all(tifffile.imread(f).shape == (1024, 1536) for f in labels)
    pows = pd.read_csv(tmp_path/'out'/'powders.csv')
    assert pows.n_images.tolist() == [9] and pows.n_particles.iloc[0] > 1000
    r = run('morphology', REAL/'Sc1Tile_001-001-000_0-000.png', '--out', tmp_path/'px')
    assert r.returncode == 0 and pd.read_csv(tmp_path/'px'/'powders.csv').unit.tolist() == ['px']   # no scale: pixels, said so

@pytest.fixture(scope='module')
def real_check():
    return annotated_check(REAL, REAL/'via_powder_particle_masks_training.json')

@needs_real
def test_real_annotated_f1_floor(real_check):
    "Floor on the real micrographs outlined by hand: instance F1 >= 0.75 on each; and a particle found is sized within 10 %"
    assert (real_check.f1 >= 0.75).all(), real_check[['image', 'f1']]
    assert ((real_check.matched_ed_ratio - 1).abs() <= 0.10).all(), real_check[['image', 'matched_ed_ratio']]

@needs_real
@pytest.mark.xfail(strict=True, reason='not met: the whole particles found have a median diameter up to 24 % above the annotation (3 of 4 images) '
                   '(small particles peeking from behind larger ones are still merged into them); kept as the floor to reach')
def test_real_annotated_median_diameter_floor(real_check):
    "Floor: the median equivalent diameter of the whole particles within 10 % of the annotation's, on each image"
    assert ((real_check.median_ed_ratio - 1).abs() <= 0.10).all(), real_check[['image', 'median_ed_ratio']]

@needs_real
def test_real_annotated_median_interval(real_check):
    "The annotated median's 95 % interval is reported relative to it: it holds 1 and, at 175-295 whole particles an image, spans more than the floor's +-10 %"
    lo, hi = real_check.annotated_median_low, real_check.annotated_median_high
    assert ((lo < 1) & (hi > 1)).all() and ((hi - lo) > 0.2).all(), real_check[['image', 'annotated_median_low', 'annotated_median_high']]
