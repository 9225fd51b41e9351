"Integration and bad-input tests of powderflow.conversion: files on disk, batches, interruption, records CSVs."
import os, shutil, signal, subprocess, sys, time
from pathlib import Path
import numpy as np, pandas as pd, pytest, tifffile
from powderflow.conversion import (ConversionError, TileError, convert, convert_tiles, convert_to_array, demo_tile,
                                   demo_tiles, list_tiles, read_tile)

def _conv(src, dst, **kw): return convert_tiles(src, dst, **{'n_workers': 0, 'progress': False, **kw})

# --- bad input: one clear error naming the file ------------------------------------------------------------------

def _write_bad(folder, kind):
    "A bad tile of `kind` in `folder`; returns its path"
    p = folder/f'{kind}.tiff'
    good = demo_tile(0, 64)[0]
    if kind == 'truncated':
        tifffile.imwrite(p, good); p.write_bytes(p.read_bytes()[:p.stat().st_size // 2])
    elif kind == 'not_tiff': p.write_bytes(b'\x89PNG\r\n\x1a\n' + bytes(100))
    elif kind == 'empty_file': p.write_bytes(b'')
    elif kind == '8bit': tifffile.imwrite(p, (good >> 8).astype(np.uint8))
    elif kind == 'rgb': tifffile.imwrite(p, np.stack([good] * 3, -1), photometric='rgb')
    elif kind == 'float': tifffile.imwrite(p, good.astype(np.float32))
    elif kind == 'multipage': tifffile.imwrite(p, np.stack([good] * 5))
    elif kind == 'constant': tifffile.imwrite(p, np.full((64, 64), 4242, np.uint16))
    return p

BAD = {'truncated': 'not a readable TIFF', 'not_tiff': 'not a readable TIFF', 'empty_file': 'not a readable TIFF',
       '8bit': '8-bit image', 'rgb': 'RGB image', 'float': 'float image', 'multipage': 'multi-page TIFF', 'constant': 'constant image'}

@pytest.mark.parametrize('kind', BAD)
def test_bad_tile_is_named(tmp_path, kind):
    p = _write_bad(tmp_path, kind)
    with pytest.raises(TileError) as e: read_tile(p)
    msg = str(e.value)
    assert msg.startswith(str(p)) and BAD[kind] in msg, msg
    assert '\n' not in msg  # one line

def test_missing_tile(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.tiff: no such tile'): read_tile(tmp_path/'nope.tiff')

def test_empty_array():
    with pytest.raises(TileError, match='empty image'): convert(np.zeros((0, 5), np.uint16))

def test_unknown_pipeline(tmp_path, tiles):
    with pytest.raises(KeyError, match="unknown conversion pipeline 'LinearStretch'; known: Fixed, LS"):
        _conv(tmp_path/'tiles', tmp_path/'out', pipelines=['LS', 'LinearStretch'])
    assert not (tmp_path/'out').exists()  # checked before anything is written

def test_output_folder_not_writable(tmp_path, tiles):
    blocker = tmp_path/'a_file'; blocker.write_text('x')
    with pytest.raises(PermissionError, match=f'{blocker}/out: output folder is not writable'):
        _conv(tmp_path/'tiles', blocker/'out', pipelines=['LS'])

# --- batches: bad tiles do not cost the good ones, reruns resume ----------------------------------------------------

def test_batch_with_bad_tiles_keeps_the_good_ones(tmp_path, tiles):
    src = tmp_path/'tiles'
    bad = [_write_bad(src, k) for k in ('truncated', 'rgb')]
    with pytest.raises(ConversionError) as e: _conv(src, tmp_path/'out', pipelines=['LS', 'PC'], n_workers=2)
    msg = str(e.value)
    assert msg.startswith('4 of 12 conversions failed') and all(str(b) in msg for b in bad), msg
    for t in tiles:  # every good tile is converted, and correctly
        for m in ('LS', 'PC'):
            out = tifffile.imread(tmp_path/'out'/m/t.name)
            np.testing.assert_array_equal(out, convert(read_tile(t)[0], m))
    index = pd.read_csv(tmp_path/'out'/'conversions.csv')
    assert (index.status == 'done').sum() == 8 and index.status.str.startswith('error').sum() == 4
    # fix the folder, rerun: only what is missing is done
    for b in bad: b.unlink()
    df = _conv(src, tmp_path/'out', pipelines=['LS', 'PC'])
    assert set(df.status) == {'skipped'}
    df = _conv(src, tmp_path/'out', pipelines=['LS', 'PC', 'ImageJ'])
    assert (df.status == 'done').sum() == 4 and (df.status == 'skipped').sum() == 8

def test_keep_going_reports_instead_of_raising(tmp_path, tiles):
    _write_bad(tmp_path/'tiles', 'float')
    df = _conv(tmp_path/'tiles', tmp_path/'out', pipelines=['LS'], strict=False)
    assert df.status.str.contains('float image').sum() == 1 and (df.status == 'done').sum() == 4

def test_png_output_and_parallel_equals_serial(tmp_path, tiles):
    a = _conv(tmp_path/'tiles', tmp_path/'serial', pipelines=['PC+GC+CLAHE'], ext='.png', n_workers=0)
    b = _conv(tmp_path/'tiles', tmp_path/'par', pipelines=['PC+GC+CLAHE'], ext='.png', n_workers=2)
    assert set(a.status) == set(b.status) == {'done'}
    import cv2
    for t in tiles:
        x, y = (cv2.imread(str(d/'PC+GC+CLAHE'/(t.stem + '.png')), cv2.IMREAD_UNCHANGED) for d in (tmp_path/'serial', tmp_path/'par'))
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, convert(read_tile(t)[0], 'PC+GC+CLAHE'))

def test_converted_tiff_keeps_scale_metadata(tmp_path, tiles):
    _conv(tmp_path/'tiles', tmp_path/'out', pipelines=['ImageJ'])
    with tifffile.TiffFile(tmp_path/'out'/'ImageJ'/tiles[1].name) as tif:
        meta = tif.shaped_metadata[0]
        assert tif.pages[0].dtype == np.uint8
    assert meta['magnification'] == 1000 and meta['conversion'] == 'ImageJ' and meta['pixel_size_um'] > 0

def test_killed_run_leaves_only_whole_files_and_resumes(tmp_path):
    "SIGKILL a real conversion mid-way: every output under its final name is whole, and a rerun completes the set"
    src = tmp_path/'tiles'
    demo_tiles(src, n=16, size=512)
    out = tmp_path/'out'
    exe = shutil.which('powderflow') or str(Path(sys.executable).parent/'powderflow')
    cmd = [exe, 'convert', str(src), str(out), '--workers', '2']
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(out.rglob('*.tiff'))) < 20: time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL); proc.wait()
    finished = list(out.rglob('*.tiff'))
    assert 20 <= len(finished) < 16 * 12, len(finished)  # interrupted part-way
    for f in finished: assert tifffile.imread(f).dtype == np.uint8  # whole files only
    df = _conv(src, out)
    assert (df.status == 'skipped').sum() == len(finished) and (df.status == 'done').sum() == 16 * 12 - len(finished)
    for f in out.rglob('*.tiff'):
        m, name = f.parent.name, f.name
        np.testing.assert_array_equal(tifffile.imread(f), convert(read_tile(src/name)[0], m))
    assert not list(out.rglob('*.tmp'))  # the killed run's temporaries are removed by the rerun

