"""Simulator throughput: time per 1,000 tiles of the full profile, and the quick profile end to end.

    make bench-synth     # or: python benchmarks/synthetic_throughput.py [--sample 60]

The full profile (38 powders x their magnifications x 120 tiles of 512 px) is timed on an evenly spread sample of its tiles,
rendered and written on every core, and extrapolated; the quick profile is generated whole into a temporary folder."""
import argparse, os, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd
from powderflow.runtime import parallel_map
from powderflow.synthetic import PROFILES, _render_job, default_powders, profile_params, select_powders, synthesize, tile_jobs

def main(sample=60, seed=0):
    cores = os.cpu_count() or 1
    prm = profile_params('full')
    jobs = tile_jobs(select_powders(default_powders(seed), prm['n_powders']), prm, seed)
    picked = [jobs[i] for i in np.linspace(0, len(jobs) - 1, sample).astype(int)]
    with tempfile.TemporaryDirectory() as d:
        for w in sorted({1, cores}):
            out = Path(d)/f'full_{w}'
            t0 = time.perf_counter()
            parallel_map(_render_job, picked, 0 if w == 1 else w, False, out=str(out), size=prm['size'])
            dt = time.perf_counter() - t0
            print(f'full profile ({prm["size"]} px tiles), {w} process(es): {dt / sample * 1000:.0f} s per 1,000 tiles '
                  f'-> {len(jobs)} tiles in about {dt / sample * len(jobs) / 60:.0f} min')
        t0 = time.perf_counter()
        rec = synthesize(Path(d)/'quick', 'quick', seed=seed, progress=False)
        n = len(pd.read_csv(rec))
        print(f'quick profile: {n} tiles of {PROFILES["quick"]["size"]} px in {time.perf_counter() - t0:.1f} s on {cores} cores')

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--sample', type=int, default=60); p.add_argument('--seed', type=int, default=0)
    a = p.parse_args(); main(a.sample, a.seed)
