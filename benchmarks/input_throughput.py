"""Input throughput on one core: how many images per second the training input reaches, and how many cores would feed a GPU.

    make bench-input     # or: python benchmarks/input_throughput.py [--tiles 240] [--size 224] [--bs 32] [--seconds 3]

Simulated tiles of the quick profile (512 px), cached as uint8 at two sides: the study's margin for crops of `--size`
(size + 2 size/16) and the whole 512-px tile. One thread, no DataLoader workers, no model. Rows:
- powderflow, uint8: `TileLoader` batches (one gather from the memory-mapped cache per batch), i.e. up to the uint8 batch
  that a GPU copy would take; the augmentation then runs on the GPU.
- powderflow, CPU float: the same plus `BatchAugment` on the CPU (a crop and symmetry per image, normalised float32).
- per item: fastai's `DataLoader` over the same `TileDataset` item by item (fastai collate) + the same `BatchAugment`.
- seed style: PIL opens each 8-bit file, torchvision Resize + ToTensor + Normalize per item (the seed study's loader).
Then the cores each path needs to feed timm's published model-only training throughputs at 224 px (timm's benchmark
results on an RTX 3090, AMP, channels_last, batch 512, as quoted in issue 18), and twice them (an H100, roughly)."""
import argparse, os, platform, tempfile, time
from pathlib import Path
import numpy as np, torch
from PIL import Image
import torchvision.transforms as T
from fastai.data.load import DataLoader
from powderflow.synthetic import synthesize
from powderflow.dataset import (read_records, cache_images, Scalers, TileDataset, TileLoader, BatchAugment, GREY_MEAN, GREY_STD)

PUBLISHED = {'regnety_004': 2086, 'resnet18': 3482, 'mobilenetv3_large_100': 2732, 'efficientnet_b0': 1752}  # img/s, train

def images_per_s(loader, seconds):
    "Images per second over whole epochs of `loader` for at least `seconds` (after one warm-up batch)"
    next(iter(loader))
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for b in loader: n += len(b[0])
    return n / (time.perf_counter() - t0)

class SeedStyle(torch.utils.data.Dataset):
    "The seed's loader: PIL opens the 8-bit file, torchvision resizes, converts and normalises it, item by item"
    def __init__(self, paths, size):
        self.paths = paths
        self.tf = T.Compose([T.Resize(size), T.ToTensor(), T.Normalize([GREY_MEAN], [GREY_STD])])
    def __len__(self): return len(self.paths)
    def __getitem__(self, i): return (self.tf(Image.open(self.paths[i]).convert('L')),)

def main(n_tiles=240, size=224, bs=32, seconds=3.):
    torch.set_num_threads(1)
    import cv2; cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        df = read_records(synthesize(d/'data', 'quick', progress=False)).head(n_tiles).reset_index(drop=True)
        sc = Scalers.fit(df)
        print(f'{len(df)} simulated tiles of 512 px, crops of {size} px, batch {bs}, 1 thread, no workers | '
              f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores | torch {torch.__version__}\n')
        print('| cache side | path | images/s per core | / seed style |')
        print('|---:|---|---:|---:|')
        rows = {}
        for cache in (size + 2 * (size // 16), 512):
            images = cache_images(df, 'PC', cache, d/'cache', n_workers=None, progress=False)
            ds = TileDataset(images, np.arange(len(df)), sc.inputs(df), sc.targets(df))
            paths = []
            for i, im in enumerate(np.asarray(images)):   # the same 8-bit images as files, for the seed's loader
                paths.append(d/f'seed_{cache}_{i:04d}.png'); Image.fromarray(im).save(paths[-1])
            torch.manual_seed(0)
            r = {'powderflow, uint8 batch for the GPU copy': images_per_s(TileLoader(ds, bs=bs, shuffle=True, drop_last=True), seconds),
                 'powderflow, normalised float batch on the CPU': images_per_s(
                     TileLoader(ds, bs=bs, shuffle=True, drop_last=True, after_batch=BatchAugment(size)), seconds),
                 'per item (fastai collate) + the same augmentation': images_per_s(
                     DataLoader(ds, bs=bs, shuffle=True, drop_last=True, after_batch=BatchAugment(size)), seconds),
                 'seed style (PIL + torchvision per item)': images_per_s(
                     torch.utils.data.DataLoader(SeedStyle(paths, size), batch_size=bs, shuffle=True, drop_last=True), seconds)}
            seed = r['seed style (PIL + torchvision per item)']
            for k, v in r.items(): print(f'| {cache} | {k} | {v:,.0f} | {v / seed:.1f}x |')
            rows[cache] = r
        cache = size + 2 * (size // 16)
        u8, cpu = rows[cache]['powderflow, uint8 batch for the GPU copy'], rows[cache]['powderflow, normalised float batch on the CPU']
        seed = rows[cache]['seed style (PIL + torchvision per item)']
        print(f'\nCores needed to feed the model-only training throughput (cache {cache} px):\n')
        print('| backbone | published img/s | uint8 path | CPU float path | seed style | at 2x (H100): uint8 | CPU float | seed style |')
        print('|---|---:|---:|---:|---:|---:|---:|---:|')
        for name, v in PUBLISHED.items():
            print(f'| {name} | {v:,} | ' + ' | '.join(f'{f * v / p:.2f}' for f in (1, 2) for p in (u8, cpu, seed)) + ' |')
        print(f'\nFloors: uint8 path >= 8,000 img/s per core: {u8:,.0f} ({"met" if u8 >= 8000 else "NOT met"}); '
              f'CPU float path >= 4x seed style: {cpu / seed:.1f}x ({"met" if cpu >= 4 * seed else "NOT met"})')

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--tiles', type=int, default=240); p.add_argument('--size', type=int, default=224)
    p.add_argument('--bs', type=int, default=32); p.add_argument('--seconds', type=float, default=3.)
    a = p.parse_args(); main(a.tiles, a.size, a.bs, a.seconds)
