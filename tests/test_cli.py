"""The `powderflow` command as a user runs it: its exit code and its output. The commands run in the test process
(`conftest.cli`, the same `main` the console script calls); what only a process of its own shows, the installed
script, `python -m powderflow` and the warnings of a fresh import, runs as one (`conftest.powderflow`)."""
import subprocess, sys
from pathlib import Path
import pandas as pd
from conftest import cli as run, powderflow

def test_help_lists_subcommands():
    r = powderflow('--help')   # the installed console script
    assert r.returncode == 0
    for cmd in ('reproduce', 'convert', 'pipelines', 'demo-tiles', 'synth'): assert cmd in r.stdout

def test_pipelines_lists_the_twelve():
    r = run('pipelines')
    names = [l.split()[0] for l in r.stdout.splitlines()]
    assert names == ['Fixed', 'LS', 'PS', 'PC', 'GC', 'Log', 'Sqrt', 'ImageJ', 'LS+GC', 'LS+CLAHE', 'PC+GC', 'PC+GC+CLAHE']
    m = subprocess.run([sys.executable, '-m', 'powderflow', 'pipelines'], capture_output=True, text=True, timeout=300)
    assert m.returncode == 0 and m.stdout == r.stdout, m.stderr   # `python -m powderflow`: the same command

def test_convert_and_errors(tmp_path):
    assert run('demo-tiles', tmp_path/'t', '-n', 3, '--size', 64).returncode == 0
    r = run('convert', tmp_path/'t', tmp_path/'o', '-p', 'LS', 'Log', '--format', 'png', '--workers', 2)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path/'o').rglob('*.png'))) == 6 and 'done' in r.stdout
    r = run('convert', tmp_path/'t', tmp_path/'arr', '--pipelines', 'PS', '--format', 'array')
    assert r.returncode == 0 and (tmp_path/'arr'/'PS.npy').exists(), r.stderr
    r = run('convert', tmp_path/'t', tmp_path/'x.npy', '-m', 'PS', 'PC', '--format', 'array')
    assert r.returncode == 1 and 'x.npy: one .npy holds one pipeline' in r.stderr and not (tmp_path/'x.npy').exists()
    r = run('convert', tmp_path/'t', tmp_path/'o', '-m', 'Nope')
    assert r.returncode == 1 and "error: unknown conversion pipeline 'Nope'" in r.stderr and 'Traceback' not in r.stderr
    (tmp_path/'t'/'bad.tiff').write_text('hello')
    r = run('convert', tmp_path/'t', tmp_path/'o2', '-m', 'LS')
    assert r.returncode == 1 and 'bad.tiff: not a readable TIFF' in r.stderr and 'Traceback' not in r.stderr
    assert len(list((tmp_path/'o2'/'LS').glob('*.tiff'))) == 3  # the good ones are there

def test_convert_takes_files_and_globs(tmp_path):
    "A single tile, several tiles, a glob's expansion: wherever a folder goes. Not a terminal: no progress bar in the output"
    assert run('demo-tiles', tmp_path/'t', '-n', 3, '--size', 64).returncode == 0
    tiles = sorted((tmp_path/'t').glob('*.tif*'))
    r = run('convert', tiles[0], tmp_path/'one', '-m', 'LS')
    assert r.returncode == 0, r.stderr
    assert [p.name for p in (tmp_path/'one'/'LS').iterdir()] == [tiles[0].name]
    r = run('convert', *tiles[1:], tmp_path/'two', '-m', 'LS', 'PC', '--workers', 2)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path/'two'/'PC').iterdir()) == [t.name for t in tiles[1:]]
    assert '\r' not in r.stdout + r.stderr   # a bar is for terminals; this output goes to a pipe
    r = run('convert', tiles[0], tmp_path/'t'/'missing.tif', tmp_path/'three', '-m', 'LS')
    assert r.returncode == 1 and 'missing.tif: no such file or folder' in r.stderr and not (tmp_path/'three'/'LS').exists()

