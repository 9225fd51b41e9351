"""The study end to end as a user runs it: `powderflow reproduce --profile tiny`, once for the whole test session (the
`tiny_study` fixture, whose executed notebooks test_notebooks.py checks too), with two of its notebooks run again
to show the study is deterministic; and the committed figures/ with their index."""
import json
from pathlib import Path
import pandas as pd
from conftest import REPO, STUDY_ENV, TINY_STUDY, cli, powderflow as run
from powderflow.reproduce import STUDY_NOTEBOOKS, FIGURES, describe, data_fingerprint
from powderflow.configuration import study_grid

# two notebooks that make figures and tables from nothing but their parameters, in seconds: the demo tiles'
# conversions, and the simulated benchmark (into the run's data/) with its label figures
RERUN = ('01_conversion', '02_synthetic')

@TINY_STUDY
def test_tiny_study_runs_and_logs_briefly(tiny_study):
    "The README's main command in a scrubbed environment: it runs, and it logs briefly"
    r = tiny_study.check()
    n = len(STUDY_NOTEBOOKS)
    lines = r.stdout.splitlines()   # not a terminal: one line per notebook with its time, then the summary; no bars, no warnings
    assert len(lines) == n + 1 and lines[0].startswith(f'[1/{n}] 00_core ... done in ') and lines[-2].startswith(f'[{n}/{n}] 09e_spectra_training ... done in ')
    assert '\r' not in r.stdout + r.stderr and 'without encryption' not in r.stderr and 'FutureWarning' not in r.stderr, r.stderr[-3000:]

@TINY_STUDY
def test_tiny_study_writes_every_file_with_its_index(tiny_study):
    run_dir = tiny_study.check().path
    fa = run_dir/'figures'
    names = sorted(p.name for p in fa.iterdir())
    tables = [n for n in names if n.endswith(('.csv', '.md')) and n != 'README.md']
    assert len(tables) >= 20, tables
    # every file is described in the index, and the index lists every file
    index = (fa/'README.md').read_text()
    for n in names:
        if n != 'README.md': describe(n); assert f'[{n}]({n})' in index, n
    # the executed notebooks are kept for inspection
    assert sorted(p.stem for p in (run_dir/'notebooks').glob('*.ipynb')) == sorted(STUDY_NOTEBOOKS)

@TINY_STUDY
def test_tiny_study_manifest(tiny_study):
    fa = tiny_study.check().path/'figures'
    ma = json.loads((fa/'manifest.json').read_text())
    assert ma['status'] == 'finished' and ma['profile'] == 'tiny' and [n['name'] for n in ma['notebooks']] == list(STUDY_NOTEBOOKS)
    assert all(n['status'] == 'ok' and n['seconds'] > 0 for n in ma['notebooks'])
    assert len(ma['data']['fingerprint']) == 16
    assert ma['packages']['torch'] and ma['packages']['fastai'] and ma['device']['device'] == 'cpu' and 'commit' in ma['git']
    assert ma['parameters']['seed'] == 0 and ma['parameters']['out_dir'] == str(fa)

@TINY_STUDY
def test_tiny_study_results(tiny_study):
    run_dir = tiny_study.check().path
    fa = run_dir/'figures'
    # the grid: one row per backbone x pipeline of the tiny profile
    grid = pd.read_csv(fa/'05b_grid.csv')
    assert len(grid) == 4 and set(grid.backbone) == {'regnety_004', 'shufflenet_v2_x1_0'} and set(grid.pipeline) == {'PC', 'Fixed'}
    # what the pipelines are for: per-image stretches make tiles of different brightness alike, the fixed scale does not
    stats = pd.read_csv(fa/'01_conversion_stats.csv').set_index('pipeline')
    assert len(stats) == 12
    for m in ('LS', 'PS', 'PC', 'ImageJ'): assert stats.loc[m, 'sd'] > 3 * stats.loc['Fixed', 'sd'], m
    assert stats.loc['PS', 'pct_black'] >= 2 and stats.loc['PC', 'pct_white'] >= 0.5
    summary = pd.read_csv(fa/'02_synthetic_labels.csv').set_index('fact')
    assert summary.loc['powders', 'simulated'] == 38   # the default powder set, as the real study's
    assert len(pd.read_csv(run_dir/'data'/'records.csv')) == 48   # the tiny benchmark, generated into the run folder

