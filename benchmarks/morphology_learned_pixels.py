"""An experiment, not the library's method: a splitter learned per pixel, trained once on the simulator's exact instance
masks and once on the real annotations, scored on the four annotated AMPIS micrographs and on simulated tiles.

    .venv/bin/python benchmarks/morphology_learned_pixels.py [--real ../shared/real-sem/ampis-powder]   # about 6 min

The classifier is a scikit-learn random forest (60 trees, depth 16, seeded) on scikit-image's multiscale basic features
(smoothed grey, edges and texture at 4 scales, 1-8 px) plus the distance transform of the library's particle mask. Its
classes are substrate, particle interior and particle outline (pixels within 1 px of another label). Particles are the
watershed of the smoothed interior probability, seeded where it exceeds a threshold (0.4, 0.5, 0.6), within the pixels
not classed substrate.
- simulator: trained on 84 tiles of 512 px (gas-, water- and plasma-atomised powders of the benchmark, seed 1, number
  medians 25, 40 and 60 px, 1,500 pixels of each class per tile); scored on the 16 gas-atomised powders at seed 0 (as
  `simulated_check` draws them: 30 px, one tile each) and on the real images;
- real: trained on three annotated images (20,000 pixels of each class from each), scored on the fourth.

`02a_morphology` quotes it: where each training set sends the number-median ratio says what the floor is up against."""
import json, time
import numpy as np, pandas as pd, cv2
from scipy import ndimage as ndi
from skimage import feature, segmentation
from sklearn.ensemble import RandomForestClassifier
from powderflow.sem_files import read_micrograph
from powderflow.morphology import grey8, particle_mask, distance_map, via_labels, match_instances, measure_particles
from morphology_small_particles import real_args             # this folder's scripts: benchmarks, not the library
from morphology_sensitivity import simulated_tiles

THRESHOLDS = (0.4, 0.5, 0.6)

def pixel_features(img8):
    "Multiscale grey, edge and texture features and the particle mask's distance transform: (h, w, k) float32"
    f = feature.multiscale_basic_features(img8, sigma_min=1, sigma_max=8, num_sigma=4)
    d = distance_map(particle_mask(img8))
    return np.concatenate([f, np.log1p(d)[..., None], np.log1p(cv2.GaussianBlur(d, (0, 0), 2))[..., None]],
                          -1).astype(np.float32)

def pixel_classes(labels):
    "0 substrate, 1 particle interior, 2 particle outline (within 1 px of another label)"
    inner = (ndi.minimum_filter(labels, 3) == ndi.maximum_filter(labels, 3)) & (labels > 0)
    return np.where(labels == 0, 0, np.where(inner, 1, 2))

def sample(images, per_class, rng):
    "Training pixels: up to `per_class` of each class from each (features, labels) pair"
    X, Y = [], []
    for F, T in images:
        F, T = F.reshape(-1, F.shape[-1]), T.ravel()
        for c in (0, 1, 2):
            idx = np.flatnonzero(T == c); idx = rng.choice(idx, min(len(idx), per_class), replace=False)
            X.append(F[idx]); Y.append(T[idx])
    return np.concatenate(X), np.concatenate(Y)

def forest(X, Y):
    return RandomForestClassifier(60, max_depth=16, min_samples_leaf=5, n_jobs=2, random_state=0).fit(X, Y)

def learned_labels(F, clf, threshold):
    "Instance labels: watershed of the smoothed interior probability from its regions above `threshold`"
    p = clf.predict_proba(F.reshape(-1, F.shape[-1])).reshape(*F.shape[:2], -1)
    interior = cv2.GaussianBlur(p[..., 1].astype(np.float32), (0, 0), 1.0)
    labels = segmentation.watershed(-interior, ndi.label(interior > threshold)[0], mask=p[..., 0] < 0.5)
    return segmentation.relabel_sequential(np.where((np.bincount(labels.ravel()) < 6)[labels], 0, labels))[0]

def score(F, truth, clf, threshold):
    "F1 and the number-median ratio of the whole particles"
    labels = learned_labels(F, clf, threshold)
    a, b = measure_particles(labels), measure_particles(truth)
    return match_instances(truth, labels)['f1'], a.ed[~a.border].median() / b.ed[~b.border].median()

def main(real):
    ann = real/'via_powder_particle_masks_training.json'
    names = [v['filename'] for v in json.loads(ann.read_text())['_via_img_metadata'].values()]
    reals = []
    for name in names:
        img8 = grey8(read_micrograph(real/name)[0], real/name)
        reals.append((name[:15], pixel_features(img8), via_labels(ann, img8.shape, name)))
    rng, rows, t0 = np.random.default_rng(0), [], time.perf_counter()
    train = [(pixel_features(i), pixel_classes(t))
             for _, i, t in simulated_tiles(1, (25, 40, 60), ('gas atomised', 'water atomised', 'plasma atomised'))]
    clf = forest(*sample(train, 1500, rng))
    test = [(pixel_features(i), t) for _, i, t in simulated_tiles(0, (30,), ('gas atomised',))]
    for th in THRESHOLDS:
        sim = np.array([score(F, t, clf, th) for F, t in test])
        rows.append(dict(trained_on='simulator', threshold=th, scored_on='simulated gas atomised (16)',
                         f1=sim[:, 0].mean(), number_median_ratio=np.median(sim[:, 1])))
        for name, F, truth in reals:
            f1, ratio = score(F, truth, clf, th)
            rows.append(dict(trained_on='simulator', threshold=th, scored_on=name, f1=f1, number_median_ratio=ratio))
    for k, (name, F, truth) in enumerate(reals):
        clf = forest(*sample([(r[1], pixel_classes(r[2])) for j, r in enumerate(reals) if j != k], 20000, rng))
        for th in THRESHOLDS:
            f1, ratio = score(F, truth, clf, th)
            rows.append(dict(trained_on='the other three real images', threshold=th, scored_on=name, f1=f1,
                             number_median_ratio=ratio))
    t = pd.DataFrame(rows).round(3)
    print(t.pivot_table(index=['trained_on', 'scored_on'], columns='threshold',
                        values=['f1', 'number_median_ratio'], sort=False).to_string())
    print(f'{time.perf_counter() - t0:.0f} s')

if __name__ == '__main__':
    main(real_args(__doc__).real)
