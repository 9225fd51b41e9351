"""How the real-micrograph check moves with the segmentation's settings: instance F1 and the median-diameter ratios
(by number, by volume) on the four annotated AMPIS micrographs, for the defaults and for one setting changed at a time.

    .venv/bin/python benchmarks/morphology_sensitivity.py [--real ../shared/real-sem/ampis-powder]

It prints a table, one row per setting, with the worst image's value of each measure. It is why `02a_morphology` does
not tune its settings to these four images: the number median swings by tens of per cent where F1 barely moves."""
import argparse, json, time
from pathlib import Path
import numpy as np, pandas as pd
from powderflow.semfiles import read_micrograph
from powderflow.morphology import (grey8, via_labels, particle_mask, distance_map, disc_peaks, power_labels, split_lobes,
                                   match_instances, measure_particles, weighted_quantiles)

SETTINGS = [dict()] + [dict(peak=dict(overlap=v)) for v in (0.7, 0.8, 1.0)] + [dict(peak=dict(smooth=v)) for v in (1.0, 1.5, 3.0)] \
    + [dict(lobe=dict(edge=v)) for v in (2.0, 3.0, 4.0)] + [dict(lobe=dict(min_thickness=v)) for v in (2.5, 3.0)] \
    + [dict(lobe=dict(min_area=v)) for v in (8, 12)] + [dict(mask=dict(level=v)) for v in (0.5, 0.9)] \
    + [dict(lobe=dict(margin=v)) for v in (1.5, 2.0)]

def volume_d50(ed): return float(weighted_quantiles(ed, ed ** 3, 0.5))

def main(real):
    ann = real/'via_powder_particle_masks_training.json'
    names = [v['filename'] for v in json.loads(ann.read_text())['_via_img_metadata'].values()]
    images = []
    for name in names:
        img8 = grey8(read_micrograph(real/name)[0], real/name)
        truth = via_labels(ann, img8.shape, name); t = measure_particles(truth); t = t[~t.border]
        images.append((img8, truth, t.ed.median(), volume_d50(t.ed.to_numpy())))
    rows, t0 = [], time.perf_counter()
    for s in SETTINGS:
        f1, num, vol = [], [], []
        for img8, truth, med, vd50 in images:
            mask = particle_mask(img8, **s.get('mask', {}))
            centres, radii = disc_peaks(distance_map(mask), **s.get('peak', {}))
            labels, _ = split_lobes(power_labels(mask, centres, radii), centres, radii, img8, **s.get('lobe', {}))
            found = measure_particles(labels); found = found[~found.border]
            f1.append(match_instances(truth, labels)['f1'])
            num.append(found.ed.median() / med); vol.append(volume_d50(found.ed.to_numpy()) / vd50)
        worst = lambda r: r[int(np.argmax(np.abs(np.array(r) - 1)))]
        rows.append(dict(setting=', '.join(f'{k}.{a}={b}' for k, v in s.items() for a, b in v.items()) or 'defaults',
                         f1_min=min(f1), number_median_ratios=' '.join(f'{r:.3f}' for r in num), number_worst=worst(num),
                         volume_worst=worst(vol), images_within_10pct=sum(abs(r - 1) <= 0.1 for r in num)))
    print(pd.DataFrame(rows).round(3).to_string(index=False))
    print(f'defaults and {len(SETTINGS) - 1} single changes x {len(images)} images in {time.perf_counter() - t0:.0f} s')

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--real', default=str(Path(__file__).resolve().parents[1].parent/'shared'/'real-sem'/'ampis-powder'))
    real = Path(p.parse_args().real)
    if not (real/'via_powder_particle_masks_training.json').exists(): raise SystemExit(f'{real}: no annotated micrographs here')
    main(real)
