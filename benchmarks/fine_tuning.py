"""What fine-tuning the seed study's end-to-end network from the simulator-pretrained backbone needs: each lever
cross-validated by powder on the quick benchmark (38 powders, 5 folds, one repeat, the folds of 08 and of 05a's first
repeat), against the network trained from scratch and the probe on the same powders.

    python benchmarks/fine_tuning.py [--run runs/bench-fine-tuning] [--levers scratch pretrained ...]

About 30 min on 2 CPU cores for every lever (a finished lever is reused from its folder). Levers: the pretrained start
alone (the learning rate and schedule of the network from scratch); fastai's way of fine-tuning (`freeze_epochs` of the
new layers on the frozen backbone, then every layer with the backbone at lr / `lr_mult`, 10 or 100); the pretraining's
input side (128 px of the 144-px cache: the field and scale the backbone was trained at) instead of the quick profile's
96; 20 epochs instead of 10. `config.FINE_TUNING` keeps the lever with the lowest mean over the folds of the best
loss on each fold's inner validation powders (drawn from the fold's training powders), never chosen by the test
powders; the test scores are printed beside it for the record. Prints per lever: inner validation loss, the epochs
kept, the seconds of training (5 folds), and cross-validated AOR / HR R2 and ROC-AUC with 95 % intervals, and the
paired differences against scratch and the probe. Writes {run}/fine_tuning.csv."""
import argparse, json, time
from pathlib import Path
import numpy as np, pandas as pd
from powderflow.synthetic import study_data
from powderflow.dataset import read_records
from powderflow.configuration import profile_config
from powderflow.evaluation import cv_folds, powder_labels, cv_metrics, paired_differences, crossvalidate
from powderflow.study_grid import crossvalidate_end_to_end
from powderflow.readings import shipped_reader
from powderflow.recipe import record_readings, pooled_features

def levers(reader):
    "Name -> `TrainConfig` overrides on the quick profile"
    ft = dict(backbone_from=str(reader), freeze_epochs=2, lr_mult=10.)
    return {'scratch': {}, 'pretrained': dict(backbone_from=str(reader)),
            'pretrained, frozen first': ft,
            'pretrained, frozen first, lr_mult 100': ft | dict(lr_mult=100.),
            'pretrained, frozen first, 128 px': ft | dict(size=128),
            'pretrained, frozen first, 20 epochs': ft | dict(epochs=20, patience=5),
            'pretrained, 128 px': dict(backbone_from=str(reader), size=128),
            'pretrained, 20 epochs': dict(backbone_from=str(reader), epochs=20, patience=5)}

def inner_validation(folder):
    "Per fold: the best validation loss (inner validation powders) and its epoch, from the fold's history.csv"
    rows = []
    for h in sorted(Path(folder).glob('repeat*-fold*/history.csv')):
        d = pd.read_csv(h, dtype=str).apply(lambda c: pd.to_numeric(c, errors='coerce')).dropna(subset=['epoch'])
        rows.append(dict(fold=h.parent.name, valid_loss=d.valid_loss.min(),
                         best_epoch=int(d.epoch[d.valid_loss.idxmin()]), epochs=len(d), train_s=json.loads((h.parent/'run.json').read_text())['train_s']))
    return pd.DataFrame(rows)

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--run', default='runs/bench-fine-tuning')
    p.add_argument('--levers', nargs='*', default=None)
    p.add_argument('--n-boot', type=int, default=2000)
    a = p.parse_args()
    run, reader = Path(a.run), shipped_reader()
    data = study_data(None, run, 'quick', 0)
    records, powders = read_records(data/'records.csv'), pd.read_csv(data/'powders.csv')
    labels = powder_labels(records)
    folds = cv_folds(labels, 5, 1, 0)
    t0 = time.time()
    probe = crossvalidate(labels, folds, dict(probe=pooled_features(record_readings(records, reader),
                                                                    records.powder_name)))
    print(f'probe: readings of {len(records)} tiles in {time.time() - t0:.0f} s', flush=True)
    preds, rows = [probe[probe.model == 'probe']], []
    for name, over in levers(reader).items():
        if a.levers and name not in a.levers: continue
        cfg = profile_config('quick', **over)
        folder = run/name.replace(', ', '-').replace(' ', '_')
        p_ = crossvalidate_end_to_end(records, cfg, folder, folds, data/'powders.csv', cache_dir=run/'cache')
        preds.append(p_[p_.model == 'cnn_end_to_end'].assign(model=name))
        iv = inner_validation(folder)
        rows.append(dict(lever=name, inner_valid_loss=iv.valid_loss.mean(),
                         best_epochs=' '.join(map(str, iv.best_epoch)),
                         train_s=round(iv.train_s.sum())))   # of the first training, when a finished one is reused
        print(rows[-1], flush=True)
    preds = pd.concat(preds, ignore_index=True)
    m = cv_metrics(preds, a.n_boot, 0).set_index(['model', 'target', 'metric'])
    fmt = lambda r: f'{r.value:.2f} [{r.lo:.2f}, {r.hi:.2f}]'
    table = pd.DataFrame(rows).set_index('lever')
    for t, k in (('AOR', 'R2'), ('HR', 'R2'), ('flowable', 'ROC_AUC')):
        table[f'{t} {k}'] = [fmt(m.loc[(n, t, k)]) for n in table.index]
    for ref in ('scratch', 'probe'):
        if ref not in set(preds.model): continue
        d = paired_differences(preds, ref, n_boot=a.n_boot, seed=0).set_index(['versus', 'target', 'metric'])
        for t in ('AOR', 'HR'):
            table[f'{t} R2 - {ref}'] = [f'{-d.difference[n, t, "R2"]:+.2f} [{-d.hi[n, t, "R2"]:+.2f}, '
                                        f'{-d.lo[n, t, "R2"]:+.2f}]' if n != ref else '' for n in table.index]
    pd.set_option('display.width', 250); pd.set_option('display.max_columns', 20)
    print(table.to_string())
    for t, k in (('AOR', 'R2'), ('HR', 'R2')): print(f'probe {t} {k}: {fmt(m.loc[("probe", t, k)])}')
    table.to_csv(run/'fine_tuning.csv')

if __name__ == '__main__': main()
