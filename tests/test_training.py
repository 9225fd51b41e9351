"Training from the command line as a user runs it, on the tiny profile: train, evaluate, predict, and the bad-input rules."
import json
from pathlib import Path
import numpy as np, pandas as pd, pytest
from powderflow.model import BackboneError, PowderNet
from powderflow.configuration import TrainConfig
from powderflow.inference import load_model, load_weights, save_model
from powderflow.dataset import Scalers
from conftest import cli as run

@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp('train')
    (d/'cfg.yaml').write_text('backbone: resnet18\npipeline: LS\nsize: 32\nepochs: 2\nbs: 8\nvalid_pct: 0.25\ntest_pct: 0.25\n')
    r = run('synth', '--profile', 'tiny', '--out', d/'data', '--workers', 2)
    assert r.returncode == 0, r.stderr
    r = run('train', '--recipe', 'end-to-end', '--config', d/'cfg.yaml', '--records', d/'data'/'records.csv',
            '--out', d/'run', '--seed', 3)
    assert r.returncode == 0, r.stderr
    return d, r.stdout

def test_train_writes_model_metrics_figures(trained):
    d, out = trained
    for f in ('model/model.safetensors', 'model/config.json', 'metrics.csv', 'history.csv', 'figures/parity.png', 'figures/metrics.md', 'figures/training_curves.png'):
        assert (d/'run'/f).exists(), f
    conf = json.loads((d/'run'/'model'/'config.json').read_text())
    assert conf['config']['backbone'] == 'resnet18' and conf['config']['seed'] == 3 and conf['config']['size'] == 32  # file + flag
    m = pd.read_csv(d/'run'/'metrics.csv')
    assert {'model', 'mean', 'morphometry', 'oracle'} == set(m.model)
    assert 'R2' in out and 'oracle' in out

def test_evaluate_and_predict(trained, tmp_path):
    d, _ = trained
    r = run('evaluate', '--model', d/'run'/'model', '--records', d/'data'/'records.csv', '--out', tmp_path/'ev')
    assert r.returncode == 0, r.stderr
    tested = pd.read_csv(d/'run'/'model'/'split.csv').query("split == 'test'").powder_name
    ev = pd.read_csv(tmp_path/'ev'/'powder_predictions.csv')
    assert sorted(ev.powder_name) == sorted(tested) and f'{len(tested)} powders the model has not seen' in r.stdout  # never training powders
    root = d/'data'/'tiles'
    r = run('predict', root, '--model', d/'run'/'model', '--out', tmp_path/'all.csv')
    assert r.returncode == 0, r.stderr
    assert sorted(pd.read_csv(tmp_path/'all_powders.csv').powder_name) == sorted(p.name for p in root.iterdir())
    two = sorted(next(root.iterdir()).rglob('*.tiff'))[:2]
    r = run('predict', *two, '--model', d/'run'/'model', '--out', tmp_path/'two.csv')
    assert pd.read_csv(tmp_path/'two_powders.csv').powder_name.tolist() == [next(root.iterdir()).name]  # not '500x'
    powder = sorted((d/'data'/'tiles').iterdir())[0]                      # a folder of one powder's tiles
    r = run('predict', powder, '--model', d/'run'/'model', '--out', tmp_path/'p'/'pred.csv')
    assert r.returncode == 0, r.stderr
    per_tile, per_powder = pd.read_csv(tmp_path/'p'/'pred.csv'), pd.read_csv(tmp_path/'p'/'pred_powders.csv')
    assert len(per_tile) == len(list(powder.rglob('*.tiff'))) and per_powder.powder_name.tolist() == [powder.name]
    assert per_powder.n_tiles[0] == len(per_tile) and per_powder.AOR_sd[0] >= 0
    np.testing.assert_allclose(per_tile.CI, 100 * (1 - 1 / per_tile.HR.clip(lower=1)), atol=1e-9)
    assert per_tile.p_flowable.between(0, 1).all()

