#!/usr/bin/env python3
"""DD's path with PyTorch ops, for comparison with disco_bench (same cases, same table format).

Cutouts: MakeCutoutsDango as disco.py runs it — F.pad of the short side, a ResizeRight-style resize (pad, gather
the field of view, weight, sum; antialiased cubic), 3-channel grayscale, hflip, 4 overview + 12 inner crops, then
DD's T.Compose augmentations (torchvision when installed, else the same ops written with torch), forward and the
adjoint by autograd. Gradient stage: tv/range/sat losses, the two models' gradients, autograd to x_in, the NaN
check, and the RMS clamp. Times: median of --reps with CUDA synchronisation.
    python3 dd_torch_path.py [--device cuda|cpu] [--reps N] [--height H] [--width W]
"""
import argparse
import math
import time

import torch
import torch.nn.functional as F


def cubic(x):
    a = x.abs()
    a2, a3 = a * a, a * a * a
    return ((1.5 * a3 - 2.5 * a2 + 1) * (a <= 1) + (-0.5 * a3 + 2.5 * a2 - 4 * a + 2) * ((a > 1) & (a <= 2))).to(x.dtype)


def resize_dim(x, dim, out):
    """ResizeRight (cubic, antialiasing, zero padding) along one dim, with its float32 grid and weights."""
    n_in = x.shape[dim]
    if n_in == out:
        return x
    eps = torch.finfo(torch.float32).eps
    scale = out / n_in
    aa = scale < 1
    support = 4.0 / scale if aa else 4.0
    taps = math.ceil(support - eps)
    grid = torch.arange(out, device=x.device) / scale + (n_in - 1) / 2 - (out - 1) / (2 * scale)  # float32
    fov = torch.ceil(grid - support / 2 - eps).long()[:, None] + torch.arange(taps, device=x.device)
    pad0, pad1 = -int(fov[0, 0]), int(fov[-1, -1]) - n_in + 1
    fov = fov + pad0
    grid = grid + pad0
    arg = grid[:, None] - fov
    w = scale * cubic(scale * arg) if aa else cubic(arg)
    s = w.sum(1, keepdim=True)
    s[s == 0] = 1
    w = w / s
    xp = F.pad(x.movedim(dim, -1), (pad0, pad1))
    y = (xp[..., fov] * w.to(x.dtype)).sum(-1)  # [..., out, taps] -> [..., out]
    return y.movedim(-1, dim)


def resize(x, size):
    return resize_dim(resize_dim(x, 2, size), 3, size)


def gray3(x):
    g = 0.2989 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
    return g.expand(-1, 3, -1, -1)


def rgb2hsv(img):
    r, g, b = img.unbind(1)
    maxc, _ = img.max(1)
    minc, _ = img.min(1)
    eqc = maxc == minc
    cr = maxc - minc
    ones = torch.ones_like(maxc)
    s = cr / torch.where(eqc, ones, maxc)
    crd = torch.where(eqc, ones, cr)
    rc, gc, bc = (maxc - r) / crd, (maxc - g) / crd, (maxc - b) / crd
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = torch.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return torch.stack((h, s, maxc), 1)


def hsv2rgb(img):
    h, s, v = img.unbind(1)
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.to(torch.int32) % 6
    p = (v * (1.0 - s)).clamp(0, 1)
    q = (v * (1.0 - s * f)).clamp(0, 1)
    t = (v * (1.0 - s * (1.0 - f))).clamp(0, 1)
    mask = i.unsqueeze(1) == torch.arange(6, device=i.device).view(-1, 1, 1)
    a1 = torch.stack((v, q, p, p, t, v), 1)
    a2 = torch.stack((t, v, v, q, p, p), 1)
    a3 = torch.stack((p, p, t, v, v, q), 1)
    a4 = torch.stack((a1, a2, a3), 1)
    return torch.einsum("...ijk, ...xijk -> ...xjk", mask.to(img.dtype), a4)


def blend(a, b, f):
    return (f * a + (1 - f) * b).clamp(0, 1)


