"""How the real-micrograph check moves with the segmentation's settings: instance F1 and the median-diameter ratios
(by number, by volume) on the four annotated AMPIS micrographs, for the defaults and for one setting changed at a time.

    .venv/bin/python benchmarks/morphology_sensitivity.py [--real ../shared/real-sem/ampis-powder]

It prints a table, one row per setting, with the worst image's value of each measure. It is why `02a_morphology` does
not tune its settings to these four images: the number median swings by tens of per cent where F1 barely moves.

With --simulated, each setting is also scored where tuning is fair, against the simulator's exact instance masks:
the 16 gas-atomised powders of the benchmark, 2 tiles of 512 px each (number median 30 px across, seed 0), as
`simulated_check` draws them: mean F1 and the median over powders of the number-median error. Two rows combine the
peak settings the simulator prefers, to see whether what the simulator rewards carries over to the real images."""
import json, time
import numpy as np, pandas as pd
from morphology_small_particles import real_args   # this folder's script: a benchmark, not the library
from powderflow.sem_files import read_micrograph
from powderflow.morphology import (grey8, via_labels, particle_mask, distance_map, disc_peaks, power_labels, split_lobes,
                                   match_instances, measure_particles, weighted_quantiles)

SETTINGS = [dict()] + [dict(peak=dict(overlap=v)) for v in (0.7, 0.8, 1.0)] + [dict(peak=dict(smooth=v)) for v in (1.0, 1.5, 3.0)] \
    + [dict(lobe=dict(edge=v)) for v in (2.0, 3.0, 4.0)] + [dict(lobe=dict(min_thickness=v)) for v in (2.5, 3.0)] \
    + [dict(lobe=dict(min_area=v)) for v in (8, 12)] + [dict(mask=dict(level=v)) for v in (0.5, 0.9)] \
    + [dict(lobe=dict(margin=v)) for v in (1.5, 2.0)]
# the simulator's choice: finer peaks (its best F1 and D50 error over a 4 x 4 scan of smooth x overlap)
SIMULATOR_CHOICE = [dict(peak=dict(smooth=1.0, overlap=0.6)), dict(peak=dict(smooth=1.5, overlap=0.6))]

def volume_d50(ed): return float(weighted_quantiles(ed, ed ** 3, 0.5))

def segment(img8, s):
    "Instance labels under setting `s` (mask, peak and lobe arguments), as `segment_particles` makes them"
    mask = particle_mask(img8, **s.get('mask', {}))
    centres, radii = disc_peaks(distance_map(mask), **s.get('peak', {}))
    return split_lobes(power_labels(mask, centres, radii), centres, radii, img8, **s.get('lobe', {}))[0]

def simulated_tiles(seed, medians, routes, size=512, min_visible=20):
    """Tiles (powder, 8-bit image, true instance labels) of the benchmark's powders of `routes`, one per number median in
    `medians` (px), powder i drawn from the seed (seed, i) as `simulated_check` draws them"""
    from dataclasses import fields
    from powderflow import synthetic as syn
    out = []
    for i, row in enumerate(syn.default_powders().itertuples(index=False)):
        if row.route not in routes: continue
        p, rng = syn.Powder(**{f.name: getattr(row, f.name) for f in fields(syn.Powder)}), np.random.default_rng((seed, i))
        for m in medians:
            img, true, _ = syn.render_tile(p, 127000 / (p.number_median_um / m * size), size, rng, frame_px=size,
                                           instances=True)
            out.append((row.name, grey8(img), np.where((np.bincount(true.ravel()) < min_visible)[true], 0, true)))
    return out

def simulated_scores(tiles, s):
    "Mean F1 over tiles and the median over powders of the number-median error, under setting `s`"
    f1, found, truth = [], {}, {}
    for name, img8, true in tiles:
        labels = segment(img8, s)
        f1.append(match_instances(true, labels)['f1'])
        for store, lab in ((found, labels), (truth, true)):
            m = measure_particles(lab); store.setdefault(name, []).append(m.ed[~m.border])
    err = [pd.concat(found[n]).median() / pd.concat(truth[n]).median() - 1 for n in found]
    return float(np.mean(f1)), float(np.median(err))

def main(real, simulated=False):
    ann = real/'via_powder_particle_masks_training.json'
    names = [v['filename'] for v in json.loads(ann.read_text())['_via_img_metadata'].values()]
    images = []
    for name in names:
        img8 = grey8(read_micrograph(real/name)[0], real/name)
        truth = via_labels(ann, img8.shape, name); t = measure_particles(truth); t = t[~t.border]
        images.append((img8, truth, t.ed.median(), volume_d50(t.ed.to_numpy())))
    rows, t0 = [], time.perf_counter()
    tiles = simulated_tiles(0, (30, 30), ('gas atomised',)) if simulated else None   # 2 tiles per powder
    for s in SETTINGS + (SIMULATOR_CHOICE if simulated else []):
        f1, num, vol = [], [], []
        for img8, truth, med, vd50 in images:
            labels = segment(img8, s)
            found = measure_particles(labels); found = found[~found.border]
            f1.append(match_instances(truth, labels)['f1'])
            num.append(found.ed.median() / med); vol.append(volume_d50(found.ed.to_numpy()) / vd50)
        worst = lambda r: r[int(np.argmax(np.abs(np.array(r) - 1)))]
        rows.append(dict(setting=', '.join(f'{k}.{a}={b}' for k, v in s.items() for a, b in v.items()) or 'defaults',
                         f1_min=min(f1), number_median_ratios=' '.join(f'{r:.3f}' for r in num), number_worst=worst(num),
                         volume_worst=worst(vol), images_within_10pct=sum(abs(r - 1) <= 0.1 for r in num)))
        if simulated: rows[-1]['sim_f1'], rows[-1]['sim_median_error'] = simulated_scores(tiles, s)
    print(pd.DataFrame(rows).round(3).to_string(index=False))
    print(f'defaults and {len(rows) - 1} changes x {len(images)} images'
          + (f' and {len(tiles)} simulated tiles' if simulated else '') + f' in {time.perf_counter() - t0:.0f} s')

if __name__ == '__main__':
    a = real_args(__doc__, lambda p: p.add_argument('--simulated', action='store_true',
                                                     help='also score each setting on simulated gas-atomised tiles'))
    main(a.real, a.simulated)
