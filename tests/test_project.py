"The project's own consistency: versions, notebooks in sync with the library, clean notebooks, README from index.ipynb."
import configparser, filecmp, shutil, subprocess, sys
from pathlib import Path
import nbformat, pytest
import powderflow
from conftest import REPO

BIN = Path(sys.executable).parent

def test_version_matches_settings():
    cfg = configparser.ConfigParser(); cfg.read(REPO/'settings.ini')
    assert cfg['DEFAULT']['version'] == powderflow.__version__

def test_constraints_pin_the_tested_torch():
    pins = dict(l.strip().split('==') for l in (REPO/'constraints.txt').read_text().splitlines() if '==' in l)
    assert pins['torch'] == '2.14.1' and pins['torchvision'] == '0.29.1'
    for pkg in ('fastai', 'timm', 'nbdev', 'fastcore', 'captum', 'papermill', 'tifffile', 'scikit-image', 'pandas', 'matplotlib', 'pytest'):
        assert pkg in pins, pkg

@pytest.fixture
def copy_of_project(tmp_path):
    for p in ('nbs', 'powderflow'): shutil.copytree(REPO/p, tmp_path/p, ignore=shutil.ignore_patterns('__pycache__', '.ipynb_checkpoints'))
    shutil.copy(REPO/'pyproject.toml', tmp_path)
    return tmp_path

def test_library_is_exported_from_notebooks(copy_of_project):
    subprocess.run([BIN/'nbdev-export'], cwd=copy_of_project, check=True)
    modules = sorted(f.relative_to(REPO/'powderflow') for f in (REPO/'powderflow').rglob('*.py'))
    assert 'spectra/model.py' in map(str, modules)   # the subpackage's modules are compared too
    for f in modules:
        assert filecmp.cmp(REPO/'powderflow'/f, copy_of_project/'powderflow'/f, shallow=False), f'{f} differs from its notebook: run `make export`'
    assert sorted(f.relative_to(copy_of_project/'powderflow') for f in (copy_of_project/'powderflow').rglob('*.py')) == modules

def test_notebooks_are_clean(copy_of_project):
    subprocess.run([BIN/'nbdev-clean'], cwd=copy_of_project, check=True)
    for f in (REPO/'nbs').glob('*.ipynb'):
        assert f.read_text() == (copy_of_project/'nbs'/f.name).read_text(), f'{f.name} is not clean: run `make export`'

def test_parameters_cells_are_tagged():
    "papermill finds its parameters by the cell tag, which nbdev_clean must keep"
    for f in (REPO/'nbs').glob('[0-9]*.ipynb'):
        tagged = [c for c in nbformat.read(f, 4).cells if 'parameters' in c.get('metadata', {}).get('tags', [])]
        assert len(tagged) <= 1, f.name
    nb = nbformat.read(REPO/'nbs'/'01_conversion.ipynb', 4)
    assert any('parameters' in c.metadata.get('tags', []) for c in nb.cells)

def test_readme_is_index_notebook():
    nb = nbformat.read(REPO/'nbs'/'index.ipynb', 4)
    text = '\n\n'.join(c.source for c in nb.cells if c.cell_type == 'markdown') + '\n'
    assert (REPO/'README.md').read_text() == text, 'README.md is out of date: run `make readme`'

def test_pinned_versions_install_on_the_oldest_python_the_readme_promises():
    "constraints.txt is a freeze of one environment; each pin must also install on Python 3.11.0 (a stock Debian 12 has 3.11.2)"
    from importlib.metadata import distribution, PackageNotFoundError
    from packaging.specifiers import SpecifierSet
    pins = dict(l.strip().split('==') for l in (REPO/'constraints.txt').read_text().splitlines() if '==' in l and not l.startswith('#'))
    bad = []
    for name, version in pins.items():
        try: d = distribution(name)
        except PackageNotFoundError: continue
        req = d.metadata.get('Requires-Python')
        if d.version == version and req and '3.11.0' not in SpecifierSet(req): bad.append(f'{name}=={version} needs Python {req}')
    assert not bad, bad

def test_jupyter_lab_runs_the_notebooks_on_the_project_environment():
    "`make lab`: Jupyter Lab is installed with the dev requirements, and its python3 kernel is this environment's Python"
    from jupyter_client.kernelspec import KernelSpecManager
    lab = Path(sys.executable).parent/'jupyter-lab'
    assert lab.exists(), f'{lab}: Jupyter Lab is not installed in the environment (dev requirement)'
    out = subprocess.run([str(lab), '--version'], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip()[0].isdigit(), out
    argv = KernelSpecManager().get_kernel_spec('python3').argv
    assert Path(argv[0]).resolve() == Path(sys.executable).resolve() or argv[0] in ('python', 'python3'), argv
    assert 'lab:' in (REPO/'Makefile').read_text() and 'make lab' in (REPO/'README.md').read_text()

def test_no_private_name_crosses_a_module_border():
    "A helper that two modules need is public where it lives: no module imports another's `_name`"
    import ast
    crossing = []
    for f in sorted((REPO/'powderflow').rglob('*.py')):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or '').startswith('powderflow')):
                crossing += [f'{f.relative_to(REPO)}: {a.name} from {"." * node.level}{node.module or ""}' for a in node.names
                             if a.name.startswith('_') and not a.name.startswith('__')]
    assert not crossing, crossing
