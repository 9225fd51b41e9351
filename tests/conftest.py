"Test settings: one thread, non-interactive plotting; shared fixtures. Not offline mode: a test of the offline path forces it itself."
import os
for k, v in dict(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', MPLBACKEND='Agg').items(): os.environ.setdefault(k, v)
from pathlib import Path
import pytest, torch

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]

@pytest.fixture
def tiles(tmp_path):
    "Four small built-in demo tiles in a folder"
    from powderflow.conversion import demo_tiles
    return demo_tiles(tmp_path/'tiles', n=4, size=96)
