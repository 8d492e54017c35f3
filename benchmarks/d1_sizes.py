"""D1 size by size on any device: δ_0 of random-feature diffusion at m = n, τ = τ*(n, m).

The loops are ``boundkit verify D1``'s (:func:`simulations.verify.claims_more.d1`: the
same LoopConfig per size, built by the same Study), run one size at a time so that each
size's replicate values and wall time are written to ``--out`` (JSON) as soon as it is
done; the rate fit and the E3/E2 verdicts (THEORY.md §3, R7; fits.fit_rate and
rules.equivalence_verdict, as verify applies them) are then taken over the sizes done.
A size is not started when the time left (``--budget-s``) is below 8× the last size's
wall time (the eigendecomposition grows like m³).

Run: ``.venv/bin/python benchmarks/d1_sizes.py --device cuda --sizes 64 128 ... 16384
--reps 24 --out d1.json``. Without ``--sizes``, the standard scale's sizes and R.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from simulations import run
from simulations.verify.claims import RATE_TOL
from simulations.verify.claims_more import _follows
from simulations.verify.fits import fit_rate
from simulations.verify.rules import equivalence_verdict
from simulations.verify.runner import STANDARD, Runner
from simulations.verify.study import Study, values_at


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sizes", type=int, nargs="*", default=list(STANDARD.diffusion_sizes))
    ap.add_argument("--reps", type=int, default=STANDARD.diffusion_reps)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--budget-s", type=float, default=float("inf"))
    args = ap.parse_args()
    study = Study(Runner(STANDARD), seed=args.seed, device=args.device)
    rf = {"width_factor": 1.0, "tau": "star", "ode_tol": STANDARD.ode_tol}
    start, last, done = time.perf_counter(), 0.0, []
    for n in args.sizes:
        left = args.budget_s - (time.perf_counter() - start)
        if done and left < 8 * last:
            print(f"n = m = {n}: not started ({left:.0f} s left, the last size took "
                  f"{last:.0f} s)", flush=True)
            break
        config = study.config("diffusion-rf", "gaussian", model_params=rf, n=n, rounds=1,
                              replicates=args.reps).replace(device=args.device)
        t0 = time.perf_counter()
        frame = run(config)
        last = time.perf_counter() - t0
        delta = values_at(frame, "delta", 0)
        facts = {k: float(values_at(frame, k, 0).max()) for k in ("ode_steps", "ode_error")
                 if (frame.metric == k).any()}
        done.append({"n": n, "reps": args.reps, "wall_s": round(last, 2),
                     "delta": delta.tolist(), **facts})
        print(f"n = m = {n}: mean delta_0 = {delta.mean():.4f} (sd {delta.std(ddof=1):.4f}), "
              f"{last:.1f} s, {facts}", flush=True)
        if args.out:
            with open(args.out, "w") as fh:
                json.dump({"device": args.device, "sizes": done}, fh, indent=1)
    if len(done) < 3:
        return
    sizes = [d["n"] for d in done]
    fit = fit_rate(sizes, [np.asarray(d["delta"]) for d in done], seed=args.seed)
    e3 = equivalence_verdict(fit.rate, fit.rate_se, 0.2, RATE_TOL, reps=args.reps)
    e2 = equivalence_verdict(fit.rate, fit.rate_se, 0.25, RATE_TOL)
    print(f"D1 on {args.device}, n = m = {sizes}, R = {args.reps}: r̂ = {fit.rate:.3f} "
          f"[{fit.rate_lo:.3f}, {fit.rate_hi:.3f}] (half-width "
          f"{(fit.rate_hi - fit.rate_lo) / 2:.3f}), floor Ĉ0 = {fit.floor:.4f} (floor test "
          f"p = {fit.floor_p:.3g}); E3: {e3}; E2: {e2}; follows "
          f"{_follows(str(e3), str(e2), fit.rate)}; total {time.perf_counter() - start:.0f} s",
          flush=True)


if __name__ == "__main__":
    main()
