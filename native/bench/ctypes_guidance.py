#!/usr/bin/env python3
"""The guidance-gradient kernels of libdisco_kernels.so through ctypes on torch CUDA tensors (no Java), on a
non-default torch.cuda.current_stream().

At real sizes (x_in, pred [1,3,H,W] with H x W = 768 x 1280; two CLIP models' gradients; 16 cuts x 4 cutn batches of
ViT-B/32 embeddings against 3 prompts): every backward of the guidance stage (tv, range, sat, spherical distance,
the RMS clamp with the forward's rms handed back), the fused gradient stage with its loss values and NaN flags on the
device, and the NaN guard deciding on the device. Each CUDA result against the CPU twin (the same library, CPU
tensors) and a second CUDA run against the first (its largest difference: 0 when deterministic), CUDA-event min and
median. Prints one line per row:  NAME  max_rel_err  repeat_max_diff  min_ms  median_ms  OK|FAIL.
Exit 0 when every row is OK, 1 when one fails, 77 when there is no torch with CUDA (or no GPU).
    python3 ctypes_guidance.py LIB [--reps N] [--height H] [--width W]
"""
import ctypes
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctypes_common import args, load, ptr, rel, report, require_cuda_torch, timed as timed_reps  # noqa: E402

torch = require_cuda_torch("ctypes_guidance")


