"""Where the number median's bias comes from on the four annotated AMPIS micrographs: the whole annotated particles that
the segmentation does not find at IoU 0.5, by what became of them, and where the satellites it finds fall.

    .venv/bin/python benchmarks/morphology_misses.py [--real ../shared/real-sem/ampis-powder]

A missed particle is 'not in the mask' when the particle mask misses most of it; otherwise it goes by the segment holding
the largest part of it: 'merged into a found particle' when that segment matches another annotated particle, 'in an
unmatched segment' when it matches nothing. Sizes are equivalent diameters over the image's annotated number median. A found
satellite (the library's `split_lobes`) falls on an annotated satellite, on an annotated particle that nothing matched (the
annotators outlined it as a particle of its own), on a matched annotated particle, or on nothing annotated. `02a_morphology`
quotes it.

Last, the annotators' convention, image by image: of the small objects (6-25 px across) beside a particle at least twice
their size, how many they outlined as particles of their own (a particle polygon within 2 px of the larger one) and how
many as satellites (a satellite polygon, which lies inside its parent's particle polygon)."""
import json
import numpy as np, pandas as pd
from scipy import ndimage as ndi
from powderflow.sem_files import read_micrograph
from powderflow.morphology import grey8, via_labels, particle_mask, segment_particles, measure_particles
from morphology_small_particles import iou_table, real_args   # this folder's script: a benchmark, not the library

def attached_convention(particles, satellites, lo=6, hi=25):
    "Small objects beside a particle at least twice their size: outlined as particles, outlined as satellites"
    whole = measure_particles(particles); whole = whole[~whole.border]
    size = dict(zip(whole.label, whole.ed))
    sat = measure_particles(satellites)
    near = lambda lab: np.unique(particles[ndi.binary_dilation(particles == lab, iterations=2) & (particles != lab)])
    as_particles = sum(any(size.get(k, 0) >= 2 * ed for k in near(lab) if k)
                       for lab, ed in zip(whole.label, whole.ed) if lo <= ed <= hi)
    as_satellites = int(sat.ed.between(lo, hi).sum())
    return as_particles, as_satellites

def main(real):
    ann, sat = real/'via_powder_particle_masks_training.json', real/'via_powder_satellite_masks_training.json'
    misses, fates, convention = [], [], []
    for name in [v['filename'] for v in json.loads(ann.read_text())['_via_img_metadata'].values()]:
        img8 = grey8(read_micrograph(real/name)[0], real/name)
        truth, true_sats = via_labels(ann, img8.shape, name), via_labels(sat, img8.shape, name)
        labels, sats = segment_particles(img8)
        mask, (iou, inter) = particle_mask(img8), iou_table(truth, labels)
        t = measure_particles(truth); whole = t[~t.border]; med = whole.ed.median()
        matched_true, matched_pred = iou.max(1) > 0.5, iou.max(0) > 0.5
        for lab, ed in zip(whole.label, whole.ed):
            if matched_true[lab]: continue
            own = truth == lab
            seg = inter[lab, 1:].argmax() + 1
            fate = ('not in the mask' if mask[own].mean() < 0.5 else
                    'merged into a found particle' if matched_pred[seg] else 'in an unmatched segment')
            misses.append(dict(image=name[:15], fate=fate, size=ed / med))
        for y, x in zip(sats.y.round().astype(int), sats.x.round().astype(int)):
            k = truth[y, x]
            fates.append(dict(image=name[:15], fate='on an annotated satellite' if true_sats[y, x] else
                              'on an annotated particle nothing matched' if k and not matched_true[k] else
                              'on a matched annotated particle' if k else 'nothing annotated there'))
        a, b = attached_convention(truth, true_sats)
        convention.append(dict(image=name[:15], outlined_as_particles=a, outlined_as_satellites=b,
                               share_as_particles=round(a / max(a + b, 1), 2)))
    misses, fates = pd.DataFrame(misses), pd.DataFrame(fates)
    print('whole annotated particles not found: count (median size / annotated median)')
    table = misses.groupby(['fate', 'image']).size().unstack(fill_value=0).astype(str) + ' (' + \
            misses.groupby(['fate', 'image'])['size'].median().unstack().round(2).astype(str) + ')'
    print(table.fillna('0').to_string()); print()
    print('found satellites:'); print(pd.crosstab(fates.fate, fates.image).to_string()); print()
    print('small objects (6-25 px) beside a particle twice their size, as the annotators outlined them:')
    print(pd.DataFrame(convention).to_string(index=False))

if __name__ == '__main__':
    main(real_args(__doc__).real)
