"""`powderflow explain` as a user runs it: a tiny end-to-end network and the probe recipe, each trained from the command
line, then maps of simulated tiles, of real micrographs (`../shared/real-sem`, where it is) and the bad-input rules."""
import json, time
from pathlib import Path
import pandas as pd, pytest
from conftest import cli as run

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent/'shared'/'real-sem'
AMPIS, VALID = REAL/'ampis-powder', REAL/'dualsight'/'valid'

@pytest.fixture(scope='module')
def models(tmp_path_factory):
    "Both kinds of model folder that `train` writes, trained on the tiny simulated records (about a minute)"
    d = tmp_path_factory.mktemp('explain')
    r = run('synth', '--profile', 'tiny', '--out', d/'data', '--workers', 2)
    assert r.returncode == 0, r.stderr
    # `method:`, the pipeline's former name, still read (`conversion.renamed_pipeline`)
    (d/'cfg.yaml').write_text('backbone: resnet18\nmethod: LS\nsize: 32\nepochs: 1\nbs: 8\nvalid_pct: 0.25\n'
                              'test_pct: 0.25\n')
    r = run('train', '--recipe', 'end-to-end', '--config', d/'cfg.yaml', '--records', d/'data'/'records.csv',
            '--out', d/'e2e', '--seed', 3)
    assert r.returncode == 0, r.stderr[-2000:]
    from powderflow.inference import load_model
    assert load_model(d/'e2e'/'model')[1].pipeline == 'LS'
    r = run('train', '--recipe', 'probe', '--records', d/'data'/'records.csv', '--out', d/'probe')
    assert r.returncode == 0, r.stderr[-2000:]
    return d

def check_outputs(out, images, kind):
    "A PNG per image and a completeness row per image and output"
    t = pd.read_csv(out/'completeness.csv')
    assert sorted(t.image.unique()) == sorted(map(str, images)) and set(t.model) == {kind}
    assert t.groupby('image').output.apply(list).map(lambda o: o == ['AOR', 'HR', 'flowable']).all()
    assert t.error.notna().all() and (t.threshold == 0.05).all() and t.passed.dtype == bool
    assert sorted(p.name for p in out.glob('*_maps.png')) == sorted(f'{Path(i).stem}_maps.png' for i in images)
    return t

@pytest.mark.parametrize('kind', ['e2e', 'probe'])
def test_explain_simulated_tiles(models, tmp_path, kind):
    "Both kinds of model; the scale from each tile's metadata; IG complete within 5 % on the probe's reader"
    tiles = sorted((models/'data'/'tiles').rglob('*.tif*'))[:2]
    r = run('explain', *tiles, '--model', models/kind/'model', '--out', tmp_path/'maps', '--tiles', 1, '--steps', 4)
    assert r.returncode == 0, r.stderr[-2000:]
    t = check_outputs(tmp_path/'maps', tiles, 'end-to-end' if kind == 'e2e' else 'probe')
    if kind == 'probe': assert t.passed.all(), t
    assert 'completeness.csv' in r.stdout

def test_explain_bad_input(models, tmp_path):
    "One clear error naming the file or folder, nothing half-written, no traceback"
    (tmp_path/'bad.png').write_bytes(b'\x89PNG not an image')
    r = run('explain', tmp_path/'bad.png', '--model', models/'probe'/'model', '--out', tmp_path/'o')
    assert r.returncode == 1 and 'bad.png' in r.stderr and 'Traceback' not in r.stderr, r.stderr[-2000:]
    assert not (tmp_path/'o'/'completeness.csv').exists()
    r = run('explain', tmp_path/'bad.png', '--model', tmp_path/'no-model', '--out', tmp_path/'o')
    assert r.returncode == 1 and 'no-model: no model there' in r.stderr, r.stderr[-2000:]
    tile = sorted((models/'data'/'tiles').rglob('*.tif*'))[0]
    r = run('explain', tile, '--model', models/'probe'/'model', '--out', tmp_path/'o', '--tiles', 0)
    assert r.returncode == 1 and '--tiles 0' in r.stderr

@pytest.mark.skipif(not (AMPIS.exists() and VALID.exists()),
                    reason=f'{REAL} is not here: `powderflow explain` on real micrographs is checked where it is')
@pytest.mark.parametrize('kind', ['probe', 'e2e'])
def test_explain_real_micrographs(models, tmp_path, kind):
    "Real 8-bit exports without a scale (--magnification), a gas-atomised powder and one of DualSight's"
    images = [AMPIS/'Sc1Tile_001-001-000_0-000.png', sorted(VALID.glob('*.jpg'))[0]]
    t0 = time.time()
    r = run('explain', *images, '--model', models/kind/'model', '--out', tmp_path/'maps', '--magnification', 500)
    assert r.returncode == 0, r.stderr[-2000:]
    t = check_outputs(tmp_path/'maps', images, 'end-to-end' if kind == 'e2e' else 'probe')
    if kind == 'probe': assert t.passed.all(), t   # the probe reads with the shipped network: IG complete on real images
    print(f'{kind}: {len(images)} real micrographs explained in {time.time() - t0:.0f} s')
