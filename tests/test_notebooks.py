"Execute every notebook in nbs/ the way `nbdev_test` does, one test per notebook, so pytest reports real counts."
import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook
from conftest import REPO

NOTEBOOKS = sorted((REPO/'nbs').glob('*.ipynb'))

def test_notebooks_found():
    assert {'00_core.ipynb', '01_conversion.ipynb', 'index.ipynb'} <= {p.name for p in NOTEBOOKS}

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=lambda p: p.name)
def test_notebook(nb):
    skip = get_config(REPO).tst_flags.split()
    ok, secs = run_notebook(nb, skip_flags=skip, basepath=str(REPO))
    assert ok, f'{nb.name} failed (its traceback is printed above)'