# --- records CSV ----------------------------------------------------------------------------------------------------

def test_records_csv(tmp_path, tiles):
    csv = tmp_path/'records.csv'
    pd.DataFrame(dict(image_path=[f'tiles/{t.name}' for t in tiles[:3]], powder='A')).to_csv(csv, index=False)
    assert list_tiles(csv) == [tmp_path/'tiles'/t.name for t in tiles[:3]]
    df = _conv(csv, tmp_path/'out', pipelines=['LS'])
    assert len(df) == 3 and set(df.status) == {'done'}

def test_records_csv_errors(tmp_path, tiles):
    csv = tmp_path/'r.csv'
    pd.DataFrame(dict(path=['x.tiff'])).to_csv(csv, index=False)
    with pytest.raises(KeyError, match=r'r.csv: no column "image_path" \(columns: path\)'): list_tiles(csv)
    pd.DataFrame(dict(image_path=['tiles/' + tiles[0].name, None])).to_csv(csv, index=False)
    with pytest.raises(ValueError, match=r'r.csv: empty image_path in row\(s\) 3'): list_tiles(csv)
    pd.DataFrame(dict(image_path=['tiles/' + tiles[0].name, 'tiles/missing.tiff'])).to_csv(csv, index=False)
    with pytest.raises(ConversionError, match='missing.tiff: no such tile'): _conv(csv, tmp_path/'out', pipelines=['LS'])
    assert (tmp_path/'out'/'LS'/tiles[0].name).exists()

# --- the memory-mapped array ------------------------------------------------------------------------------------------

def test_array_parallel_and_resume(tmp_path):
    demo_tiles(tmp_path/'tiles', n=6, size=64)
    arr = convert_to_array(tmp_path/'tiles', tmp_path/'PC.npy', 'PC', n_workers=2, progress=False)
    assert arr.shape == (6, 64, 64) and arr.dtype == np.uint8
    expected = [convert(read_tile(p)[0], 'PC') for p in list_tiles(tmp_path/'tiles')]
    for i, e in enumerate(expected): np.testing.assert_array_equal(arr[i], e)
    done = np.memmap(tmp_path/'PC.npy.done', np.uint8, 'r+'); done[[2, 4]] = 0; done.flush(); del done   # two rows interrupted
    np.load(tmp_path/'PC.npy', mmap_mode='r+')[[2, 4]] = 0
    arr = convert_to_array(tmp_path/'tiles', tmp_path/'PC.npy', 'PC', n_workers=2, progress=False)
    for i, e in enumerate(expected): np.testing.assert_array_equal(arr[i], e)
    assert np.fromfile(tmp_path/'PC.npy.done', np.uint8).all()
    assert np.load(tmp_path/'PC.npy', mmap_mode='r').shape == (6, 64, 64)  # an ordinary .npy

