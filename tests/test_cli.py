"The `powderflow` command as a user runs it: a separate process, its exit code and its output."
import shutil, subprocess, sys
from pathlib import Path
import pandas as pd

def run(*args, cwd=None):
    exe = shutil.which('powderflow') or str(Path(sys.executable).parent/'powderflow')
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)

def test_help_lists_subcommands():
    r = run('--help')
    assert r.returncode == 0
    for cmd in ('reproduce', 'convert', 'pipelines', 'demo-tiles', 'synth'): assert cmd in r.stdout

def test_pipelines_lists_the_twelve():
    r = run('pipelines')
    names = [l.split()[0] for l in r.stdout.splitlines()]
    assert names == ['Fixed', 'LS', 'PS', 'PC', 'GC', 'Log', 'Sqrt', 'ImageJ', 'LS+GC', 'LS+CLAHE', 'PC+GC', 'PC+GC+CLAHE']

def test_convert_and_errors(tmp_path):
    assert run('demo-tiles', tmp_path/'t', '-n', 3, '--size', 64).returncode == 0
    r = run('convert', tmp_path/'t', tmp_path/'o', '-m', 'LS', 'Log', '--format', 'png', '--workers', 2)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path/'o').rglob('*.png'))) == 6 and 'done' in r.stdout
    r = run('convert', tmp_path/'t', tmp_path/'arr', '-m', 'PS', '--format', 'array')
    assert r.returncode == 0 and (tmp_path/'arr'/'PS.npy').exists(), r.stderr
    r = run('convert', tmp_path/'t', tmp_path/'x.npy', '-m', 'PS', 'PC', '--format', 'array')
    assert r.returncode == 1 and 'x.npy: one .npy holds one pipeline' in r.stderr and not (tmp_path/'x.npy').exists()
    r = run('convert', tmp_path/'t', tmp_path/'o', '-m', 'Nope')
    assert r.returncode == 1 and "error: unknown conversion pipeline 'Nope'" in r.stderr and 'Traceback' not in r.stderr
    (tmp_path/'t'/'bad.tiff').write_text('hello')
    r = run('convert', tmp_path/'t', tmp_path/'o2', '-m', 'LS')
    assert r.returncode == 1 and 'bad.tiff: not a readable TIFF' in r.stderr and 'Traceback' not in r.stderr
    assert len(list((tmp_path/'o2'/'LS').glob('*.tiff'))) == 3  # the good ones are there