def augs_torch(x, g):
    """DD's T.Compose with one parameter draw for the batch, written with torch ops."""
    s = x.shape[-1]
    if torch.rand((), generator=g) < 0.5:
        x = x.flip(-1)
    x = x + 0.01 * torch.randn(x.shape, device=x.device, generator=None)
    ang = math.radians(float(torch.rand((), generator=g)) * 20 - 10)
    tx, ty = [round((float(torch.rand((), generator=g)) * 2 - 1) * 0.05 * s) for _ in range(2)]
    theta = torch.tensor([[math.cos(ang), -math.sin(ang), 2 * tx / s], [math.sin(ang), math.cos(ang), 2 * ty / s]],
                         device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
    mask = torch.ones_like(x[:, :1])
    out = F.grid_sample(torch.cat((x, mask), 1), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    x = out[:, :3] * out[:, 3:]
    x = x + 0.01 * torch.randn_like(x)
    if torch.rand((), generator=g) < 0.1:
        x = gray3(x)
    x = x + 0.01 * torch.randn_like(x)
    for op in torch.randperm(4, generator=g).tolist():
        f = 0.9 + 0.2 * float(torch.rand((), generator=g))
        if op == 0:
            x = blend(x, torch.zeros_like(x), f)
        elif op == 1:
            x = blend(x, gray3(x)[:, :1].mean((-3, -2, -1), keepdim=True), f)
        elif op == 2:
            x = blend(x, gray3(x), f)
        else:
            hsv = rgb2hsv(x)
            hsv = torch.stack((torch.fmod(hsv[:, 0] + (f - 1.0), 1.0), hsv[:, 1], hsv[:, 2]), 1)
            x = hsv2rgb(hsv)
    return x


def make_augs():
    try:
        import torchvision.transforms as T

        noise = T.Lambda(lambda x: x + torch.randn_like(x) * 0.01)
        return "torchvision", T.Compose([
            T.RandomHorizontalFlip(p=0.5), noise,
            T.RandomAffine(degrees=10, translate=(0.05, 0.05), interpolation=T.InterpolationMode.BILINEAR), noise,
            T.RandomGrayscale(p=0.1), noise,
            T.ColorJitter(brightness=0.1, contrast=0.1, saturation=0.1, hue=0.1)])
    except Exception:  # no torchvision: the same ops with torch
        g = torch.Generator().manual_seed(7)
        return "torch ops", lambda x: augs_torch(x, g)


def dd_cutouts(img, size, augs, g):
    _, _, side_y, side_x = img.shape
    max_size, min_size = min(side_x, side_y), min(side_x, side_y, size)
    pad = F.pad(img, ((side_y - max_size) // 2, (side_y - max_size) // 2, (side_x - max_size) // 2,
                      (side_x - max_size) // 2))
    cut = resize(pad, size)
    cuts = [cut, gray3(cut), cut.flip(-1), gray3(cut.flip(-1))]
    for i in range(12):
        sz = int(float(torch.rand((), generator=g)) * (max_size - min_size) + min_size)
        ox = int(torch.randint(0, side_x - sz + 1, (), generator=g))
        oy = int(torch.randint(0, side_y - sz + 1, (), generator=g))
        c = img[:, :, oy:oy + sz, ox:ox + sz]
        if i <= int(0.2 * 12):
            c = gray3(c)
        cuts.append(resize(c, size))
    return augs(torch.cat(cuts))


def tv_loss(x):
    x = F.pad(x, (0, 1, 0, 1), "replicate")
    xd = x[..., :-1, 1:] - x[..., :-1, :-1]
    yd = x[..., 1:, :-1] - x[..., :-1, :-1]
    return (xd ** 2 + yd ** 2).mean([1, 2, 3])


def range_loss(x):
    return (x - x.clamp(-1, 1)).pow(2).mean([1, 2, 3])


def median_ms(fn, reps, dev):
    fn()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        ts.append((time.perf_counter() - t0) * 1e3)
    ts.sort()
    return ts[len(ts) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--height", type=int, default=768)
    ap.add_argument("--width", type=int, default=1280)
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.manual_seed(1234)
    g = torch.Generator().manual_seed(1234)
    img = torch.randn(1, 3, a.height, a.width, device=dev)
    name, augs = make_augs()
    dname = "cuda" if dev.type == "cuda" else "cpu"
    print(f"# dd_torch_path {a.height}x{a.width} on {dname} ({torch.cuda.get_device_name(0) if dev.type == 'cuda' else 'cpu'}),"
          f" augmentations: {name}, torch {torch.__version__}")
    print("%-6s %-34s %10s %10s %10s %9s" % ("device", "case", "fwd_ms", "adj_ms", "total_ms", "GB/s"))
    for size in (224, 336):
        state = {}

        def fwd():
            with torch.no_grad():
                state["y"] = dd_cutouts(img, size, augs, g)

        def bwd():
            x = img.detach().requires_grad_()
            y = dd_cutouts(x, size, augs, g)
            (gx,) = torch.autograd.grad(y, x, torch.ones_like(y))
            return gx

        f = median_ms(fwd, a.reps, dev)
        fb = median_ms(bwd, a.reps, dev)  # autograd needs its forward: adjoint = (fwd + bwd) - fwd
        k = state["y"].shape[0]
        b = max(fb - f, 0.0)
        nbytes = 2 * 4.0 * (3 * a.height * a.width + k * 3 * size * size)
        print("%-6s %-34s %10.3f %10.3f %10.3f %9.2f" % (dname, f"cutouts_{k}x{size}", f, b, f + b, nbytes / ((f + b) * 1e6)))

    total = 3 * a.height * a.width
    pred = torch.randn(1, 3, a.height, a.width, device=dev) * 1.2
    grads = [torch.randn(1, 3, a.height, a.width, device=dev) * 1e-4 for _ in range(2)]

    def stage():
        x_in = img.detach().requires_grad_()
        x_in_grad = torch.zeros_like(x_in)
        for gm in grads:
            x_in_grad += gm * 5000 / 2
        sat = torch.abs(x_in - x_in.clamp(min=-1, max=1)).mean()
        loss = tv_loss(x_in).sum() * 100 + range_loss(pred).sum() * 150 + sat.sum() * 50
        x_in_grad += torch.autograd.grad(loss, x_in)[0]
        return torch.zeros_like(x_in_grad) if torch.isnan(x_in_grad).any() else x_in_grad

    st = median_ms(stage, a.reps, dev)
    gq = stage()

    def clamp():
        m = gq.square().mean().sqrt()
        return gq * m.clamp(max=0.05) / m

    cl = median_ms(clamp, a.reps, dev)
    print("%-6s %-34s %10.3f %10.3f %10.3f %9.2f" % (dname, "grad_stage_2models+clamp", st, cl, st + cl,
                                                     4.0 * total * 7 / ((st + cl) * 1e6)))


if __name__ == "__main__":
    main()