def test_bad_inputs(trained, tmp_path):
    d, _ = trained
    r = run('train', '--recipe', 'end-to-end', '--records', d/'data'/'records.csv', '--backbone', 'resnet19', '--epochs', 1, '--out', tmp_path/'x')
    assert r.returncode == 1 and "unknown backbone 'resnet19'" in r.stderr and 'Traceback' not in r.stderr
    (tmp_path/'ten.yaml').write_text('epochs: ten\n')
    r = run('train', '--recipe', 'end-to-end', '--config', tmp_path/'ten.yaml', '--records', d/'data'/'records.csv')
    assert r.returncode == 1 and "epochs must be int, not 'ten'" in r.stderr and 'Traceback' not in r.stderr
    (tmp_path/'bad.json').write_text('{oops')
    r = run('train', '--config', tmp_path/'bad.json', '--records', d/'data'/'records.csv')
    assert r.returncode == 1 and 'bad.json: not valid JSON' in r.stderr
    (tmp_path/'bad.yaml').write_text('backbone: resnet18\nlearning_rate: 3\n')
    r = run('train', '--recipe', 'end-to-end', '--config', tmp_path/'bad.yaml', '--records', d/'data'/'records.csv')
    assert r.returncode == 1 and 'unknown setting(s) learning_rate' in r.stderr
    rec = pd.read_csv(d/'data'/'records.csv'); rec.loc[2, 'magnification'] = 0; rec.to_csv(tmp_path/'r.csv', index=False)
    r = run('evaluate', '--model', d/'run'/'model', '--records', tmp_path/'r.csv')
    assert r.returncode == 1 and 'r.csv: column magnification: zero or negative in row(s) 4' in r.stderr
    with pytest.raises(BackboneError, match="is for backbone 'resnet18', not 'regnety_004'"): load_model(d/'run'/'model', backbone='regnety_004')
    with pytest.raises(BackboneError, match='does not fit this model'):
        load_weights(PowderNet('mobilenetv3_large_100'), d/'run'/'model'/'model.safetensors', 'resnet18')
    import tifffile
    from powderflow.conversion import read_tile
    tifffile.imwrite(tmp_path/'nomag.tiff', read_tile(sorted((d/'data'/'tiles').rglob('*.tiff'))[0])[0])
    r = run('predict', tmp_path/'nomag.tiff', '--model', d/'run'/'model', '--out', tmp_path/'o.csv')
    assert r.returncode == 1 and 'nomag.tiff: no scale' in r.stderr and '--pixel-size UM or --magnification M' in r.stderr

def test_run_folder_belongs_to_one_run(trained, tmp_path):
    d, _ = trained
    r = run('train', '--recipe', 'end-to-end', '--config', d/'cfg.yaml', '--records', d/'data'/'records.csv', '--out', d/'run', '--seed', '4')
    assert r.returncode == 1 and 'holds a run with other settings or data' in r.stderr
    before = {f: (d/'run'/f).stat().st_mtime_ns for f in ('history.csv', 'models/best.pth')}
    r = run('train', '--recipe', 'end-to-end', '--config', d/'cfg.yaml', '--records', d/'data'/'records.csv', '--out', d/'run', '--seed', '3')
    assert r.returncode == 0, r.stderr   # the same run again: already finished, reused (nothing trained, nothing rewritten)
    assert {f: (d/'run'/f).stat().st_mtime_ns for f in before} == before
    info = json.loads((d/'run'/'run.json').read_text())
    assert info['finished'] and f"trained in {info['train_s']:.0f} s" in r.stdout

def test_history_of_a_resumed_run_plots(tmp_path):
    from powderflow.training import plot_history
    (tmp_path/'h.csv').write_text('epoch,train_loss,valid_loss,time\n0,3.0,2.5,00:01\n1,2.0,2.2,00:01\n'
                                  'epoch,train_loss,valid_loss,time\n0,00:00\n1,00:00\n2,1.5,2.0,00:01\n')
    ax = plot_history(tmp_path/'h.csv').axes[0]
    assert list(ax.lines[0].get_xdata()) == [0, 1, 2] and list(ax.lines[1].get_ydata()) == [2.5, 2.2, 2.0]

