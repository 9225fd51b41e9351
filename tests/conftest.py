"Test settings: one thread, non-interactive plotting; shared fixtures. Not offline mode: a test of the offline path forces it itself."
import os
for k, v in dict(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', MPLBACKEND='Agg').items(): os.environ.setdefault(k, v)
import contextlib, faulthandler, shutil, subprocess, sys, tempfile, traceback, warnings
from unittest import mock
from dataclasses import dataclass
from pathlib import Path
import pytest, torch
from filelock import FileLock

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]

# a newcomer's shell, as in `env -i PATH=/usr/bin:/bin HOME=$HOME make reproduce`: no HF_HUB_OFFLINE, no MPLBACKEND, no venv
SCRUBBED = dict(PATH='/usr/bin:/bin', HOME=os.environ.get('HOME', '/root'))
# ... where the study runs in the test session: with the session's one thread per process, since it shares the cores
# with the other pytest worker. torch's default, a thread per core, waits on a thread that the other worker keeps off
# its core: 04a_pretraining took over 8 minutes instead of 20 s beside one busy process (measured on 2 cores). One
# thread also gives the study the same thread count on every machine (its numbers depend on it)
STUDY_ENV = SCRUBBED | dict(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', OPENBLAS_NUM_THREADS='1')
# the tests that read the one tiny study run: `--dist loadgroup` (the Makefile's) sends them all to one pytest worker,
# so the other worker does the rest of the suite instead of waiting for the run
TINY_STUDY = pytest.mark.xdist_group('tiny_study')

def powderflow(*args, timeout=900, env=None):
    "Run the `powderflow` command in the checkout; the CompletedProcess"
    exe = shutil.which('powderflow') or str(Path(sys.executable).parent/'powderflow')
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)

@contextlib.contextmanager
def _output_into(file, fd, name):
    "Descriptor `fd` and `sys.{name}` both write into `file` within the block: what C code and forked workers print too"
    getattr(sys, name).flush()
    saved = os.dup(fd); os.dup2(file.fileno(), fd)
    stream = open(os.dup(fd), 'w', encoding='utf-8', errors='replace', buffering=1)
    try:
        with getattr(contextlib, f'redirect_{name}')(stream): yield
    finally: stream.close(); os.dup2(saved, fd); os.close(saved)

def _warning_to_stderr(message, category, filename, lineno, file=None, line=None):   # as a process shows a warning
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

def cli(*args, cwd=None, timeout=600):
    """`powderflow *args` in this test process: `powderflow.cli.main` with the command's parser, exit status and
    output (stdout and stderr at the descriptors, so with what C code and forked workers print; warnings as a new
    process shows them; a traceback where one escapes), without starting Python and importing torch and fastai again
    (about 5 s of CPU a command). The CompletedProcess, as `powderflow` gives. A command still running after `timeout`
    seconds ends the pytest worker, so its test fails instead of hanging. What only a process of its own shows (the
    console script, import-time warnings, a scrubbed environment, a kill) uses `powderflow`"""
    from powderflow.cli import main
    argv = [str(a) for a in args]
    faulthandler.dump_traceback_later(timeout, exit=True, file=sys.__stderr__)
    try:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            with (contextlib.chdir(cwd or Path.cwd()), mock.patch.object(sys, 'argv', ['powderflow', *argv]),
                  _output_into(out, 1, 'stdout'), _output_into(err, 2, 'stderr'), warnings.catch_warnings()):
                warnings.resetwarnings()   # Python's own filters, as a new process has them, not pytest's
                for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
                    warnings.simplefilter('ignore', category)
                warnings.showwarning = _warning_to_stderr
                try: main(argv); code = 0
                except SystemExit as e:   # sys.exit(message): the message on stderr, exit status 1
                    code = e.code if isinstance(e.code, int) or e.code is None else 1
                    if not (isinstance(e.code, int) or e.code is None): print(e.code, file=sys.stderr)
                except Exception: code = 1; traceback.print_exc()
            stdout, stderr = [(f.seek(0), f.read().decode(errors='replace'))[1] for f in (out, err)]
    finally: faulthandler.cancel_dump_traceback_later()
    return subprocess.CompletedProcess(['powderflow', *argv], code or 0, stdout, stderr)

@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """`--dist loadgroup`: pytest-xdist (3.8) keeps an xdist_group together by renaming its tests `{nodeid}@{group}`,
    which pytest 9.2's structured node ids no longer take, so the groups are silently spread over the workers
    (pytest-xdist#1386): rename them the new way. Nothing to do where xdist's own renaming took."""
    if not getattr(config.option, 'loadgroup', False): return
    from _pytest.nodeid import NodeId
    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get('name', 'default')) for m in item.iter_markers('xdist_group')})
        if names and hasattr(item, '_id') and '@' not in item.nodeid.rsplit(']', 1)[-1]:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(names)}")

@pytest.fixture
def tiles(tmp_path):
    "Four small built-in demo tiles in a folder"
    from powderflow.conversion import demo_tiles
    return demo_tiles(tmp_path/'tiles', n=4, size=96)

@dataclass
class StudyRun:
    "`powderflow reproduce --profile tiny --run {path}`, run once: its folder, exit status and output"
    path: Path
    returncode: int
    stdout: str
    stderr: str
    def check(self):
        "Fail (with the end of its output) unless the run finished"
        assert self.returncode == 0, self.stdout[-3000:] + self.stderr[-3000:]
        return self

def _text(s): return s.decode(errors='replace') if isinstance(s, bytes) else (s or '')

def run_once(root, name, *args):
    """`powderflow *args` in the scrubbed environment (`STUDY_ENV`), once for the whole test session, with every pytest worker:
    the first to ask runs it into {root}/{name}/run while the others wait on a lock, then all read its
    exit status and output from files there"""
    d = root/name
    with FileLock(str(root/f'{name}.lock')):
        if not (d/'returncode').exists():
            if d.exists(): shutil.rmtree(d)
            d.mkdir(parents=True)
            try: r = powderflow(*args, d/'run', env=STUDY_ENV); rc, out, err = r.returncode, r.stdout, r.stderr
            except subprocess.TimeoutExpired as e:   # recorded like any failure: the other workers don't start it again
                rc, out, err = -9, _text(e.stdout), _text(e.stderr) + f'\n{e}'
            (d/'stdout').write_text(out); (d/'stderr').write_text(err)
            (d/'returncode').write_text(str(rc))   # last: the run is complete
    return StudyRun(d/'run', int((d/'returncode').read_text()), (d/'stdout').read_text(), (d/'stderr').read_text())

@pytest.fixture(scope='session')
def session_root(tmp_path_factory):
    "A folder shared by every pytest worker of this session (under xdist each worker has its own basetemp below it)"
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get('PYTEST_XDIST_WORKER') else base

@pytest.fixture(scope='session')
def tiny_study(session_root):
    "The README's main command, `powderflow reproduce --profile tiny`, in a scrubbed environment (`STUDY_ENV`), once per test session"
    return run_once(session_root, 'tiny-study', 'reproduce', '--profile', 'tiny', '--run')