@TINY_STUDY
def test_two_notebooks_run_again_give_identical_files(tiny_study, tmp_path):
    "Determinism, without a second study: two notebooks of it again, into another run folder, write the same bytes"
    a = tiny_study.check().path
    r = run('reproduce', '--profile', 'tiny', '--run', tmp_path/'b', '--only', *RERUN, env=STUDY_ENV)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert '\r' not in r.stdout + r.stderr and 'without encryption' not in r.stderr and 'FutureWarning' not in r.stderr, r.stderr[-3000:]
    fa, fb = a/'figures', tmp_path/'b'/'figures'
    # what these notebooks write: the files named after them (01_*, 02_*) in the study's figures
    theirs = sorted(p.name for p in fa.iterdir() if p.name.startswith(tuple(n[:3] for n in RERUN)))
    names = sorted(p.name for p in fb.iterdir() if p.name not in ('manifest.json', 'README.md'))   # these hold times
    assert names == theirs and len(names) >= 7 and any(n.endswith('.png') for n in names) and any(n.endswith('.csv') for n in names), (names, theirs)
    for n in names: assert (fa/n).read_bytes() == (fb/n).read_bytes(), f'{n} differs between two runs with the same parameters'
    # the simulated benchmark too
    mb = json.loads((fb/'manifest.json').read_text())
    assert [n['name'] for n in mb['notebooks']] == list(RERUN) and mb['status'] == 'finished'
    ma = json.loads((fa/'manifest.json').read_text())
    assert ma['data']['fingerprint'] == mb['data']['fingerprint'] == data_fingerprint(tmp_path/'b'/'data')
    assert (a/'data'/'records.csv').read_bytes() == (tmp_path/'b'/'data'/'records.csv').read_bytes()

def test_reproduce_refuses_unknown_notebook_and_backbone(tmp_path):
    r = cli('reproduce', '--profile', 'tiny', '--run', tmp_path/'r', '--only', '05_training', '99_nothing')
    assert r.returncode == 1 and 'unknown notebook(s) 99_nothing' in r.stderr and 'Traceback' not in r.stderr
    # a bad parameter fails in the notebook that uses it: named, with the cell's error, earlier outputs kept
    r = cli('reproduce', '--profile', 'tiny', '--run', tmp_path/'r', '--only', '01_conversion', '05_training', '--backbones', 'resnet19')
    assert r.returncode == 1, r.stdout[-2000:]
    assert '05_training.ipynb failed in cell' in r.stderr and "unknown backbone 'resnet19'" in r.stderr, r.stderr[-2000:]
    assert (tmp_path/'r'/'figures'/'01_conversion_pipelines.png').stat().st_size > 10_000
    m = json.loads((tmp_path/'r'/'figures'/'manifest.json').read_text())
    assert m['status'] == 'failed in 05_training' and [n['status'] for n in m['notebooks']] == ['ok', 'failed']

def test_committed_figures_come_from_the_quick_profile():
    figs = REPO/'figures'
    m = json.loads((figs/'manifest.json').read_text())
    assert m['profile'] == 'quick' and m['status'] == 'finished' and m['device']['device'] == 'cpu'
    names = sorted(p.name for p in figs.iterdir() if p.name != 'README.md')
    index = (figs/'README.md').read_text()
    assert 'quick profile on a CPU' in index
    for n in names: describe(n); assert f'[{n}]({n})' in index, n
    for key in FIGURES:   # every figure and table of the study is there
        assert any(n == key or n.startswith(key + '.') for n in names), key
    grid = pd.read_csv(figs/'05b_grid.csv')
    backbones, pipelines = study_grid('quick')
    assert len(grid) == len(backbones) * len(pipelines) == 4, grid
    assert set(grid.pipeline) == set(pipelines) and set(grid.backbone) == set(backbones), grid
