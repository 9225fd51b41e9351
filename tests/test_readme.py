"""The README quotes the study's tables: its headline numbers are checked against the committed figures"""
import re
from pathlib import Path
import numpy as np, pandas as pd

REPO = Path(__file__).resolve().parents[1]
FIG = REPO/'figures'
README = (REPO/'README.md').read_text()

ROWS = {  # the first words of a row of the README's result table -> the model in figures/05_cv_metrics_long.csv
    'cnn: the readings': 'cnn', 'cnn_network:': 'cnn_network', "cnn + the powder's density": 'cnn+density',
    'cnn without the magnification': 'cnn_image_only', "cnn on the backbone's pooled features": 'cnn_features',
    'the same probe, untrained backbone': 'cnn_untrained', 'morphometry (02a)': 'morphometry',
    'mean of the training powders': 'mean', 'oracle, visible descriptors': 'oracle_visible',
    'oracle, all true descriptors': 'oracle', 'noise ceiling': 'noise_ceiling'}
COLUMNS = [('AOR', 'R2', 2), ('HR', 'R2', 2), ('flowable', 'ROC_AUC', 2), ('Hall_time', 'MAPE', 0)]
NUMBER = r'([+-]?\d+(?:\.\d+)?)'
CELL = re.compile(rf'{NUMBER} \[{NUMBER}, {NUMBER}\]')

def quoted(text):
    "Every 'value [lo, hi]' in `text`, as float triples"
    return [tuple(map(float, m)) for m in CELL.findall(text)]

def test_result_table_matches_the_committed_metrics():
    "Each cell of the README's result table is the committed metric and interval, rounded as printed"
    m = pd.read_csv(FIG/'05_cv_metrics_long.csv').set_index(['model', 'target', 'metric'])
    lines = [l for l in README.splitlines() if l.startswith('| ')]
    seen = set()
    for start, model in ROWS.items():
        (line,) = [l for l in lines if l[2:].startswith(start)]
        cells = quoted(line)
        assert len(cells) == len(COLUMNS), line
        for (target, metric, digits), cell in zip(COLUMNS, cells):
            r = m.loc[(model, target, metric)]
            want = tuple(round(float(v), digits) for v in (r.value, r.lo, r.hi))
            assert cell == want, (model, target, metric, cell, want)
        seen.add(model)
    assert seen >= {'cnn', 'mean', 'oracle'}

def test_headline_differences_match_the_committed_table():
    "The README's 'against the mean' and 'against the network alone' differences are those of 05_cv_differences.csv"
    d = pd.read_csv(FIG/'05_cv_differences.csv').set_index('versus')
    for versus, key in (('mean', 'Against the mean, paired on the same powders: AOR R2'),
                        ('cnn_network', "network's descriptors alone, paired on the same powders, AOR R2 moves")):
        i = README.index(key)
        got = quoted(re.sub(r'\s+', ' ', README[i:i + 300]))[:2]
        want = [tuple(map(float, CELL.search(d.loc[versus, c]).groups())) for c in ('AOR R2', 'HR R2')]
        assert got == want, (versus, got, want)

def test_oracle_share_is_the_committed_ratio():
    "'It reaches X of the oracle's R2 on AOR and Y on HR' is cnn over oracle in the committed metrics"
    m = pd.read_csv(FIG/'05_cv_metrics_long.csv').set_index(['model', 'target', 'metric']).value
    x, y = map(float, re.search(r"It reaches (\d\.\d+) of the\s+oracle's R2 on AOR and (\d\.\d+) on HR", README).groups())
    assert (x, y) == (round(m['cnn', 'AOR', 'R2'] / m['oracle', 'AOR', 'R2'], 2),
                      round(m['cnn', 'HR', 'R2'] / m['oracle', 'HR', 'R2'], 2))

def test_applicability_domain_ranges_match_the_table():
    "The README's domain ranges (real micrographs, test powders and the one outside) are 05_applicability_domain's"
    t = pd.read_csv(FIG/'05_applicability_domain.csv')
    real, test = t[t.group.str.startswith('real')].domain_ratio, t[t.group == 'simulated, test powders'].domain_ratio
    lo, hi, tlo, thi, out = map(float, re.search(r'`domain_ratio` (\d\.\d+)-(\d\.\d+), where the simulated test powders lie '
                                                   r'at (\d\.\d+)-(\d\.\d+) except one \w+ powder at (\d\.\d+)',
                                                   README.replace('\n', ' ')).groups())
    assert (lo, hi) == (round(real.min(), 2), round(real.max(), 2))
    inside = test[test <= 1]
    assert (tlo, thi) == (round(inside.min(), 2), round(inside.max(), 2)) and (test > 1).sum() == 1
    assert out == round(test.max(), 2)

def test_second_draw_matches_its_tables():
    "The README's second draw (seed 1) is what second-draw/05_cv_metrics_long.csv and 05_cv_differences.csv say"
    m = pd.read_csv(REPO/'second-draw'/'05_cv_metrics_long.csv').set_index(['model', 'target', 'metric'])
    text = re.sub(r'\s+', ' ', README[README.index('**A second draw.**'):])
    got = quoted(text[text.index('The cnn scores'):])[:3]
    want = [tuple(round(float(v), 2) for v in m.loc[('cnn', t, k), ['value', 'lo', 'hi']]) for t, k in
            (('AOR', 'R2'), ('HR', 'R2'), ('flowable', 'ROC_AUC'))]
    assert got == want, (got, want)
    d = pd.read_csv(REPO/'second-draw'/'05_cv_differences.csv').set_index('versus')
    got = quoted(text[text.index('cnn minus cnn_network is'):])[:2]
    want = [tuple(map(float, CELL.search(d.loc['cnn_network', c]).groups())) for c in ('AOR R2', 'HR R2')]
    assert got == want, (got, want)

def test_pretrained_start_table_matches_08():
    "The README's table of the seed's method from the pretrained backbone, and its paired differences, are 08's"
    m = pd.read_csv(FIG/'08_out_of_sample.csv').query("experiment == 'pretrained start'")
    m = m.set_index(['model', 'target', 'metric'])
    rows = {'probe (the headline recipe': 'probe', 'end to end, from scratch': 'end to end, from scratch',
            'end to end, pretrained backbone': 'end to end, pretrained backbone'}
    lines = [l for l in README.splitlines() if l.strip().startswith('| ')]
    for start, model in rows.items():
        (line,) = [l for l in lines if l.strip()[2:].startswith(start)]
        cells = quoted(line)
        assert len(cells) == len(COLUMNS), line
        for (target, metric, digits), cell in zip(COLUMNS, cells):
            r = m.loc[(model, target, metric)]
            assert cell == tuple(round(float(v), 2) for v in (r.value, r.lo, r.hi)), (model, target, metric, cell)
    md = (FIG/'08_out_of_sample.md').read_text()
    section = md[md.index('### pretrained start'):md.index('### leakage')]
    section = section[section.index('minus each'):]   # the paired differences
    text = re.sub(r'\s+', ' ', README)
    for versus, key in (('end to end, from scratch', 'The pretrained start minus the start from scratch'),
                        ('probe', 'The pretrained start minus the probe')):
        (row,) = [l for l in section.splitlines() if l.startswith(f'| {versus} ')]
        want = quoted(row.split('|')[2]) + quoted(row.split('|')[4])   # AOR R2, HR R2
        i = text.index(key)
        assert quoted(text[i:i + 200])[:2] == want, (versus, quoted(text[i:i + 200])[:2], want)
