"The spectra workload as a user meets it: `powderflow train --config`, their own records, bad input, saved models."
import json
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch, yaml
from powderflow.spectra.simulator import SpectraError, synth_spectra
from powderflow.spectra.data import load_images, load_spectra, read_spectra_records
from powderflow.spectra.model import SpectraNet
from powderflow.spectra.training import spectra_config, predict_spectra
from conftest import cli as run

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope='module')
def user_data(tmp_path_factory):
    "The tiny simulated set turned into a user's own data: absolute paths, no simulator manifest, a differently named target"
    d = tmp_path_factory.mktemp('spectra')
    rec = pd.read_csv(synth_spectra(d/'sim', 'tiny', n_workers=0), dtype={'specimen': str})
    own = d/'own'; own.mkdir()
    rec['image_path'] = [str(d/'sim'/p) for p in rec.image_path]
    rec['spectra_path'] = [str(d/'sim'/p) for p in rec.spectra_path]
    rec.rename(columns={'target': 'HV'}).to_csv(own/'records.csv', index=False)
    return own

def config_file(path, *changes):
    "The shipped attention config with `changes` applied in order (a section's keys merged, other settings replaced)"
    conf = yaml.safe_load((ROOT/'configs'/'spectra_attention.yaml').read_text())
    for change in changes:
        for k, v in change.items(): conf[k] = conf[k] | v if isinstance(v, dict) else v
    path.write_text(yaml.safe_dump(conf)); return path

