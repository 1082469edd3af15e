"""What the ctypes harnesses (ctypes_check.py, ctypes_guidance.py) share: torch with a CUDA device or exit 77,
the library with its error text, CUDA-event timing, the relative error they report."""
import argparse
import ctypes
import sys


def require_cuda_torch(name):
    """torch, or exit 77 (skipped) when python3 has no torch or torch sees no CUDA device."""
    try:
        import torch
    except ImportError:
        print(f"{name}: skip: python3 has no torch", file=sys.stderr)
        sys.exit(77)
    if not torch.cuda.is_available():
        print(f"{name}: skip: torch sees no CUDA device", file=sys.stderr)
        sys.exit(77)
    return torch


def args():
    """The harnesses' command line: LIB [--reps N] [--height H] [--width W] (DD's 1280x768 by default)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("lib")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--height", type=int, default=768)
    ap.add_argument("--width", type=int, default=1280)
    return ap.parse_args()


def load(path):
    """libdisco_kernels.so through ctypes, and call(fn, *args): raises with disco_last_error() on a non-zero rc."""
    lib = ctypes.CDLL(path)
    lib.disco_last_error.restype = ctypes.c_char_p

    def call(fn, *args):
        rc = fn(*args)
        if rc != 0:
            raise RuntimeError(f"{fn.__name__}: {lib.disco_last_error().decode()} (code {rc})")
    return lib, call


def ptr(t):
    """A tensor's data pointer for the C ABI (None stays NULL)."""
    return ctypes.c_void_p(t.data_ptr()) if t is not None else None


def timed(torch, fn, reps):
    """CUDA-event timing of fn over reps runs: (min, median) in ms."""
    times = []
    for _ in range(reps):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        fn()
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1))
    times.sort()
    return times[0], times[len(times) // 2]


def rel(x, y):
    """max |x - y| / max |y|, in double on the CPU."""
    x, y = x.double().cpu(), y.double().cpu()
    return ((x - y).abs().max() / y.abs().max().clamp_min(1e-30)).item()


def report(results, width):
    """Prints the rows (name, max_rel_err, repeat_diff, min_ms, median_ms, tol); 0 when every row is within its
    tolerance and repeats bitwise, else 1."""
    ok = True
    print(f"{'case':<{width}} {'max_rel_err':>12} {'repeat_diff':>12} {'min_ms':>9} {'median_ms':>9}")
    for name, err, rep, tmin, tmed, tol in results:
        good = err <= tol and rep == 0.0
        ok &= good
        print(f"{name:<{width}} {err:12.3e} {rep:12.3e} {tmin:9.3f} {tmed:9.3f} {'OK' if good else 'FAIL'}")
    return 0 if ok else 1