def main():
    a = args()
    lib, call = load(a.lib)
    P, L, I, F = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int, ctypes.c_float
    lib.disco_tv_loss_backward.argtypes = [P, P, L, L, L, L, P, I, I, P]
    lib.disco_range_loss_backward.argtypes = [P, P, L, L, L, L, P, I, I, P]
    lib.disco_sat_loss_backward.argtypes = [P, P, L, P, I, I, P]
    lib.disco_spherical_dist.argtypes = [P, P, L, L, L, P, I, P]
    lib.disco_spherical_dist_backward.argtypes = [P, P, P, L, L, L, P, P, I, I, P]
    lib.disco_guidance_grad.argtypes = [P, P, P, P, L, P, L, L, L, L, F, F, F, P, P, P, I, P]
    lib.disco_rms_clamp.argtypes = [P, L, F, P, P, I, P]
    lib.disco_rms_clamp_backward.argtypes = [P, P, L, F, P, P, I, I, P]

    def stream(dev):
        return ctypes.c_void_p(torch.cuda.current_stream().cuda_stream) if dev else None

    def timed(fn):
        return timed_reps(torch, fn, a.reps)

    def diff(x, y):
        return (x.double() - y.double()).abs().max().item()

    torch.manual_seed(0)
    h, w = a.height, a.width
    total = 3 * h * w
    x = torch.rand(1, 3, h, w) * 2.4 - 1.2
    pred = torch.randn(1, 3, h, w) * 1.2
    mg = torch.randn(2, 1, 3, h, w) * 1e-4
    extra = torch.randn(1, 3, h, w) * 1e-3
    gl = torch.tensor([100.0])
    emb = torch.randn(16 * 4, 512)
    tgt = torch.randn(3, 512)
    gout = torch.randn(16 * 4, 3)
    mask = (ctypes.c_int32 * 2)(1, 1)
    dev = torch.device("cuda")
    side = torch.cuda.Stream()  # a non-default stream: the kernels must run on the one they are given
    results = []

    def case(name, run, outs_like, tol):
        """run(device_flag, tensors_on_device, outs) fills outs; compares CUDA with CPU and CUDA with itself."""
        cpu_outs = [torch.zeros_like(o) for o in outs_like]
        run(0, lambda t: t, cpu_outs)
        g1 = [torch.zeros_like(o, device=dev) for o in outs_like]
        g2 = [torch.zeros_like(o, device=dev) for o in outs_like]
        on = {}

        def to_dev(t):
            key = id(t)
            if key not in on:
                on[key] = t.to(dev)
            return on[key]

        t = timed(lambda: run(1, to_dev, g1))
        run(1, to_dev, g2)
        torch.cuda.synchronize()
        err = max(rel(g.float(), c.float()) for g, c in zip(g1, cpu_outs))
        rep = max(diff(p, q) for p, q in zip(g1, g2))
        results.append((name, err, rep, *t, tol))
        return g1, cpu_outs

    with torch.cuda.stream(side):
        case("tv_loss_backward", lambda d, T, o: call(lib.disco_tv_loss_backward, ptr(T(x)), ptr(T(gl)), 1, 3, h, w,
                                                       ptr(o[0]), 0, d, stream(d)), [x], 1e-5)
        case("range_loss_backward", lambda d, T, o: call(lib.disco_range_loss_backward, ptr(T(pred)), ptr(T(gl)), 1, 3,
                                                          h, w, ptr(o[0]), 0, d, stream(d)), [pred], 1e-5)
        case("sat_loss_backward", lambda d, T, o: call(lib.disco_sat_loss_backward, ptr(T(x)), ptr(T(gl)), total,
                                                        ptr(o[0]), 0, d, stream(d)), [x], 1e-6)
        case("spherical_dist", lambda d, T, o: call(lib.disco_spherical_dist, ptr(T(emb)), ptr(T(tgt)), 64, 3, 512,
                                                     ptr(o[0]), d, stream(d)), [gout], 1e-5)
        case("spherical_dist_backward", lambda d, T, o: call(lib.disco_spherical_dist_backward, ptr(T(emb)), ptr(T(tgt)),
                                                              ptr(T(gout)), 64, 3, 512, ptr(o[0]), ptr(o[1]), 0, d,
                                                              stream(d)), [emb, tgt], 1e-4)
        flags = torch.zeros(3, dtype=torch.int32)
        losses = torch.zeros(3)

        def stage(grads):
            return lambda d, T, o: call(lib.disco_guidance_grad, ptr(T(x)), ptr(T(pred)), ptr(T(grads)), mask, 2,
                                        ptr(T(extra)), 1, 3, h, w, 2500.0, 100.0, 50.0, ptr(o[0]), ptr(o[1]),
                                        ptr(o[2]), d, stream(d))

        (gg, gl_, gf), _ = case("guidance_grad", stage(mg), [x, losses, flags], 1e-5)
        # the NaN guard on the device: a NaN in model 1 → flags [0, 1, 1], gradient zero, on both devices
        bad = mg.clone()
        bad[1, 0, 1, 7, 9] = float("nan")
        (bg, _, bf), (cg, _, cf) = case("guidance_grad_nan_guard", stage(bad), [x, losses, flags], 1e-5)
        guard_ok = bf.cpu().tolist() == [0, 1, 1] and cf.tolist() == [0, 1, 1] and bg.abs().max().item() == 0
        if not guard_ok:
            results.append(("guidance_grad_nan_guard_flags", 1.0, 0.0, 0.0, 0.0, 0.0))
        rms = torch.zeros(1)
        (_, grms), (_, crms) = case("rms_clamp", lambda d, T, o: call(lib.disco_rms_clamp, ptr(T(x)), total, 0.05,
                                                                       ptr(o[0]), ptr(o[1]), d, stream(d)),
                                    [x, rms], 1e-5)
        case("rms_clamp_backward", lambda d, T, o: call(lib.disco_rms_clamp_backward, ptr(T(x)), ptr(T(extra)), total,
                                                         0.05, None, ptr(o[0]), 0, d, stream(d)), [x], 1e-4)
        # with the forward's rms handed back (each device its own forward's)
        case("rms_clamp_backward_rms", lambda d, T, o: call(lib.disco_rms_clamp_backward, ptr(T(x)), ptr(T(extra)),
                                                             total, 0.05, ptr(grms if d else crms), ptr(o[0]), 0, d,
                                                             stream(d)), [x], 1e-4)

    return report(results, 28)


if __name__ == "__main__":
    sys.exit(main())
