#!/usr/bin/env python3
"""libdisco_kernels.so called through ctypes on torch CUDA tensors, on torch.cuda.current_stream() (no Java).

At real sizes (a 1280x768 image, 16 cuts of 224 from a fixed cut table: 4 overview cuts padded to a square, 12 inner
crops, DD's augmentations with fixed parameters): the CUDA kernels against the CPU twin (the same library, CPU
tensors), the backward run twice (its largest difference: 0 when it is deterministic), the tv/range/sat losses and
the RMS clamp likewise, a resize-only inner cut against dd_torch_path.py's ResizeRight resize, and CUDA-event
timings (min and median). Prints one line per row:  NAME  max_rel_err  repeat_max_diff  min_ms  median_ms  OK|FAIL.
Exit 0 when every row is OK, 1 when one fails, 77 when there is no torch with CUDA (or no GPU).
    python3 ctypes_check.py LIB [--reps N] [--height H] [--width W]
"""
import ctypes
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctypes_common import args, load, ptr, rel, report, require_cuda_torch, timed as timed_reps  # noqa: E402

torch = require_cuda_torch("ctypes_check")

import dd_torch_path  # noqa: E402  (the resize DD's path uses, for the torch comparison)

F = 25  # DISCO_CUT_FIELDS
IMAGE, Y0, X0, H, W, GRAY_PRE, HFLIP, NOISE1, AFFINE, ANGLE, TX, TY, FILL_MASK, NOISE2, GRAY_AUG, NOISE3, \
    N_JITTER, OP0, BRIGHTNESS, CONTRAST, SATURATION, HUE = list(range(17)) + [17, 21, 22, 23, 24]


def cut_table(h, w, s):
    """16 cuts as DD makes them at 1280x768: 4 overview (the image padded to a square), 12 inner crops; fixed
    augmentation parameters covering every stage (hflip, gray, affine, noise, the four jitter ops in turn)."""
    rows = []
    side = max(h, w)
    for i in range(16):
        c = [0.0] * F
        if i < 4:
            c[Y0], c[X0], c[H], c[W] = (h - side) // 2, (w - side) // 2, side, side
            c[GRAY_PRE] = 1.0 if i == 3 else 0.0
            c[HFLIP] = 1.0 if i == 1 else 0.0
        else:
            sz = 224 + (i * 37) % (min(h, w) - 224)
            c[Y0], c[X0], c[H], c[W] = (i * 53) % (h - sz), (i * 97) % (w - sz), sz, sz
            c[GRAY_PRE] = 1.0 if i % 5 == 0 else 0.0
        c[BRIGHTNESS] = c[CONTRAST] = c[SATURATION] = 1.0
        if i != 4:  # cut 4: resize only (compared with torch)
            c[NOISE1], c[NOISE2], c[NOISE3] = 0.02, 0.01, 0.01
            c[AFFINE], c[ANGLE], c[TX], c[TY], c[FILL_MASK] = 1.0, -10 + i * 1.3, (i % 3 - 1) * 3.0, (i % 2) * 4.0, 1.0
            c[GRAY_AUG] = 1.0 if i % 7 == 0 else 0.0
            c[N_JITTER] = 4.0
            for j in range(4):
                c[OP0 + j] = float((i + j) % 4)
            c[BRIGHTNESS], c[CONTRAST], c[SATURATION], c[HUE] = 1.05, 0.95, 1.1, 0.03
        rows.append(c)
    return torch.tensor(rows, dtype=torch.float32), 4