def test_train_from_the_shipped_config(tmp_path):
    "The issue's command, at the tiny profile: a model in the Hugging Face layout that loads and predicts what training saw"
    r = run('train', '--config', ROOT/'configs'/'spectra_attention.yaml', '--profile', 'tiny', '--epochs', '2', '--out', tmp_path/'run', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'test specimen(s) 2' in r.stdout
    out = tmp_path/'run'
    assert {p.name for p in (out/'model').iterdir()} >= {'config.json', 'model.safetensors'}
    assert not list(out.rglob('*.pkl')) and not list((out/'model').glob('*.pth'))
    conf = json.loads((out/'model'/'config.json').read_text())
    assert conf['model']['fusion'] == 'attention' and conf['model']['grid'] == [6, 4] and 'powderflow' in conf
    hist = pd.read_csv(out/'history.csv'); assert len(hist) == 2
    saved = yaml.safe_load((out/'config.yaml').read_text()); assert saved['train']['epochs'] == 2 and saved['profile'] == 'tiny'
    pred = pd.read_csv(out/'predictions.csv', dtype={'specimen': str})
    assert set(pred.specimen) == {'2'} and np.isfinite(pred.pred).all()
    model = SpectraNet.from_pretrained(out/'model')
    df = read_spectra_records(tmp_path/'spectra-data-tiny-seed0'/'records.csv')   # the simulated set goes beside the run folder
    test = df[df.record_id.isin(pred.record_id)].set_index('record_id').loc[pred.record_id].reset_index()
    p = predict_spectra(model, load_images(test, saved['train']['size']), load_spectra(test))
    np.testing.assert_allclose(p, pred.pred, atol=1e-3)

def test_json_config_on_users_records(tmp_path, user_data):
    "A JSON config, the simple fusion, the user's own records with another target column and the specimens swapped"
    conf = dict(task='spectra', profile='tiny', out=str(tmp_path/'simple'), data=dict(root=str(user_data), target='HV', train_specimens=['2'], test_specimens=['1']),
                model=dict(fusion='simple'), train=dict(epochs=1, device='cpu'))
    (tmp_path/'simple.json').write_text(json.dumps(conf))
    r = run('train', '--config', tmp_path/'simple.json', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    pred = pd.read_csv(tmp_path/'simple'/'predictions.csv', dtype={'specimen': str})
    assert set(pred.specimen) == {'1'} and len(pred) == 32
    assert not list(tmp_path.glob('spectra-data-*'))   # nothing simulated: the user's data were used

@pytest.mark.parametrize('change, message', [
    (dict(data=dict(test_specimens=['3'])), "specimen '3' of the test split is not in the records (specimens: 1, 2)"),
    (dict(model=dict(fusion='late')), "fusion must be 'simple' or 'attention', not 'late'"),
    (dict(model=dict(layers=3)), "model: unknown setting 'layers'"),
    (dict(train=dict(lr='fast')), 'train: lr must be a number'),
    (dict(logging=dict(wandb=True)), 'needs the wandb package (pip install wandb)'),
    (dict(data=dict(root='/no/such/folder')), '/no/such/folder: no records.csv'),
])
def test_bad_configs(tmp_path, user_data, change, message):
    if 'wandb' in str(change):
        try: import wandb; pytest.skip('wandb is installed here: the missing-package error cannot happen')  # noqa: E702
        except ImportError: pass
    f = config_file(tmp_path/'bad.yaml', dict(profile='tiny', out=str(tmp_path/'run'), data=dict(root=str(user_data), target='HV')), change)
    r = run('train', '--config', f, '--epochs', '1', cwd=tmp_path)
    assert r.returncode == 1 and message in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert not (tmp_path/'run'/'model').exists()

def test_malformed_yaml(tmp_path):
    (tmp_path/'c.yaml').write_text('task: spectra\nmodel: {fusion: simple\n')
    r = run('train', '--config', tmp_path/'c.yaml', cwd=tmp_path)
    assert r.returncode == 1 and 'c.yaml: not valid YAML' in r.stderr and 'Traceback' not in r.stderr, r.stderr

@pytest.mark.parametrize('kind, message', [
    ('shape', 'spectra of shape (24, 1599), expected (24, 1600)'),
    ('nan', 'NaN or infinite values in spectrum 7'),
    ('image', 'image_path'),
])
def test_bad_records(tmp_path, user_data, kind, message):
    "Each bad record is one clear error naming the file, before anything is trained or written"
    rec = pd.read_csv(user_data/'records.csv', dtype={'specimen': str})
    bad = tmp_path/'data'; bad.mkdir()
    if kind == 'image': rec.loc[5, 'image_path'] = str(bad/'missing.png')
    else:
        a = np.load(rec.spectra_path[5])
        a = a[:, :-1] if kind == 'shape' else np.where(np.arange(24)[:, None] == 7, np.nan, a)
        np.save(bad/'spot.npy', a.astype(np.float32)); rec.loc[5, 'spectra_path'] = str(bad/'spot.npy')
    rec.to_csv(bad/'records.csv', index=False)
    f = config_file(tmp_path/'c.yaml', dict(profile='tiny', out=str(tmp_path/'run'), data=dict(root=str(bad), target='HV')))
    r = run('train', '--config', f, cwd=tmp_path)
    assert r.returncode == 1 and message in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert ('missing.png' if kind == 'image' else 'spot.npy') in r.stderr and 'line 7' in r.stderr   # record 5: CSV line 7
    assert not (tmp_path/'run'/'model').exists()

@pytest.mark.parametrize('fusion', ['simple', 'attention'])
def test_save_pretrained_round_trip(tmp_path, fusion):
    "Weights, normalisation and constructor arguments survive; a model of other settings is refused, not half-loaded"
    torch.manual_seed(0)
    m = SpectraNet(fusion, d_model=32, hidden=64).set_stats(np.random.rand(5, 24, 1600) * 3, [200., 210., 250., 190., 230.]).eval()
    m.save_pretrained(tmp_path/'m')
    m2 = SpectraNet.from_pretrained(tmp_path/'m')
    x, s = torch.rand(3, 3, 64, 64), torch.rand(3, 24, 1600)
    with torch.no_grad(): torch.testing.assert_close(m2(x, s), m(x, s))
    torch.testing.assert_close(m2.decode(torch.zeros(1)), torch.tensor([216.]))
    from safetensors.torch import load_file, save_file
    sd = load_file(str(tmp_path/'m'/'model.safetensors')); sd.pop('spec_mean')   # a file without the spectra normalisation
    save_file(sd, str(tmp_path/'m'/'model.safetensors'))
    with pytest.raises(RuntimeError, match="Missing key.*spec_mean"): SpectraNet.from_pretrained(tmp_path/'m')

def test_config_precedence(tmp_path):
    "Defaults, then the file, then overrides; profile defaults fill what is left"
    f = config_file(tmp_path/'c.yaml', dict(profile='quick', train=dict(epochs=5)))
    c = spectra_config(f)
    assert (c['train']['epochs'], c['train']['size'], c['profile']) == (5, 128, 'quick')
    c = spectra_config(f, profile='tiny', train=dict(epochs=2))
    assert (c['train']['epochs'], c['train']['size'], c['train']['bs']) == (2, 64, 8)
    with pytest.raises(SpectraError, match="task must be 'spectra'"): spectra_config(dict(task='powder'))

def test_metallo_layout_trains_end_to_end(tmp_path):
    "A folder in Metallo's layout, from `powderflow train --config` to a saved model and test predictions on slice 3"
    import yaml
    from powderflow.spectra.metallo import demo_metallo
    root = demo_metallo(tmp_path/'metallo', slices=('1', '2', '3'), time_points=('0', '5', '10'), size=32)
    cfg = yaml.safe_load((ROOT/'configs'/'spectra_metallo.yaml').read_text())
    cfg['data']['root'] = str(root); cfg['out'] = str(tmp_path/'run')
    (tmp_path/'m.yaml').write_text(yaml.safe_dump(cfg))
    r = run('train', '--config', tmp_path/'m.yaml', '--profile', 'tiny', '--epochs', '2')
    assert r.returncode == 0, r.stderr[-3000:]
    pred = pd.read_csv(tmp_path/'run'/'predictions.csv', dtype={'specimen': str})
    assert len(pred) == 3 * 32 and set(pred.specimen) == {'3'} and np.isfinite(pred.pred).all()
    assert (tmp_path/'run'/'model'/'model.safetensors').exists()
    # validation by time point takes whole time points of the training slices
    from powderflow.spectra.training import spectra_config, experiment_data
    c = spectra_config(tmp_path/'m.yaml', profile='tiny')
    df = experiment_data(c, tmp_path/'run')[0]
    v = df[df.split == 'valid']
    assert len(v) == 32 and v.time_point.nunique() == 1 and not df[(df.split == 'train')].record_id.str.startswith(v.record_id.iloc[0].rsplit('/', 1)[0] + '/').any()
    # bad layout: one error naming the file
    np.save(root/'2'/'5'/'spectrum.npy', np.zeros((768, 1599), np.float32))
    r = run('train', '--config', tmp_path/'m.yaml', '--profile', 'tiny', '--out', tmp_path/'r2')
    assert r.returncode == 1 and 'spectrum.npy: spectra of shape (768, 1599)' in r.stderr and 'Traceback' not in r.stderr, r.stderr[-2000:]
    assert not (tmp_path/'r2').exists()