def test_commands_print_no_import_warnings(tmp_path):
    "A user sees warnings about their data, not the FutureWarning fastai's import raises about torch.jit.script"
    r = powderflow('evaluate', '--model', tmp_path/'no-model', '--records', tmp_path/'none.csv')   # imports the learner, then fails on the input
    assert r.returncode == 1 and 'no-model' in r.stderr and 'FutureWarning' not in r.stderr, r.stderr
    r = subprocess.run([sys.executable, '-c', 'import powderflow.training, powderflow.spectra.training, powderflow.interpretability'],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and 'FutureWarning' not in r.stderr, r.stderr

def test_probe_recipe_train_predict_evaluate(tmp_path):
    "Issue 32: the study's recipe from the command line on the simulated records: train (the default recipe), " \
    "predict a powder's tiles with an interval over them, evaluate on labelled records; end-to-end flags refused"
    assert run('synth', '--profile', 'tiny', '--out', tmp_path/'data', '--workers', 0).returncode == 0
    rec = pd.read_csv(tmp_path/'data'/'records.csv')
    powders = sorted(rec.powder_name.unique())
    rec['split'] = ['test' if p in powders[:2] else 'train' for p in rec.powder_name]
    rec.to_csv(tmp_path/'data'/'split.csv', index=False)
    r = run('train', '--records', tmp_path/'data'/'split.csv', '--out', tmp_path/'run')
    assert r.returncode == 0, r.stderr[-2000:]
    conf = __import__('json').loads((tmp_path/'run'/'model'/'config.json').read_text())
    assert conf['kind'] == 'powderflow-probe' and conf['training']['n_powders'] == len(powders) - 2
    m = pd.read_csv(tmp_path/'run'/'metrics.csv')
    assert set(m.model) == {'probe'} and m[(m.target == 'AOR') & (m.metric == 'n')].value.iloc[0] == 2
    tiles = tmp_path/'data'/'tiles'/powders[0]
    r = run('predict', tiles, '--model', tmp_path/'run'/'model', '--out', tmp_path/'p.csv')
    assert r.returncode == 0, r.stderr[-2000:]
    p = pd.read_csv(tmp_path/'p_powders.csv')
    assert p.powder_name.tolist() == [powders[0]] and p.n_tiles[0] == len(list(tiles.rglob('*.tif*')))
    assert p.AOR_lo[0] <= p.AOR_hi[0] and p.p_flowable.between(0, 1).all() and p.domain_ratio[0] > 0
    r = run('evaluate', '--model', tmp_path/'run'/'model', '--records', tmp_path/'data'/'split.csv')
    assert r.returncode == 0 and '2 powders' in r.stdout, r.stdout + r.stderr[-2000:]
    r = run('train', '--records', tmp_path/'data'/'split.csv', '--epochs', 2, '--out', tmp_path/'x')
    assert r.returncode == 1 and '--epochs' in r.stderr and '--recipe end-to-end' in r.stderr, r.stderr
    r = run('train', '--records', tmp_path/'data'/'split.csv', '--extra-cols', 'density', '--out', tmp_path/'y')
    assert r.returncode == 1 and 'no column density' in r.stderr, r.stderr

def test_crossvalidate_on_records(tmp_path):
    "Issue 32: the study's protocol on a records CSV from the command line: every model on the same folds, the " \
    "predictions in the study's format; records it cannot score refused before any image is read"
    assert run('synth', '--profile', 'tiny', '--out', tmp_path/'data', '--workers', 0).returncode == 0
    r = run('crossvalidate', '--records', tmp_path/'data'/'records.csv', '--folds', 2, '--repeats', 2, '--n-boot', 50,
            '--out', tmp_path/'cv')
    assert r.returncode == 0, r.stderr[-2000:]
    p = pd.read_csv(tmp_path/'cv'/'cv_predictions.csv')
    study = pd.read_csv(Path(__file__).resolve().parents[1]/'figures'/'05_cv_predictions.csv', nrows=1)
    assert list(p.columns) == list(study.columns)
    assert set(p.model) == {'probe', 'mean', 'morphometry', 'oracle'}   # the oracle from powders.csv beside the records
    n = pd.read_csv(tmp_path/'data'/'records.csv').powder_name.nunique()
    assert (p.groupby(['model', 'repeat']).powder_name.nunique() == n).all()
    d = pd.read_csv(tmp_path/'cv'/'cv_differences.csv')
    assert set(d.versus) == {'mean', 'morphometry', 'oracle'} and (d.model == 'probe').all()
    rec = pd.read_csv(tmp_path/'data'/'records.csv'); rec['HR'] = 1.2; rec['CI'] = 100 * (1 - 1 / 1.2); rec.to_csv(tmp_path/'flat.csv', index=False)
    r = run('crossvalidate', '--records', tmp_path/'flat.csv', '--folds', 2, '--out', tmp_path/'cv2')
    assert r.returncode == 1 and 'column HR: every powder has 1.2' in r.stderr and not (tmp_path/'cv2').exists(), r.stderr
    r = run('crossvalidate', '--records', tmp_path/'data'/'records.csv', '--out', tmp_path/'cv3')
    assert r.returncode == 1 and 'needs at least 10' in r.stderr, r.stderr

def test_reproduce_overwrite_replaces_an_older_simulators_data(tmp_path):
    "Issue 34: a data folder that an older simulator version wrote stops `reproduce`; `--overwrite` reaches " \
    "`run_study`, which replaces the data set with the study's before the notebooks run"
    import json, nbformat
    from powderflow.synthetic import GENERATOR_VERSION
    nbs = tmp_path/'nbs'; nbs.mkdir()   # a study of one notebook that reads its data as 02_synthetic does
    nb = nbformat.v4.new_notebook(metadata={'kernelspec': {'name': 'python3', 'display_name': 'python3',
                                                           'language': 'python'}})
    nb.cells = [nbformat.v4.new_code_cell("profile = 'tiny'\ndata_dir = None\nrun_dir = None\nseed = 0\nout_dir = None",
                                          metadata={'tags': ['parameters']}),
                nbformat.v4.new_code_cell('from powderflow.synthetic import study_data\n'
                                          'study_data(data_dir, run_dir, profile, seed)')]
    nbformat.write(nb, nbs/'02_synthetic.ipynb')
    data = tmp_path/'data'
    assert run('synth', '--out', data, '--tiles-per-mag', 1, '--size', 64, '--workers', 0).returncode == 0
    old = json.loads((data/'manifest.json').read_text()) | dict(version=GENERATOR_VERSION - 1, fingerprint='older')
    (data/'manifest.json').write_text(json.dumps(old))
    study = ('reproduce', '--profile', 'tiny', '--run', tmp_path/'run', '--data', data, '--notebooks', nbs,
             '--only', '02_synthetic')
    r = run(*study)
    assert r.returncode == 1 and f'written by version {GENERATOR_VERSION - 1} of the simulator' in r.stderr, r.stderr
    assert 'overwrite=True (powderflow synth or reproduce: --overwrite)' in r.stderr   # the flag as well as the argument
    r = run(*study, '--overwrite')
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    new = json.loads((data/'manifest.json').read_text())
    assert (new['version'], new['profile'], new['seed']) == (GENERATOR_VERSION, 'tiny', 0) and new['params'] != old['params']
