"""What reads real particles' shape and size: each lever tried for `powderflow describe`, measured per image against
the hand-drawn outlines of DualSight `valid/` (32 micrographs) and the four AMPIS micrographs, neither trained on.

    python benchmarks/reading_levers.py [--reader FOLDER]      # about 5 min on 2 CPU cores; needs ../shared/real-sem

Levers: the pretrained network's readings (`readings.network_readings`) on 256-px crops of the image at native
resolution, halved and quartered; a ridge read-out of the network's backbone features fitted on `train/`'s outlines
(79 micrographs); the learned segmenter's whole particles (`readings.measured_readings`) at several score thresholds
and minimum counts. Prints Spearman's rho (sphericity against circularity, aspect, median diameter) and the median
read / outlined diameter ratio, per set."""
import argparse, json, time, warnings
from pathlib import Path
import numpy as np, pandas as pd, cv2
from scipy.stats import spearmanr
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from powderflow.conversion import prepare_tile
from powderflow.morphology import segment_image, measure_particles, via_labels
from powderflow.segmenter import read_annotated
from powderflow.pretraining import tile_descriptors
from powderflow.readings import (load_reader, reading_crops, measured_readings, network_readings, outlined_measures,
                                 MIN_SCORE, MIN_WHOLE)

REAL = Path(__file__).resolve().parents[2]/'shared'/'real-sem'

def items():
    "Outlined micrographs: DualSight train/ and valid/, and the AMPIS ones"
    out = [dict(it, set=s) for s in ('train', 'valid') for it in read_annotated(REAL/'dualsight'/s)]
    project = REAL/'ampis-powder'/'via_powder_particle_masks_training.json'
    for v in json.loads(project.read_text())['_via_img_metadata'].values():
        img = cv2.imread(str(REAL/'ampis-powder'/v['filename']), cv2.IMREAD_GRAYSCALE)
        out.append(dict(file=REAL/'ampis-powder'/v['filename'], image=img, set='AMPIS',
                        labels=via_labels(project, img.shape, v['filename'])))
    return out

def network(img, net, cfg, scale):
    "The network's readings (diameter in the image's own pixels) and mean backbone features, the image resized by `scale`"
    small = img if scale == 1 else cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    crops = np.stack([prepare_tile(c, cfg.pipeline, cfg.cache_size) for c in reading_crops(small, cfg.tile)])
    desc, feats = tile_descriptors(net, crops, np.ones(len(crops)), cfg.size)
    r = network_readings(desc, min(cfg.tile, *small.shape) / scale, cfg.cache_size)
    return dict(sphericity=r['net_sphericity'], aspect=r['net_aspect'], d50_px=r['net_d50_px']), feats.mean(0)

def scores(rows, truth, name):
    "One line per set: Spearman of the three readings and the diameter ratio"
    d = pd.DataFrame(rows).join(truth)
    out = dict(lever=name)
    for s in ('valid', 'AMPIS'):
        g = d[d.set == s].dropna(subset=['sphericity'])
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            for k, t in (('sphericity', 'true_circularity'), ('aspect', 'true_aspect'), ('d50_px', 'true_d50_px')):
                out[f'{s} {k}'] = spearmanr(g[k], g[t])[0]
        out[f'{s} D50 ratio'] = float(np.median(g.d50_px / g.true_d50_px)); out[f'{s} images'] = len(g)
    return out

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--reader', default=None, help='a pretrained network folder (default: the shipped one)')
    a = p.parse_args()
    if not REAL.exists(): raise SystemExit(f'{REAL} is not here: the levers are measured where it is')
    net, cfg, _ = load_reader(a.reader)
    t0, its = time.time(), items()
    truth = pd.DataFrame([outlined_measures(it['labels']) for it in its])
    sets = pd.Series([it['set'] for it in its])
    table, timing = [], {}
    for scale in (1, 0.5, 0.25):
        t = time.time(); rows, feats = zip(*[network(it['image'], net, cfg, scale) for it in its])
        timing[f'network x{scale}'] = (time.time() - t) / len(its)
        table.append(scores([dict(r, set=s) for r, s in zip(rows, sets)], truth, f'network, image x{scale}'))
        if scale == 1: feats1 = np.stack(feats)
    tr = (sets == 'train').to_numpy(); probe = {}
    for k, t in (('sphericity', 'true_circularity'), ('aspect', 'true_aspect'), ('d50_px', 'true_d50_px')):
        y = truth[t].to_numpy(float); y = y if k == 'sphericity' else np.log(y)
        fit = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 25))).fit(feats1[tr], y[tr])
        probe[k] = fit.predict(feats1) if k == 'sphericity' else np.exp(fit.predict(feats1))
    table.append(scores([dict(sphericity=probe['sphericity'][i], aspect=probe['aspect'][i], d50_px=probe['d50_px'][i],
                              set=sets[i]) for i in range(len(its))], truth, "ridge on the network's features, fitted on train/"))
    t = time.time(); parts = []
    for it in its:
        labels, _, sc = segment_image(it['image'], 'learned')
        m = measure_particles(labels, it['image']); m['score'] = np.asarray(sc, float)[m.label.to_numpy(int) - 1]
        parts.append(m)
    timing['segmenter'] = (time.time() - t) / len(its)
    for ms in (0., 0.45, 0.5, 0.6):
        for mw in (3, 5):
            rows = [dict(measured_readings(m, mw, ms), set=s) for m, s in zip(parts, sets)]
            table.append(scores(rows, truth, f'segmenter, score >= {ms}, at least {mw} whole particles'
                                + (' (kept)' if (ms, mw) == (MIN_SCORE, MIN_WHOLE) else '')))
    t = pd.DataFrame(table).set_index('lever')
    pd.set_option('display.width', 250)
    print(t.round(2).to_string())
    print('seconds per image:', {k: round(v, 2) for k, v in timing.items()}, f'; total {time.time() - t0:.0f} s')

if __name__ == '__main__': main()
