"Records, splits, the cache and the DataLoaders on files a user would have: both formats, and the bad-input rules."
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch
from powderflow.conversion import ConversionError
from powderflow.dataset import (RecordError, Scalers, cache_images, check_split, leakage_report, missing_files, powder_dataloaders,
                             read_records, read_seed_csv, split_by_powder)
from powderflow.synthetic import synthesize
from conftest import REPO

@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp('tiny')
    synthesize(d, 'tiny', seed_format=True, n_workers=2, progress=False)
    return d

def test_seed_format_end_to_end(tiny, tmp_path):
    "The simulator's seed-format output read back by the seed reader: same labels, every file found, tiles grouped"
    seed = read_seed_csv(tiny/'seed'/'data.csv', tiny/'seed')
    native = read_records(tiny/'records.csv')
    assert len(missing_files(seed)) == 0 and seed.tile_key.nunique() == len(native)
    assert (seed.groupby('tile_key').convert_method.nunique() == 12).all()
    lab = lambda d: d.groupby('powder_name')[['AOR', 'HR', 'flowable']].first()
    pd.testing.assert_frame_equal(lab(seed), lab(native))
    one = seed[seed.convert_method == 'PC'].reset_index(drop=True)
    imgs = cache_images(one, size=40, cache_dir=tmp_path, n_workers=0, progress=False)   # 8-bit tiles, read as they are
    assert imgs.shape == (len(native), 40, 40) and imgs.max() > 0

def test_real_seed_csvs_leak():
    "The seed study's own val/test CSVs (shared beside the repo): every powder and most tiles are in both"
    d = REPO.parent/'shared'/'seed-format'
    if not (d/'test_data.csv').exists(): pytest.skip(f'the seed CSVs are not at {d}')
    val, test = read_seed_csv(d/'val_data.csv', '/x'), read_seed_csv(d/'test_data.csv', '/x')
    rep = leakage_report({'val': val, 'test': test}).iloc[0]
    assert rep.shared_powders == 38 and rep.pct_of_second_tiles_seen > 50
    assert test.groupby('powder_name').flowable.first().sum() == 21

def test_missing_and_corrupt_tiles_are_named(tiny, tmp_path):
    df = read_records(tiny/'records.csv')
    gone = Path(df.image_path[3]); bad = Path(df.image_path[5])
    df.loc[3, 'image_path'] = str(gone.with_name('nope.tiff'))
    assert list(missing_files(df).index) == [3]
    broken = tmp_path/'broken.tiff'; broken.write_bytes(bad.read_bytes()[:300])
    df.loc[5, 'image_path'] = str(broken)
    with pytest.raises(ConversionError) as e: cache_images(df, size=40, cache_dir=tmp_path/'c', n_workers=0, progress=False)
    assert 'nope.tiff: no such tile' in str(e.value) and 'broken.tiff: not a readable TIFF' in str(e.value)

@pytest.mark.parametrize('column, value, message', [
    ('magnification', 'NaN', 'column magnification: missing in row(s) 2'),
    ('magnification', -500, 'column magnification: zero or negative in row(s) 2'),
    ('magnification', 'x500', "column magnification: not a number in row(s) 2 (e.g. 'x500')"),
    ('HR', 0.95, 'column HR: missing or outside 1..3'),
    ('AOR', 120, 'column AOR: missing or outside 0..90 deg'),
    ('Hall_time', -3, 'column Hall_time: zero or negative'),
])
def test_bad_records_name_file_row_column(tiny, tmp_path, column, value, message):
    df = pd.read_csv(tiny/'records.csv')
    df[column] = df[column].astype(object); df.loc[0, column] = value
    csv = tmp_path/'r.csv'; df.to_csv(csv, index=False)
    with pytest.raises(RecordError, match=f'{csv}: {message}'.replace('(', r'\(').replace(')', r'\)').replace('.', r'\.')): read_records(csv)

def test_missing_column(tiny, tmp_path):
    csv = tmp_path/'r.csv'; pd.read_csv(tiny/'records.csv').drop(columns='magnification').to_csv(csv, index=False)
    with pytest.raises(RecordError, match='missing column\\(s\\) magnification'): read_records(csv)

def test_powder_in_two_splits(tiny):
    df = read_records(tiny/'records.csv')
    split = split_by_powder(df, 0.25, 0.25)
    p = df.powder_name[0]; split[df.index[df.powder_name == p][0]] = 'test' if split[0] != 'test' else 'train'
    with pytest.raises(RecordError, match=f"powder '{p}' is in more than one split"): check_split(df, split)

