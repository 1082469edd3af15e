#!/usr/bin/env python3
"""The PyTorch twin of `disco bench passes`: each network of a guided step alone, on upstream code.

Loads a reference directory the way Disco Diffusion loads its models (guided-diffusion's create_model_and_diffusion +
load_state_dict, openai/CLIP's clip.load(jit=False), DD's SecondaryDiffusionImageNet2 taken out of disco.py by
../shared/perf/perf_real.py's load_dd) and times, per network, the forward without grad, the forward with grad and
the backward to its input (torch.autograd.grad with a ones cotangent), at the shapes `disco bench passes` uses:
the UNet (use_checkpoint off) and the secondary model on [1, 3, H, W], each CLIP image tower on [cuts, 3, R, R].
Every parameter is frozen: both engines compute gradients to the input only.

    /usr/bin/python3 bench/passes.py --src SRC --ref DIR [--perf ../shared/perf] [--threads 2] [--reps 3]
                                     [--cuts 0] [--networks unet,secondary,clip] [--json]

SRC is the assembled upstream source folder of ../shared/perf/README.md. Run it only on a developer machine (it
needs Debian's python3-torch), never in CI.
"""
import argparse
import json
import os
import statistics
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--src", required=True)
    p.add_argument("--ref", required=True)
    p.add_argument("--perf", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "perf"))
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--cuts", type=int, default=0)
    p.add_argument("--networks", default="unet,secondary,clip")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    ref = os.path.abspath(a.ref)
    sys.path.insert(0, os.path.abspath(a.perf))
    import perf_real
    sw = perf_real.secondary_width_of(os.path.join(ref, "secondary.pt"))
    ns, _ = perf_real.load_dd(a.src, sw)
    import numpy as np
    import torch
    import clip
    from guided_diffusion.script_util import create_model_and_diffusion
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    nets = a.networks.split(",")
    settings = json.load(open(os.path.join(ref, "settings.json")))
    H, W = settings["height"], settings["width"]
    ov = eval(settings["cut_overview"])[0]
    ic = eval(settings["cut_innercut"])[0]
    cuts = a.cuts if a.cuts > 0 else ov + ic

    def cpu_s():
        return time.process_time()

    def passes(name, shape, net):
        torch.manual_seed(1234)
        x = torch.randn(*shape)
        rows = {"forward": [], "forward_grad": [], "backward": []}
        cpus = {"forward": [], "forward_grad": [], "backward": []}
        for i in range(a.reps + 1):
            with torch.no_grad():
                c0, t0 = cpu_s(), time.perf_counter()
                net(x)
                dt, dc = time.perf_counter() - t0, cpu_s() - c0
            if i:
                rows["forward"].append(dt * 1e3); cpus["forward"].append(dc * 1e3)
            leaf = x.detach().requires_grad_(True)
            c0, t0 = cpu_s(), time.perf_counter()
            y = net(leaf).float()
            dt, dc = time.perf_counter() - t0, cpu_s() - c0
            if i:
                rows["forward_grad"].append(dt * 1e3); cpus["forward_grad"].append(dc * 1e3)
            g = torch.ones_like(y)
            c0, t0 = cpu_s(), time.perf_counter()
            torch.autograd.grad(y, leaf, g)
            dt, dc = time.perf_counter() - t0, cpu_s() - c0
            if i:
                rows["backward"].append(dt * 1e3); cpus["backward"].append(dc * 1e3)
            del y, g, leaf
        return {f"{name}.{k}": {"median_ms": statistics.median(v), "median_cpu_ms": statistics.median(cpus[k]), "ms": v}
                for k, v in rows.items()}

    out = {}
    if "unet" in nets:
        unet_cfg = json.load(open(os.path.join(ref, "unet.json")))
        unet_cfg["use_checkpoint"] = False
        cfg = perf_real.diffusion_cfg(unet_cfg, settings["steps"])
        model, diffusion = create_model_and_diffusion(**cfg)
        model.load_state_dict(torch.load(os.path.join(ref, "unet.pt"), map_location="cpu"))
        model.requires_grad_(False).eval()
        # the model time of the plan's first step, on the 1000-step scale (rescale_timesteps)
        steps = settings["steps"]
        first = diffusion.timestep_map[steps - 1 - settings.get("skip_steps", 0)]
        t = torch.tensor([float(first) * 1000.0 / diffusion.original_num_steps])
        out.update(passes("unet", (1, 3, H, W), lambda x: model(x, t)))
        del model
    if "secondary" in nets:
        sec = ns["SecondaryDiffusionImageNet2"]()
        sec.load_state_dict(torch.load(os.path.join(ref, "secondary.pt"), map_location="cpu"))
        sec.eval().requires_grad_(False)
        ts = torch.tensor([0.5])
        out.update(passes("secondary", (1, 3, H, W), lambda x: sec(x, ts).pred))
        del sec
    if "clip" in nets:
        for name in settings["clip_models"]:
            m = clip.load(os.path.join(ref, f"clip-{name}.pt"), device="cpu", jit=False)[0].eval().requires_grad_(False)
            r = m.visual.input_resolution
            out.update(passes(f"clip.{name}", (cuts, 3, r, r), m.encode_image))
            del m
    peak = -1
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1])
    rep = {"engine": "pytorch " + torch.__version__, "reference": ref, "threads": torch.get_num_threads(),
           "cuts": cuts, "size": [W, H], "reps": a.reps, "passes": out, "peak_rss_kb": peak}
    if a.json:
        print(json.dumps(rep, indent=1))
    else:
        print("%-28s %12s %12s" % ("pass", "median ms", "cpu ms"))
        for k, v in out.items():
            print("%-28s %12.1f %12.1f" % (k, v["median_ms"], v["median_cpu_ms"]))


if __name__ == "__main__":
    main()
