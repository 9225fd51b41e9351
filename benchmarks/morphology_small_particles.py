"""An experiment, not the library's method: what separating small particles from the large ones they touch does to the
real-micrograph check. The segmentation's discs come from the distance transform of the particle mask, where a small
particle pressed against a large one makes no peak of its own. Here the mask is also cut along strong grey-level edges
(gradient above `k` x its median inside the mask); the peaks of that cut mask's distance transform whose disc touches the
substrate and lies at least `gap` of its radius outside every disc already found are added as particles.

    .venv/bin/python benchmarks/morphology_small_particles.py [--real ../shared/real-sem/ampis-powder]

It prints F1 and the number-median ratio per annotated image for the library's defaults and for the extra discs, and
where the added discs fall against the annotations: on a particle they match (IoU > 0.5), on an annotated satellite,
inside an annotated particle they do not match, or where nothing is annotated. `02a_morphology` quotes it."""
import argparse, json
from pathlib import Path
import numpy as np, pandas as pd, cv2
from powderflow.sem_files import read_micrograph
from powderflow.morphology import (grey8, via_labels, particle_mask, distance_map, disc_peaks, power_labels, split_lobes,
                                   segment_particles, match_instances, measure_particles)

def small_particle_discs(img8, mask, centres, radii, k=3.0, gap=0.75, tight=1.2, min_radius=2.5):
    "The library's discs plus the extra ones, and the extra ones' centres"
    dist = distance_map(mask)
    smooth = cv2.GaussianBlur(img8.astype(np.float32), (0, 0), 1.0)
    grad = np.hypot(cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1))
    cut = mask & ~(grad > k * np.median(grad[mask]))
    C, R, n0 = [tuple(c) for c in centres], list(radii), len(centres)
    for p, r in zip(*disc_peaks(distance_map(cut), smooth=1.0, min_radius=min_radius)):
        if dist[p[0], p[1]] > tight * r + 1: continue   # its disc does not reach the substrate
        d = np.hypot(*(np.array(C) - p).T)
        if ((d[:n0] - np.array(R[:n0])) / r).min() < gap or (d[n0:] < np.array(R[n0:]) + r).any(): continue
        C.append(tuple(p)); R.append(r)
    return np.array(C), np.array(R, float), np.array(C[n0:]).reshape(-1, 2)

def main(real):
    ann, sat = real/'via_powder_particle_masks_training.json', real/'via_powder_satellite_masks_training.json'
    rows, fates = [], []
    for name in [v['filename'] for v in json.loads(ann.read_text())['_via_img_metadata'].values()]:
        img8 = grey8(read_micrograph(real/name)[0], real/name)
        truth, sats = via_labels(ann, img8.shape, name), via_labels(sat, img8.shape, name)
        t = measure_particles(truth); med = t[~t.border].ed.median()
        mask = particle_mask(img8); centres, radii = disc_peaks(distance_map(mask))
        C, R, extra = small_particle_discs(img8, mask, centres, radii)
        for setting, labels in (('defaults', segment_particles(img8)[0]),
                                ('with small-particle discs', split_lobes(power_labels(mask, C, R), C, R, img8)[0])):
            f = measure_particles(labels); f = f[~f.border]
            rows.append(dict(image=name[:15], setting=setting, f1=match_instances(truth, labels)['f1'],
                             median_ratio=f.ed.median() / med))
        # the extra discs' segments, before the lobes are split
        labels = power_labels(mask, C, R)
        matched = set(np.nonzero(iou_table(truth, labels)[0] > 0.5)[1])
        for k, (y, x) in enumerate(extra, len(centres) + 1):
            fates.append(dict(image=name[:15], fate='matches an annotated particle' if k in matched else
                              'on an annotated satellite' if sats[y, x] else
                              'inside an annotated particle' if truth[y, x] else 'nothing annotated there'))
    t = pd.DataFrame(rows).pivot(index='image', columns='setting').round(3)
    print(t.to_string()); print()
    fates = pd.DataFrame(fates)
    print('the added discs:'); print(pd.crosstab(fates.fate, fates.image).to_string())

def iou_table(truth, pred):
    "(IoU, intersection) of every (true, predicted) pair, rows and columns by label (0: substrate, its IoU set to 0)"
    t, p = truth.ravel().astype(np.int64), pred.ravel().astype(np.int64)
    inter = np.bincount(t * (p.max() + 1) + p, minlength=(t.max() + 1) * (p.max() + 1)).reshape(t.max() + 1, p.max() + 1)
    iou = inter / (inter.sum(1)[:, None] + inter.sum(0)[None] - inter).clip(1)
    iou[0], iou[:, 0] = 0, 0
    return iou, inter

def real_args(doc, configure=None):
    "The command line of the annotated-micrograph benchmarks: --real (a folder with the annotations), and what `configure` adds"
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument('--real', default=str(Path(__file__).resolve().parents[1].parent/'shared'/'real-sem'/'ampis-powder'))
    if configure: configure(p)
    a = p.parse_args(); a.real = Path(a.real)
    if not (a.real/'via_powder_particle_masks_training.json').exists(): raise SystemExit(f'{a.real}: no annotated micrographs here')
    return a

if __name__ == '__main__':
    main(real_args(__doc__).real)