def main():
    a = args()
    lib, call = load(a.lib)
    P, L = ctypes.c_void_p, ctypes.c_int64
    lib.disco_cutouts_forward.argtypes = [P, L, L, L, P, L, L, P, P, ctypes.c_int, P]
    lib.disco_cutouts_backward.argtypes = [P, L, L, L, P, L, L, P, P, P, ctypes.c_int, P]
    U = ctypes.c_uint64
    lib.disco_cutouts_forward_keyed.argtypes = [P, L, L, L, P, L, L, U, L, P, P, ctypes.c_int, P]
    lib.disco_cutouts_backward_keyed.argtypes = [P, L, L, L, P, L, L, U, L, P, P, P, ctypes.c_int, P]
    lib.disco_cutouts_noise.argtypes = [U, L, L, P, ctypes.c_int, P]
    lib.disco_tv_loss.argtypes = [P, L, L, L, L, P, ctypes.c_int, P]
    lib.disco_range_loss.argtypes = [P, L, L, L, L, P, ctypes.c_int, P]
    lib.disco_sat_loss.argtypes = [P, L, P, ctypes.c_int, P]
    lib.disco_rms_clamp.argtypes = [P, L, ctypes.c_float, P, P, ctypes.c_int, P]

    def stream():
        return ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)

    torch.manual_seed(0)
    h, w, s = a.height, a.width, 224
    cuts, _ = cut_table(h, w, s)
    k = cuts.shape[0]
    cuts_p = ctypes.c_void_p(cuts.data_ptr())  # the table is a host array on both devices
    img = torch.rand(1, 3, h, w)
    noise = torch.randn(k, 9, s, s)
    gout = torch.randn(k, 3, s, s)
    dev = torch.device("cuda")
    # a non-default stream: the kernels must run on the one they are given
    side = torch.cuda.Stream()
    results = []

    def timed(fn):
        return timed_reps(torch, fn, a.reps)

    with torch.cuda.stream(side):
        gi, ni, go = img.to(dev), noise.to(dev), gout.to(dev)
        # cutouts forward
        out_cpu = torch.empty(k, 3, s, s)
        call(lib.disco_cutouts_forward, ptr(img), 1, h, w, cuts_p, k, s, ptr(noise), ptr(out_cpu), 0, None)
        out = torch.empty(k, 3, s, s, device=dev)
        t = timed(lambda: call(lib.disco_cutouts_forward, ptr(gi), 1, h, w, cuts_p, k, s, ptr(ni), ptr(out), 1, stream()))
        out2 = torch.empty_like(out)
        call(lib.disco_cutouts_forward, ptr(gi), 1, h, w, cuts_p, k, s, ptr(ni), ptr(out2), 1, stream())
        torch.cuda.synchronize()
        results.append(("cutouts_forward", rel(out, out_cpu), (out - out2).abs().max().item(), *t, 1e-5))
        # cutouts backward
        gimg_cpu = torch.empty(1, 3, h, w)
        call(lib.disco_cutouts_backward, ptr(img), 1, h, w, cuts_p, k, s, ptr(noise), ptr(gout), ptr(gimg_cpu), 0, None)
        gimg = torch.empty(1, 3, h, w, device=dev)
        t = timed(lambda: call(lib.disco_cutouts_backward, ptr(gi), 1, h, w, cuts_p, k, s, ptr(ni), ptr(go), ptr(gimg), 1, stream()))
        gimg2 = torch.empty_like(gimg)
        call(lib.disco_cutouts_backward, ptr(gi), 1, h, w, cuts_p, k, s, ptr(ni), ptr(go), ptr(gimg2), 1, stream())
        torch.cuda.synchronize()
        results.append(("cutouts_backward", rel(gimg, gimg_cpu), (gimg - gimg2).abs().max().item(), *t, 1e-4))
        # keyed noise (generated in the kernels): CUDA vs the CPU twin, expected bitwise equal (tolerance 0)
        key, start = 0x0123456789ABCDEF, 4242
        nz_cpu = torch.empty(k * 9 * s * s)
        call(lib.disco_cutouts_noise, key, start, nz_cpu.numel(), ptr(nz_cpu), 0, None)
        nz = torch.empty(k * 9 * s * s, device=dev)
        t = timed(lambda: call(lib.disco_cutouts_noise, key, start, nz.numel(), ptr(nz), 1, stream()))
        torch.cuda.synchronize()
        results.append(("cutouts_noise_keyed", rel(nz, nz_cpu), 0.0, *t, 0.0))
        # keyed forward (with the state) and backward from the state, CUDA vs the CPU twin
        # the state: [J, K, 3, S, S], J = the largest n_jitter of the cuts (each jitter op's input)
        nj = max(int(c[N_JITTER]) for c in cuts)
        kout_cpu, kst_cpu = torch.empty(k, 3, s, s), torch.empty(max(1, nj), k, 3, s, s)
        call(lib.disco_cutouts_forward_keyed, ptr(img), 1, h, w, cuts_p, k, s, key, start, ptr(kout_cpu), ptr(kst_cpu), 0, None)
        kout, kst = torch.empty(k, 3, s, s, device=dev), torch.empty(max(1, nj), k, 3, s, s, device=dev)
        t = timed(lambda: call(lib.disco_cutouts_forward_keyed, ptr(gi), 1, h, w, cuts_p, k, s, key, start, ptr(kout), ptr(kst), 1, stream()))
        torch.cuda.synchronize()
        results.append(("cutouts_forward_keyed", rel(kout, kout_cpu), 0.0, *t, 1e-5))
        kg_cpu = torch.empty(1, 3, h, w)
        call(lib.disco_cutouts_backward_keyed, ptr(img), 1, h, w, cuts_p, k, s, key, start, ptr(kst_cpu), ptr(gout), ptr(kg_cpu), 0, None)
        kg, kg2 = torch.empty(1, 3, h, w, device=dev), torch.empty(1, 3, h, w, device=dev)
        t = timed(lambda: call(lib.disco_cutouts_backward_keyed, ptr(gi), 1, h, w, cuts_p, k, s, key, start, ptr(kst), ptr(go), ptr(kg), 1, stream()))
        call(lib.disco_cutouts_backward_keyed, ptr(gi), 1, h, w, cuts_p, k, s, key, start, ptr(kst), ptr(go), ptr(kg2), 1, stream())
        torch.cuda.synchronize()
        results.append(("cutouts_backward_keyed(state)", rel(kg, kg_cpu), (kg - kg2).abs().max().item(), *t, 1e-4))
        # the resize-only inner cut against dd_torch_path's resize (torch on the GPU)
        c = cuts[4]
        y0, x0, bh, bw = int(c[Y0]), int(c[X0]), int(c[H]), int(c[W])
        ref = dd_torch_path.resize(gi[:, :, y0:y0 + bh, x0:x0 + bw], s)
        results.append(("cut4_resize_vs_torch", rel(out[4:5], ref), 0.0, 0.0, 0.0, 1e-4))
        # losses and the RMS clamp (deterministic reductions)
        x = (torch.rand(1, 3, h, w) * 2.4 - 1.2)
        gx = x.to(dev)
        for name, fn, args_cpu, args_gpu in [
            ("tv_loss", lib.disco_tv_loss, lambda o: (ptr(x), 1, 3, h, w, ptr(o), 0, None),
             lambda o: (ptr(gx), 1, 3, h, w, ptr(o), 1, stream())),
            ("range_loss", lib.disco_range_loss, lambda o: (ptr(x), 1, 3, h, w, ptr(o), 0, None),
             lambda o: (ptr(gx), 1, 3, h, w, ptr(o), 1, stream())),
            ("sat_loss", lib.disco_sat_loss, lambda o: (ptr(x), x.numel(), ptr(o), 0, None),
             lambda o: (ptr(gx), gx.numel(), ptr(o), 1, stream())),
        ]:
            lc = torch.empty(1)
            call(fn, *args_cpu(lc))
            lg, lg2 = torch.empty(1, device=dev), torch.empty(1, device=dev)
            t = timed(lambda: call(fn, *args_gpu(lg)))
            call(fn, *args_gpu(lg2))
            torch.cuda.synchronize()
            results.append((name, rel(lg, lc), (lg - lg2).abs().max().item(), *t, 1e-5))
        oc, rc_ = torch.empty_like(x), torch.empty(1)
        call(lib.disco_rms_clamp, ptr(x), x.numel(), 0.05, ptr(oc), ptr(rc_), 0, None)
        og, rg, og2, rg2 = torch.empty_like(gx), torch.empty(1, device=dev), torch.empty_like(gx), torch.empty(1, device=dev)
        t = timed(lambda: call(lib.disco_rms_clamp, ptr(gx), gx.numel(), 0.05, ptr(og), ptr(rg), 1, stream()))
        call(lib.disco_rms_clamp, ptr(gx), gx.numel(), 0.05, ptr(og2), ptr(rg2), 1, stream())
        torch.cuda.synchronize()
        results.append(("rms_clamp", max(rel(og, oc), rel(rg, rc_)), max((og - og2).abs().max().item(), (rg - rg2).abs().max().item()), *t, 1e-5))

    return report(results, 24)


if __name__ == "__main__":
    sys.exit(main())
