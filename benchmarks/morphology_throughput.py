"""Morphology throughput: tiles per second of `powderflow morphology` on one core, beside a plain scikit-image pass.

    make bench-morphology     # or: python benchmarks/morphology_throughput.py [--tiles 24] [--size 1024]

Simulated gas-atomised and water-atomised tiles (number-median particle 30 px across), segmented and measured:
- powderflow: `segment_particles` (threshold, split, satellites) + `measure_particles` (size, Feret, shape, roughness);
- plain scikit-image: Otsu threshold, `label`, `regionprops` (area, perimeter, solidity, Feret max, eccentricity), the
  kind of 15-line pass the field starts from, which neither splits touching particles nor measures satellites;
then the real micrographs where ../shared/real-sem is present: the AMPIS ones (1536 x 1024) and DualSight's `valid/`
(1024 x 768 JPEGs of many powders), each by the classical path, the learned segmenter (`segment_learned`: the U-Net at
half resolution on one torch thread, then the watershed) + the same measures, and the plain scikit-image pass; and the
memory of `morphology_files` over many tiles (it streams: its peak stays at one image's working set)."""
import argparse, resource, tempfile, time
from pathlib import Path
import numpy as np, cv2, torch
from skimage import filters, measure
from powderflow import synthetic as syn
from powderflow.conversion import write_tile
from powderflow.morphology import grey8, segment_particles, measure_particles, morphology_files
from powderflow.runtime import opencv_single_threaded
from powderflow.segmenter import segment_learned

def tiles(n, size, seed=0):
    P = syn.default_powders()
    rows = [P[P.route == r].iloc[0] for r in ('gas atomised', 'water atomised')]
    rng, out = np.random.default_rng(seed), []
    for i in range(n):
        row = rows[i % 2]; p = syn.Powder(**{k: row[k] for k in syn.Powder.__dataclass_fields__})
        img, _, meta = syn.render_tile(p, 127000 / (p.number_median_um / 30 * size), size, rng, frame_px=size)
        out.append((grey8(img), img, meta))
    return out

def plain_skimage(img8):
    mask = img8 > filters.threshold_otsu(img8)
    return measure.regionprops_table(measure.label(mask), properties=('area', 'perimeter', 'solidity', 'feret_diameter_max', 'eccentricity'))

def ours(img8):
    labels, sats = segment_particles(img8)
    return measure_particles(labels, img8, 0.5, sats)

def learned(img8):
    labels, scores = segment_learned(img8)
    return measure_particles(labels, img8, 0.5)

def rate(fn, images):
    fn(images[0])   # warm-up
    t0 = time.perf_counter()
    for im in images: fn(im)
    return len(images) / (time.perf_counter() - t0)

def main(n=24, size=1024, real='../shared/real-sem/ampis-powder', dualsight='../shared/real-sem/dualsight/valid'):
    opencv_single_threaded(); torch.set_num_threads(1)
    data = tiles(n, size)
    imgs = [d[0] for d in data]
    a, b = rate(ours, imgs), rate(plain_skimage, imgs)
    print(f'{n} simulated tiles of {size} x {size}, one core:')
    print(f'  powderflow segment + measure : {a:6.2f} tiles/s ({1000 / a:5.0f} ms per tile)')
    print(f'  plain scikit-image regionprops: {b:6.2f} tiles/s ({1000 / b:5.0f} ms per tile)')
    for what, files in (('AMPIS', sorted(Path(real).glob('*.png'))), ('DualSight valid', sorted(Path(dualsight).glob('*.jpg')))):
        reals = [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files]
        if not reals: print(f'{what}: not here, not timed'); continue
        shape = ' / '.join(sorted({f'{r.shape[1]} x {r.shape[0]}' for r in reals}))
        a, c, b = rate(ours, reals), rate(learned, reals), rate(plain_skimage, reals)
        print(f'{len(reals)} real micrographs, {what} ({shape}), one core: classical {1000 / a:.0f} ms per image, '
              f'learned {1000 / c:.0f} ms, plain scikit-image {1000 / b:.0f} ms')
    with tempfile.TemporaryDirectory() as d:
        (Path(d)/'tiles'/'powder').mkdir(parents=True)
        for i, (_, img, meta) in enumerate(data * max(1, 200 // n)):
            write_tile(Path(d)/'tiles'/'powder'/f't{i:04d}.tif', img, meta['magnification'], meta['pixel_size_um'])
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        parts, _ = morphology_files([Path(d)/'tiles'], Path(d)/'out', figures=False)
        dt = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        k = parts.image.nunique()
        print(f'morphology_files over {k} tiles ({len(parts)} particles) in {dt:.1f} s: peak memory {before:.0f} MiB before, {after:.0f} MiB after')

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--tiles', type=int, default=24); p.add_argument('--size', type=int, default=1024)
    p.add_argument('--real', default='../shared/real-sem/ampis-powder')
    p.add_argument('--dualsight', default='../shared/real-sem/dualsight/valid')
    a = p.parse_args(); main(a.tiles, a.size, a.real, a.dualsight)