def test_dataloaders_deterministic_and_correct(tiny, tmp_path):
    df = read_records(tiny/'records.csv'); df['split'] = split_by_powder(df, 0.25, 0.25)
    imgs = cache_images(df, 'LS', 72, tmp_path, n_workers=2, progress=False)
    sc = Scalers.fit(df[df.split == 'train'])
    train = df[df.split == 'train']
    np.testing.assert_allclose(sc.inputs(train)[:, 0].mean(), 0, atol=1e-6)        # fitted on training records only
    def first_train_batch(seed):
        torch.manual_seed(0)  # the augmentation's randomness (training seeds it per epoch)
        return next(iter(powder_dataloaders(df, imgs, sc, size=64, bs=8, device=torch.device('cpu'), seed=seed).train))
    for a, b in zip(first_train_batch(1), first_train_batch(1)): torch.testing.assert_close(a, b, equal_nan=True)
    assert not torch.equal(first_train_batch(1)[1], first_train_batch(2)[1])    # another seed, another shuffle
    batches = [powder_dataloaders(df, imgs, sc, size=64, bs=8, device=torch.device('cpu'), seed=1).valid.one_batch() for _ in range(2)]
    for a, b in zip(*batches): torch.testing.assert_close(a, b, equal_nan=True)
    x, inp, y = batches[0]
    assert x.shape == (8, 1, 64, 64) and torch.isnan(y[:, 2]).eq(y[:, 3] == 0).all()

def test_cache_follows_rewritten_files(tiny, tmp_path):
    df = read_records(tiny/'records.csv').head(4).reset_index(drop=True)
    a = np.array(cache_images(df, 'LS', 40, tmp_path, n_workers=0, progress=False))
    import shutil, os, time
    src = Path(df.image_path[0]); other = Path(df.image_path[1])
    shutil.copy(other, src); os.utime(src, ns=(time.time_ns(), time.time_ns() + 10**9))   # tile 0 rewritten with tile 1's image
    b = np.array(cache_images(df, 'LS', 40, tmp_path, n_workers=0, progress=False))
    np.testing.assert_array_equal(b[0], b[1]); assert not np.array_equal(a[0], b[0])

def test_tile_loader_gathers_what_items_give(tiny, tmp_path):
    "A batch gathered at once holds exactly the items one by one would, in the dataset's order, even when that is not sorted"
    from fastai.data.load import DataLoader
    from powderflow.dataset import TileDataset, TileLoader
    df = read_records(tiny/'records.csv')
    imgs = cache_images(df, 'LS', 40, tmp_path, n_workers=0, progress=False)
    sc = Scalers.fit(df)
    idx = np.random.default_rng(0).permutation(len(df))[:11]          # records in no particular order
    ds = TileDataset(imgs, idx, sc.inputs(df), sc.targets(df))
    got = list(TileLoader(ds, bs=4, device=torch.device('cpu')))
    ref = list(DataLoader(ds, bs=4, device=torch.device('cpu')))
    assert [len(b[0]) for b in got] == [4, 4, 3]
    for g, r in zip(got, ref):
        for a, b in zip(g, r): torch.testing.assert_close(a, b, equal_nan=True)
    np.testing.assert_array_equal(got[0][0][1, 0].numpy(), imgs[idx[1]])
    dropped = TileLoader(ds, bs=4, shuffle=True, drop_last=True, device=torch.device('cpu'))
    assert len(dropped) == 2 and [len(b[0]) for b in dropped] == [4, 4]

def test_batch_augment_crops_each_image_on_its_own():
    "Random crops differ between the images of one batch and stay inside each tile; the centre crop is the tile's centre"
    from powderflow.dataset import BatchAugment, GREY_MEAN, GREY_STD
    x = torch.arange(16, dtype=torch.uint8).repeat(64, 1, 16, 1) * 16 + torch.arange(16, dtype=torch.uint8)[:, None]  # 16 col + row
    torch.manual_seed(0)
    out, = BatchAugment(8, train=True)((x,))
    v = torch.round((out * GREY_STD + GREY_MEAN) * 255).long()
    a, b = v // 16, v % 16          # each output pixel's source column and row (a symmetry may swap them)
    assert len(set(zip(a.amin((1, 2, 3)).tolist(), b.amin((1, 2, 3)).tolist()))) > 10   # crop offsets differ per image
    for c in (a, b): assert (c.amax((1, 2, 3)) - c.amin((1, 2, 3)) == 7).all() and c.min() >= 0 and c.max() <= 15
    centre, = BatchAugment(8, train=False)((x[:2],))
    torch.testing.assert_close(centre, ((x[:2, :, 4:12, 4:12].float() / 255 - GREY_MEAN) / GREY_STD))
