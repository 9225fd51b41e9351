"""Training throughput: this library's input pipeline against tensors already in memory, and against a plain PyTorch loop
in the seed study's style (PIL opens each 8-bit file and torchvision transforms it, per item, per epoch).

    make bench-train     # or: python benchmarks/training_throughput.py [--backbone regnety_004] [--size 128] [--steps 20]

All three train the same model (PowderNet, same backbone, batch and optimiser) for the same number of steps on the same tiles
of the quick simulated profile; each is timed after two warm-up steps. Throughput in images per second, and the ratios."""
import argparse, os, tempfile, time
from pathlib import Path
import numpy as np, torch
from PIL import Image
import torchvision.transforms as T
from powderflow.synthetic import synthesize
from powderflow.conversion import convert_tiles
from powderflow.dataset import read_records, split_by_powder, cache_images, Scalers, powder_dataloaders, GREY_MEAN, GREY_STD
from powderflow.training import PowderLoss
from powderflow.model import PowderNet

def steps_per_s(model, batches, steps):
    "Train on `batches` (an iterator of (x, inputs, y)) for `steps` steps after 2 warm-up steps; returns batches per second"
    opt, loss_fn = torch.optim.AdamW(model.parameters(), 1e-3), PowderLoss()
    model.train()
    def step(b):
        x, inp, y = b
        opt.zero_grad(); loss_fn(model(x, inp), y).backward(); opt.step()
    it = iter(batches)
    for _ in range(2): step(next(it))
    t0 = time.perf_counter()
    for _ in range(steps): step(next(it))
    return steps / (time.perf_counter() - t0)

def forever(dl):
    while True: yield from dl

class SeedStyle(torch.utils.data.Dataset):
    "What a first PyTorch script does: open the 8-bit file with PIL and run torchvision transforms, per item"
    def __init__(self, paths, inputs, targets, size):
        self.paths, self.inputs, self.targets = paths, inputs, targets
        self.tf = T.Compose([T.RandomCrop(size), T.RandomHorizontalFlip(), T.RandomVerticalFlip(), T.ToTensor(), T.Normalize([GREY_MEAN], [GREY_STD])])
    def __len__(self): return len(self.paths)
    def __getitem__(self, i):
        return self.tf(Image.open(self.paths[i]).convert('L')), torch.from_numpy(self.inputs[i]), torch.from_numpy(self.targets[i])

def main(backbone='regnety_004', size=128, bs=32, steps=20, workers=0):
    torch.set_num_threads(os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        rec = synthesize(d/'data', 'quick', progress=False)
        df = read_records(rec); df['split'] = split_by_powder(df)
        cache = size + 2 * (size // 16)
        images = cache_images(df, 'PC', cache, d/'cache', progress=False)
        sc = Scalers.fit(df[df.split == 'train'])
        dls = powder_dataloaders(df, images, sc, size, bs, device=torch.device('cpu'), num_workers=workers)
        # tensors already in memory: the same kind of batches, made once, cycled
        mem = [next(iter(dls.train)) for _ in range(4)]
        torch.manual_seed(0); m0 = PowderNet(backbone)
        ref = steps_per_s(m0, (mem[i % 4] for i in range(10 ** 9)), steps)
        torch.manual_seed(0); lib = steps_per_s(PowderNet(backbone), forever(dls.train), steps)
        # the seed's style: 8-bit files on disk, PIL + torchvision per item
        train = df[df.split == 'train'].reset_index(drop=True)
        conv = convert_tiles(rec, d/'files', ['PC'], n_workers=None, progress=False)
        files = conv.set_index('source').loc[train.image_path, 'output'].tolist()
        import cv2
        for f in files:  # the same resize to the cache size, done once, so both read images of the same size
            im = cv2.resize(np.asarray(Image.open(f)), (cache, cache), interpolation=cv2.INTER_AREA); Image.fromarray(im).save(f)
        ds = SeedStyle(files, sc.inputs(train), sc.targets(train), size)
        dl = torch.utils.data.DataLoader(ds, batch_size=bs, shuffle=True, drop_last=True, num_workers=workers)
        torch.manual_seed(0); seed = steps_per_s(PowderNet(backbone), forever(dl), steps)
    print(f'{backbone}, {size} px, batch {bs}, {steps} steps, {os.cpu_count()} CPU threads, DataLoader workers {workers}')
    print(f'| pipeline | images/s | ratio |\n|---|---:|---:|')
    print(f'| tensors already in memory | {ref * bs:.1f} | 1.00 |')
    print(f'| powderflow (uint8 cache + on-device batch augmentation) | {lib * bs:.1f} | {lib / ref:.2f} of in-memory |')
    print(f'| seed style (PIL + torchvision per item) | {seed * bs:.1f} | {seed / ref:.2f} of in-memory; powderflow / seed style = {lib / seed:.2f} |')

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--backbone', default='regnety_004'); p.add_argument('--size', type=int, default=128)
    p.add_argument('--bs', type=int, default=32); p.add_argument('--steps', type=int, default=20); p.add_argument('--workers', type=int, default=0)
    a = p.parse_args(); main(a.backbone, a.size, a.bs, a.steps, a.workers)
