"""Every notebook in nbs/ runs without an error, one test per notebook, so pytest reports real counts.

The study's notebooks (`STUDY_NOTEBOOKS`) are checked in the session's one tiny study run (the `tiny_study` fixture,
papermill with `powderflow reproduce`'s parameters) rather than executed a second time; the others run the way
`nbdev_test` does. The one part of a study notebook that `reproduce` leaves out, 05_training's library tests
(`self_checks`), runs here on the study's model."""
import shutil
from pathlib import Path
import nbformat, pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook
from conftest import REPO, TINY_STUDY
from powderflow.reproduce import STUDY_NOTEBOOKS

NOTEBOOKS = sorted((REPO/'nbs').glob('*.ipynb'))

def test_notebooks_found():
    assert {'00_core.ipynb', '01_conversion.ipynb', 'index.ipynb'} <= {p.name for p in NOTEBOOKS}
    assert {f'{n}.ipynb' for n in STUDY_NOTEBOOKS} <= {p.name for p in NOTEBOOKS}

def check_executed(ran, src):
    "The executed notebook `ran` (papermill's) ran every code cell of the source notebook `src`, and none failed"
    name = src.name
    assert ran.exists(), f'{name} did not run: the study stopped before it (see the tiny_study tests)'
    nb, source = nbformat.read(ran, 4), nbformat.read(src, 4)
    errors = [f"cell {c.id}: {o.ename}: {o.evalue}" for c in nb.cells if c.cell_type == 'code' for o in c.outputs
              if o.output_type == 'error']
    assert not errors, f'{name}: ' + '; '.join(errors)
    assert nb.metadata.papermill.exception is None, name
    by_id = {c.id: c for c in nb.cells}
    for c in source.cells:
        if c.cell_type != 'code': continue
        r = by_id.get(c.id)
        assert r is not None and r.source == c.source, f'{name}, cell {c.id} is not in the executed notebook, or it ran another version of it'
        assert r.execution_count is not None and r.metadata.papermill.status == 'completed' and not r.metadata.papermill.exception, \
            f'{name}, cell {c.id} was not executed'

@TINY_STUDY
@pytest.mark.parametrize('nb', [p for p in NOTEBOOKS if p.stem in STUDY_NOTEBOOKS], ids=lambda p: p.name)
def test_study_notebook(nb, tiny_study):
    "A notebook of the study, as the session's tiny study run executed it (the first of these tests waits for that run)"
    check_executed(tiny_study.path/'notebooks'/nb.name, nb)

@pytest.mark.parametrize('nb', [p for p in NOTEBOOKS if p.stem not in STUDY_NOTEBOOKS], ids=lambda p: p.name)
def test_notebook(nb):
    "A notebook outside the study, executed as `nbdev_test` does"
    skip = get_config(REPO).tst_flags.split()
    ok, secs = run_notebook(nb, skip_flags=skip, basepath=str(REPO))
    assert ok, f'{nb.name} failed (its traceback is printed above)'

@TINY_STUDY
def test_05_training_self_checks(tiny_study, tmp_path):
    """05_training with `self_checks=True` (resumed, fine-tuned and two-process training: what `reproduce` skips), on a
    copy of the tiny study's models, so its own model is reused rather than trained again"""
    import papermill as pm
    nb = REPO/'nbs'/'05_training.ipynb'
    # the parameters the study gave it (its data where the run put it: the models' fingerprints hold its path)
    ran = nbformat.read(tiny_study.check().path/'notebooks'/nb.name, 4).metadata.papermill.parameters
    assert ran['self_checks'] is False and ran['profile'] == 'tiny'
    shutil.copytree(Path(ran['run_dir'])/'models', tmp_path/'work'/'models')
    out = tmp_path/'05_training.ipynb'
    pm.execute_notebook(str(nb), str(out), cwd=str(REPO/'nbs'), progress_bar=False,
                        parameters=ran | dict(run_dir=str(tmp_path/'work'), out_dir=str(tmp_path/'figures'), self_checks=True))
    check_executed(out, nb)
    # the checks ran: each left its folder
    for d in ('resume-whole', 'resume-cut', 'fine-tune', 'data-parallel'): assert (tmp_path/'work'/d).is_dir(), d