def test_array_bad_tiles(tmp_path):
    demo_tiles(tmp_path/'tiles', n=3, size=64)
    tifffile.imwrite(tmp_path/'tiles'/'zz_big.tiff', demo_tile(1, 80)[0])
    _write_bad(tmp_path/'tiles', 'truncated')
    with pytest.raises(ConversionError) as e: convert_to_array(tmp_path/'tiles', tmp_path/'a.npy', 'LS', n_workers=0, progress=False)
    assert "zz_big.tiff: shape (80, 80) differs from the first tile's (64, 64)" in str(e.value) and 'truncated.tiff: not a readable TIFF' in str(e.value)
    done = np.fromfile(tmp_path/'a.npy.done', np.uint8)
    assert done.sum() == 3  # the good rows are kept and marked
    with pytest.raises(FileExistsError, match='a.npy: exists with other tiles'):
        convert_to_array(tmp_path/'tiles', tmp_path/'a.npy', 'PS', n_workers=0, progress=False)

def test_output_inside_the_tile_folder_is_not_read_back(tmp_path, tiles):
    src = tmp_path/'tiles'
    _conv(src, src/'converted', pipelines=['LS'])
    df = _conv(src, src/'converted', pipelines=['LS', 'PS'])  # the 8-bit outputs under src/converted are not tiles
    assert len(df) == 8 and set(df.status) == {'skipped', 'done'}

def test_array_first_tile_bad_and_keep_going(tmp_path):
    demo_tiles(tmp_path/'tiles', n=3, size=64)
    _write_bad(tmp_path/'tiles', 'constant').rename(tmp_path/'tiles'/'a_first.tiff')  # sorts first
    with pytest.warns(UserWarning, match=r'1 of 4 rows left empty \(not done\):\n  .*a_first.tiff: constant image'):
        arr = convert_to_array(tmp_path/'tiles', tmp_path/'a.npy', 'LS', n_workers=0, progress=False, strict=False)
    assert arr.shape == (4, 64, 64) and arr[0].max() == 0 and all(arr[i].max() == 255 for i in (1, 2, 3))
    assert list(np.fromfile(tmp_path/'a.npy.done', np.uint8)) == [0, 1, 1, 1]

def test_array_never_overwrites_a_foreign_file(tmp_path, tiles):
    np.save(tmp_path/'mine.npy', np.arange(5))
    with pytest.raises(FileExistsError, match='mine.npy: exists and was not made by convert_to_array'):
        convert_to_array(tmp_path/'tiles', tmp_path/'mine.npy', n_workers=0, progress=False)
    np.testing.assert_array_equal(np.load(tmp_path/'mine.npy'), np.arange(5))
    arr = convert_to_array(tmp_path/'tiles', tmp_path/'mine.npy', n_workers=0, progress=False, overwrite=True)
    assert arr.shape == (4, 96, 96)

def test_index_accumulates_over_runs(tmp_path, tiles):
    _conv(tmp_path/'tiles', tmp_path/'out', pipelines=['LS'])
    _conv(tmp_path/'tiles', tmp_path/'out', pipelines=['PC'])
    index = pd.read_csv(tmp_path/'out'/'conversions.csv')
    assert sorted(index.pipeline.unique()) == ['LS', 'PC'] and len(index) == 8 and index.output.is_unique

def test_malformed_csv_is_named(tmp_path):
    (tmp_path/'r.csv').write_bytes(b'image_path,x\n"a.tiff,1\nb.tiff,2,3,4\n')
    with pytest.raises(ValueError, match='r.csv: not a readable CSV'): list_tiles(tmp_path/'r.csv')

def test_outputs_saved_under_the_former_name_are_read(tmp_path, tiles):
    "Issue 34: an array index and a conversions.csv written when a pipeline was called `method` are still this " \
    "pipeline's: the array resumes instead of being refused, and the index keeps one column, `pipeline`"
    convert_to_array(tmp_path/'tiles', tmp_path/'PC.npy', 'PC', n_workers=0, progress=False)
    idx = tmp_path/'PC.npy.json'
    old = idx.read_text().replace('"pipeline":', '"method":'); assert '"method": "PC"' in old
    idx.write_text(old)
    arr = convert_to_array(tmp_path/'tiles', tmp_path/'PC.npy', 'PC', n_workers=0, progress=False)
    assert arr.shape[0] == 4 and arr.any(axis=(1, 2)).all()
    with pytest.raises(FileExistsError, match='another pipeline'):   # the old key is read, not ignored
        convert_to_array(tmp_path/'tiles', tmp_path/'PC.npy', 'LS', n_workers=0, progress=False)
    _conv(tmp_path/'tiles', tmp_path/'out', pipelines=['LS'])
    csv = tmp_path/'out'/'conversions.csv'
    pd.read_csv(csv).rename(columns=dict(pipeline='method')).to_csv(csv, index=False)
    _conv(tmp_path/'tiles', tmp_path/'out', pipelines=['PC'])
    index = pd.read_csv(csv)
    assert 'method' not in index.columns and sorted(index.pipeline.unique()) == ['LS', 'PC'] and len(index) == 8
