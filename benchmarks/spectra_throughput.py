"""Throughput of the two spectra-fusion models (and the single-input ones), and of a whole fastai training run.

    make bench-spectra     # or: python benchmarks/spectra_throughput.py [--size 128] [--bs 16] [--steps 10] [--device cpu]

Per model: records per second for training steps (forward, backward, AdamW) and for inference, on tensors already in
memory (`powderflow.spectra.training.spectra_throughput`). Then one fastai epoch of the attention model on the quick simulated data,
end to end through `spectra_dataloaders` (flips on the device included): its records per second over the in-memory figure
is the share of the model's speed the input pipeline keeps."""
import argparse, tempfile, time
from pathlib import Path
import numpy as np, torch
from powderflow.spectra.model import SpectraNet
from powderflow.spectra.training import spectra_throughput, spectra_config, train_spectra, SPECTRA_MODELS

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--size', type=int, default=128, help='image side (quick profile: 128)')
    p.add_argument('--bs', type=int, default=16)
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--epoch', action=argparse.BooleanOptionalAction, default=True, help='also time one fastai epoch end to end')
    a = p.parse_args()
    print(f'device {a.device}, {torch.get_num_threads()} CPU thread(s), image {a.size} px, batch {a.bs}, {a.steps} timed steps')
    rates = {}
    for name, change in SPECTRA_MODELS.items():
        torch.manual_seed(0)
        m = SpectraNet(**change)
        r = rates[name] = spectra_throughput(m, a.size, a.bs, a.steps, a.device)
        print(f"{name:17s} train {r['train_per_s']:8.1f} records/s   inference {r['infer_per_s']:8.1f} records/s   "
              f"{sum(q.numel() for q in m.parameters()) / 1e6:.2f} M parameters")
    if not a.epoch: return
    with tempfile.TemporaryDirectory() as d:
        cfg = spectra_config(profile='quick', out=str(Path(d)/'run'), train=dict(epochs=1, size=a.size, bs=a.bs, device=a.device))
        res = train_spectra(cfg)   # generates the quick data set first (not timed)
        n = int((res['df'].split == 'train').sum())
        rate = n / res['train_s']
        print(f"attention fusion, one fastai epoch end to end: {n} training records (+ validation) in {res['train_s']:.1f} s = {rate:.1f} records/s, "
              f"{rate / rates['attention fusion']['train_per_s']:.2f} x the in-memory training rate")

if __name__ == '__main__': main()