def test_extra_inputs_must_be_given(tmp_path, trained):
    from powderflow.dataset import RecordError
    from powderflow.inference import predict_files
    cfg = TrainConfig(backbone='resnet18', size=32, extra_cols=('density',))
    save_model(PowderNet('resnet18', n_inputs=2), cfg, Scalers(extra_cols=('density',), extra_mean=(6.,), extra_std=(2.,)), tmp_path/'m')
    d, _ = trained
    tile = sorted((d/'data'/'tiles').rglob('*.tiff'))[0]
    with pytest.raises(RecordError, match='the model also needs density'): predict_files(tmp_path/'m', [tile])
    tiles, powders = predict_files(tmp_path/'m', [tile], extra={'density': 8.9})
    assert len(tiles) == 1 and np.isfinite(tiles.AOR[0])

def test_gpu_code_path_runs_on_cpu(trained, tmp_path):
    "What a GPU run turns on by default, bf16 autocast and channels_last, forced on the CPU at the tiny profile"
    import torch
    from fastai.callback.channelslast import ChannelsLast
    from powderflow.configuration import profile_config
    from powderflow.training import run_training, make_learner, BF16Autocast
    d, _ = trained
    cfg = profile_config('tiny', backbone='resnet18', size=32, epochs=2, precision='bf16', memory_format='channels_last')
    seen = []   # (dtype, channels_last?) of every convolution's output while gradients are on, i.e. in training steps
    def hook(m, i, o):
        if isinstance(m, torch.nn.Conv2d) and torch.is_grad_enabled(): seen.append((o.dtype, o.is_contiguous(memory_format=torch.channels_last)))
    h = torch.nn.modules.module.register_module_forward_hook(hook)
    try: res = run_training(d/'data'/'records.csv', cfg, tmp_path/'run', device='cpu')
    finally: h.remove()
    assert seen and set(seen) == {(torch.bfloat16, True)}, set(seen)
    learn = res.learn
    assert any(isinstance(c, BF16Autocast) for c in learn.cbs) and any(isinstance(c, ChannelsLast) for c in learn.cbs)
    preds, _ = learn.get_preds(dl=learn.dls.valid)   # fastai's validation loop under the same callbacks
    assert preds.dtype == torch.float32 and torch.isfinite(preds).all()
    hist = pd.read_csv(tmp_path/'run'/'history.csv')
    assert len(hist) == 2 and np.isfinite(hist.train_loss).all() and np.isfinite(hist.valid_loss).all()
    assert np.isfinite(res.tiles[['AOR', 'HR', 'p_flowable']].to_numpy()).all()
    model, cfg2, _ = load_model(tmp_path/'run'/'model')
    assert cfg2.precision == 'bf16' and cfg2.memory_format == 'channels_last'
    # on the CPU the defaults are fp32 (no autocast) and channels_last (faster there too, measured in 05);
    # contiguous on request
    plain = make_learner(learn.dls, profile_config('tiny', backbone='resnet18', size=32), 1, tmp_path/'plain')
    assert not any(isinstance(c, BF16Autocast) for c in plain.cbs)
    assert any(isinstance(c, ChannelsLast) for c in plain.cbs)
    flat_cfg = profile_config('tiny', backbone='resnet18', size=32, memory_format='contiguous')
    flat = make_learner(learn.dls, flat_cfg, 1, tmp_path/'flat')
    assert not any(isinstance(c, ChannelsLast) for c in flat.cbs)
    with pytest.raises(ValueError, match="precision must be one of auto, bf16, fp32, not 'fp16'"): TrainConfig(precision='fp16')

REAL = Path(__file__).resolve().parents[2]/'shared'/'real-sem'/'ampis-powder'

