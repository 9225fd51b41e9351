"The study end to end as a user runs it: `powderflow reproduce --profile tiny`, twice; and the committed figures/ with their index."
import json, os, shutil, subprocess, sys
from pathlib import Path
import pandas as pd
from conftest import REPO
from powderflow.reproduce import STUDY_NOTEBOOKS, FIGURES, describe
from powderflow.config import study_grid

def run(*args, timeout=900, env=None):
    exe = shutil.which('powderflow') or str(Path(sys.executable).parent/'powderflow')
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)

# a newcomer's shell, as in `env -i PATH=/usr/bin:/bin HOME=$HOME make reproduce`: no HF_HUB_OFFLINE, no thread settings, no venv
SCRUBBED = dict(PATH='/usr/bin:/bin', HOME=os.environ.get('HOME', '/root'))

def test_two_tiny_runs_give_identical_tables(tmp_path):
    "The README's main command in a scrubbed environment, twice: it runs, it logs briefly, and it is deterministic"
    # one after the other: side by side, each process's default torch threads oversubscribe the cores and take 3x as long
    ra, rb = (run('reproduce', '--profile', 'tiny', '--run', tmp_path/k, env=SCRUBBED) for k in 'ab')
    for r in (ra, rb): assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    n = len(STUDY_NOTEBOOKS)
    lines = ra.stdout.splitlines()   # not a terminal: one line per notebook with its time, then the summary; no bars, no warnings
    assert len(lines) == n + 1 and lines[0].startswith(f'[1/{n}] 00_core ... done in ') and lines[-2].startswith(f'[{n}/{n}] 09e_spectra_training ... done in ')
    assert '\r' not in ra.stdout + ra.stderr and 'without encryption' not in ra.stderr and 'FutureWarning' not in ra.stderr, ra.stderr[-3000:]
    fa, fb = tmp_path/'a'/'figures', tmp_path/'b'/'figures'
    names = sorted(p.name for p in fa.iterdir())
    assert names == sorted(p.name for p in fb.iterdir())
    tables = [n for n in names if n.endswith(('.csv', '.md')) and n != 'README.md']
    assert len(tables) >= 20, tables
    for n in names:
        if n in ('manifest.json', 'README.md'): continue   # these hold times
        assert (fa/n).read_bytes() == (fb/n).read_bytes(), f'{n} differs between two runs with the same parameters'
    # every file is described in the index, and the index lists every file
    index = (fa/'README.md').read_text()
    for n in names:
        if n != 'README.md': describe(n); assert f'[{n}]({n})' in index, n
    # the executed notebooks are kept for inspection
    assert sorted(p.stem for p in (tmp_path/'a'/'notebooks').glob('*.ipynb')) == sorted(STUDY_NOTEBOOKS)
    # the manifest
    ma, mb = (json.loads((f/'manifest.json').read_text()) for f in (fa, fb))
    assert ma['status'] == 'finished' and ma['profile'] == 'tiny' and [n['name'] for n in ma['notebooks']] == list(STUDY_NOTEBOOKS)
    assert all(n['status'] == 'ok' and n['seconds'] > 0 for n in ma['notebooks'])
    assert ma['data']['fingerprint'] == mb['data']['fingerprint'] and len(ma['data']['fingerprint']) == 16
    assert ma['packages']['torch'] and ma['packages']['fastai'] and ma['device']['device'] == 'cpu' and 'commit' in ma['git']
    assert ma['parameters']['seed'] == 0 and ma['parameters']['out_dir'] == str(fa)
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
    assert len(pd.read_csv(tmp_path/'a'/'data'/'records.csv')) == 48   # the tiny benchmark, generated into the run folder

def test_reproduce_refuses_unknown_notebook_and_backbone(tmp_path):
    r = run('reproduce', '--profile', 'tiny', '--run', tmp_path/'r', '--only', '05_training', '99_nothing')
    assert r.returncode == 1 and 'unknown notebook(s) 99_nothing' in r.stderr and 'Traceback' not in r.stderr
    # a bad parameter fails in the notebook that uses it: named, with the cell's error, earlier outputs kept
    r = run('reproduce', '--profile', 'tiny', '--run', tmp_path/'r', '--only', '01_conversion', '05_training', '--backbones', 'resnet19')
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
