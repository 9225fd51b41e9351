"""Conversion throughput per pipeline, in megapixels per second on one core, beside a straightforward scikit-image reference.

    make bench        # or: OMP_NUM_THREADS=1 python benchmarks/conversion_throughput.py [--tiles 8] [--size 1024]

Both sides convert the same 16-bit tiles one image at a time on one thread (OpenCV is told to use one). The reference is what
one writes first: scikit-image's `rescale_intensity`, `adjust_gamma`, `adjust_log` and `equalize_adapthist` on float images, then
rounding to 8 bits. The last column checks that both compute the same thing (CLAHE differs by design: see 01_conversion)."""
import argparse, os, platform, tempfile, time
from pathlib import Path
import cv2, numpy as np, skimage
from skimage import exposure
from powderflow.conversion import STUDY_PIPELINES, convert, convert_to_array, demo_tile, write_tile, clahe8

def to8(u): return np.floor(np.clip(u, 0, 1) * 255 + 0.5).astype(np.uint8)
def fixed(img): return exposure.rescale_intensity(img, in_range=(0, 65535), out_range=(0., 1.))
def ls(img): return exposure.rescale_intensity(img, in_range='image', out_range=(0., 1.))
def pct(img, lo, hi): return exposure.rescale_intensity(img, in_range=tuple(np.percentile(img, (lo, hi))), out_range=(0., 1.))
def clahe(u): return exposure.equalize_adapthist(u, kernel_size=(u.shape[0] // 8, u.shape[1] // 8), clip_limit=2 / 256, nbins=256)

def imagej(img, saturated=0.35):
    # ImageJ's display range is where more than int(N * saturated / 200) pixels lie beyond; NumPy's inverted_cdf percentile
    # finds the same values (unless N * saturated / 200 is a whole number), then ImageJ's 8-bit rule in floating point
    lo, hi = np.percentile(img, (saturated / 2, 100 - saturated / 2), method='inverted_cdf')
    return np.clip(np.floor(np.maximum(img.astype(float) - lo, 0) * 256 / (hi - lo + 1) + 0.5), 0, 255) / 255

REFERENCE = {
    'Fixed': lambda x: to8(fixed(x)),
    'LS': lambda x: to8(ls(x)),
    'PS': lambda x: to8(pct(x, 2, 98)),
    'PC': lambda x: to8(pct(x, 0.5, 99.5)),
    'GC': lambda x: to8(exposure.adjust_gamma(fixed(x), 1 / 2.2)),
    'Log': lambda x: to8(exposure.adjust_log(x.astype(np.float64), gain=1 / 16)),  # log2(1 + x) / 16 = log(1 + x) / log(65536)
    'Sqrt': lambda x: to8(exposure.adjust_gamma(fixed(x), 0.5)),
    'ImageJ': lambda x: to8(imagej(x)),
    'LS+GC': lambda x: to8(exposure.adjust_gamma(ls(x), 1 / 2.2)),
    'LS+CLAHE': lambda x: to8(clahe(ls(x))),
    'PC+GC': lambda x: to8(exposure.adjust_gamma(pct(x, 0.5, 99.5), 1 / 2.2)),
    'PC+GC+CLAHE': lambda x: to8(clahe(exposure.adjust_gamma(pct(x, 0.5, 99.5), 1 / 2.2))),
}

def mpix_per_s(f, tiles, repeats):
    "Best-of-`repeats` throughput of `f` applied to each tile in turn"
    f(tiles[0])  # warm-up: caches, lazily built tables
    best = min(_timed(f, tiles) for _ in range(repeats))
    return sum(t.size for t in tiles) / best / 1e6

def _timed(f, tiles):
    t0 = time.perf_counter()
    for t in tiles: f(t)
    return time.perf_counter() - t0

def main(n_tiles=8, size=1024, repeats=5):
    cv2.setNumThreads(1)
    tiles = [demo_tile(seed, size, (500, 1000, 1500)[seed % 3])[0] for seed in range(n_tiles)]
    print(f'{n_tiles} tiles of {size}x{size} uint16 | {platform.processor() or platform.machine()}, {os.cpu_count()} cores | '
          f'numpy {np.__version__}, opencv {cv2.__version__}, scikit-image {skimage.__version__}\n')
    print(f'| pipeline | powderflow MPix/s/core | reference MPix/s/core | speed-up | agreement |')
    print(f'|---|---:|---:|---:|---|')
    for m in STUDY_PIPELINES:
        ours = mpix_per_s(lambda t: convert(t, m), tiles, repeats)
        ref = mpix_per_s(REFERENCE[m], tiles, max(1, repeats // 2) if 'CLAHE' in m else repeats)
        d = [np.abs(convert(t, m).astype(int) - REFERENCE[m](t)) for t in tiles[:2]]
        agree = f'mean |diff| {np.mean(d):.2f}' if 'CLAHE' in m else f'max |diff| {max(x.max() for x in d)}'
        print(f'| {m} | {ours:.0f} | {ref:.0f} | {ours / ref:.1f}x | {agree} |')

    # where the CLAHE pipelines' time goes: the CLAHE step alone, OpenCV's and powderflow's (the same result)
    tiles8 = [convert(t, 'LS') for t in tiles]
    cv = mpix_per_s(lambda t: cv2.createCLAHE(2.0, (8, 8)).apply(t), tiles8, repeats)
    pf = mpix_per_s(lambda t: clahe8(t, 2.0, (8, 8)), tiles8, repeats)
    same = all(np.array_equal(clahe8(t), cv2.createCLAHE(2.0, (8, 8)).apply(t)) for t in tiles8)
    print(f'\nCLAHE step alone (8-bit, clip 2, 8 x 8 tiles): OpenCV {cv:.0f} MPix/s/core, powderflow (clahe8) {pf:.0f} '
          f'MPix/s/core, {pf / cv:.2f}x; identical output: {same}')

    # end to end on every core: read TIFF, convert, write into the memory-mapped array
    with tempfile.TemporaryDirectory() as d:
        for i, t in enumerate(tiles * 8): write_tile(Path(d)/f't{i:03d}.tiff', t)
        for w in sorted({1, os.cpu_count() or 1}):
            t0 = time.perf_counter()
            convert_to_array(d, Path(d)/f'PC_{w}.npy', 'PC', n_workers=w, progress=False)
            dt = time.perf_counter() - t0
            print(f'\nbatch, end to end (read TIFF + PC + write .npy), {len(tiles) * 8} tiles, {w} process(es): '
                  f'{len(tiles) * 8 * size * size / dt / 1e6:.0f} MPix/s ({dt:.2f} s, process start-up included)')

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--tiles', type=int, default=8); p.add_argument('--size', type=int, default=1024); p.add_argument('--repeats', type=int, default=5)
    a = p.parse_args()
    main(a.tiles, a.size, a.repeats)