@pytest.mark.skipif(not REAL.exists(), reason=f'the real micrographs are not at {REAL}')
def test_predict_on_real_micrographs(trained, tmp_path):
    "8-bit PNG exports without a scale: one clear error; with one, predictions that say the input was 8-bit and how far out it lies"
    d, _ = trained
    one = sorted(REAL.glob('Sc1*.png'))[:2]
    r = run('predict', *one, '--model', d/'run'/'model', '--out', tmp_path/'x.csv')
    assert r.returncode == 1 and f'{one[0].name}: no scale' in r.stderr and '--pixel-size UM or --magnification M' in r.stderr
    assert not (tmp_path/'x.csv').exists()
    r = run('predict', *one, '--model', d/'run'/'model', '--pixel-size', 0.25, '--powder', 'Sc1', '--out', tmp_path/'p.csv')
    assert r.returncode == 0, r.stderr
    tiles, powders = pd.read_csv(tmp_path/'p.csv'), pd.read_csv(tmp_path/'p_powders.csv')
    assert len(tiles) == 4 and set(tiles.crop) == {0, 1}   # 1536 x 1024: two square crops per image
    assert (tiles.bit_depth == 8).all() and (tiles.scale_source == 'given').all() and np.allclose(tiles.pixel_size_um, 0.25)
    assert np.allclose(tiles.magnification, 127000 / (0.25 * 1536))   # 127 mm / M field width
    assert powders.powder_name.tolist() == ['Sc1'] and str(powders.bit_depth[0]) == '8'
    assert {'domain_distance', 'domain_ratio', 'extrapolation'} <= set(powders.columns)
    assert powders.extrapolation[0] == (powders.domain_ratio[0] > 1)

def test_train_from_the_shipped_pretrained_backbone(trained, tmp_path):
    "`train --recipe end-to-end` of a regnety_004 starts from the shipped network, fine-tuned FINE_TUNING's way; 'none': scratch"
    from powderflow.configuration import FINE_TUNING
    from powderflow.readings import shipped_reader
    d, _ = trained
    train = lambda out, *flags: run('train', '--recipe', 'end-to-end', '--records', d/'data'/'records.csv', '--profile',
                                    'tiny', '--size', 32, '--epochs', 1, '--out', tmp_path/out, *flags)
    r = train('ft')
    assert r.returncode == 0, r.stderr
    conf = json.loads((tmp_path/'ft'/'model'/'config.json').read_text())['config']
    assert conf['backbone_from'] == str(shipped_reader()) and conf['backbone'] == 'regnety_004'
    assert {k: conf[k] for k in FINE_TUNING} == FINE_TUNING          # the study's fine-tuning, unless told otherwise
    r = train('scratch', '--backbone-from', 'none')
    assert r.returncode == 0, r.stderr
    conf = json.loads((tmp_path/'scratch'/'model'/'config.json').read_text())['config']
    assert conf['backbone_from'] is None and conf['freeze_epochs'] == 0 and conf['lr_mult'] == 1
    r = run('train', '--recipe', 'end-to-end', '--records', d/'data'/'records.csv', '--profile', 'tiny', '--size', 32,
            '--epochs', 1, '--backbone-from', 'shipped', '--backbone', 'resnet18', '--out', tmp_path/'x')
    assert r.returncode == 1 and 'cannot start a resnet18' in r.stderr and 'Traceback' not in r.stderr
    r = run('train', '--recipe', 'end-to-end', '--records', d/'data'/'records.csv', '--backbone-from', tmp_path/'nothing',
            '--out', tmp_path/'y')
    assert r.returncode == 1 and "no pretrained network there" in r.stderr
    r = run('train', '--records', d/'data'/'records.csv', '--backbone-from', 'shipped', '--out', tmp_path/'z')
    assert r.returncode == 1 and '--backbone-from' in r.stderr and '--recipe end-to-end' in r.stderr   # the probe trains no network
