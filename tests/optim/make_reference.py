#!/usr/bin/python3
"""Writes reference_trajectories.json: optimizer trajectories computed with numpy (float64) from
the textbook formulas in PyTorch's documentation, independently of the C++ kernels.

Run with Debian's python (which has numpy):  /usr/bin/python3 tests/optim/make_reference.py

Every case minimises, per parameter p (flattened),
    loss(p) = sum(0.5 * a * (p - c)^2 + 0.1 * p^4),   grad = a * (p - c) + 0.4 * p^3,
for `steps` updates with lr_t = lr * (1 - 0.1 * (t - 1)) at update t (the test sets it every step).
A parameter listed in `skip` gets no gradient at those updates (its state must not advance).
"""
import json
import os

import numpy as np

PARAMS = {  # name: (shape, initial values, a, c)
    "layer.weight": ([2, 3], [0.5, -1.2, 2.0, 0.3, -0.7, 1.1], [1.0, 2.0, 0.5, 3.0, 1.5, 0.8],
                     [1.0, -0.5, 0.25, -1.0, 0.75, 2.0]),
    "layer.bias": ([4], [-0.4, 0.9, 1.6, -2.2], [0.6, 1.2, 2.5, 0.9], [0.3, -1.5, 1.0, -0.2]),
}
STEPS = 6


def grad(p, a, c):
    return a * (p - c) + 0.4 * p**3


def sgd(case, p, g, state, t, lr):
    wd, mu, damp, nesterov = (case.get(k, d) for k, d in
                              (("weight_decay", 0.0), ("momentum", 0.0), ("dampening", 0.0), ("nesterov", False)))
    d = g + wd * p
    if mu != 0:
        buf = d.copy() if t == 1 else mu * state["momentum"] + (1 - damp) * d
        state["momentum"] = buf
        d = d + mu * buf if nesterov else buf
    return p - lr * d


def adam(case, p, g, state, t, lr, decoupled):
    b1, b2, eps = case.get("beta1", 0.9), case.get("beta2", 0.999), case.get("eps", 1e-8)
    wd = case["weight_decay"] if case.get("weight_decay") is not None else (1e-2 if decoupled else 0.0)
    if decoupled:
        p = p * (1 - lr * wd)
    else:
        g = g + wd * p
    m = b1 * state.get("m", np.zeros_like(p)) + (1 - b1) * g
    v = b2 * state.get("v", np.zeros_like(p)) + (1 - b2) * g * g
    state["m"], state["v"] = m, v
    mhat = m / (1 - b1**t)
    vhat = v / (1 - b2**t)
    return p - lr * mhat / (np.sqrt(vhat) + eps)


def run(case):
    params = {n: np.array(v[1], dtype=np.float64) for n, v in PARAMS.items()}
    states = {n: {} for n in PARAMS}
    counts = {n: 0 for n in PARAMS}
    trajectory = []
    for t in range(1, STEPS + 1):
        lr = case["lr"] * (1 - 0.1 * (t - 1))
        for name, (_, _, a, c) in PARAMS.items():
            if t in case.get("skip", {}).get(name, []):
                continue
            counts[name] += 1
            g = grad(params[name], np.array(a), np.array(c))
            if case["optimizer"] == "sgd":
                params[name] = sgd(case, params[name], g, states[name], counts[name], lr)
            else:
                params[name] = adam(case, params[name], g, states[name], counts[name], lr,
                                    case["optimizer"] == "adamw")
        trajectory.append({n: params[n].tolist() for n in PARAMS})
    family = "sgd" if case["optimizer"] == "sgd" else "adam"
    final_state = {f"{family}.step/{n}": counts[n] for n in PARAMS}
    for n in PARAMS:
        for slot, values in states[n].items():
            final_state[f"{family}.{slot}/{n}"] = values.tolist()
    return {"case": case, "trajectory": trajectory, "final_state": final_state}


CASES = [
    {"name": "sgd", "optimizer": "sgd", "lr": 0.1},
    {"name": "sgd_weight_decay", "optimizer": "sgd", "lr": 0.1, "weight_decay": 0.05},
    {"name": "sgd_momentum", "optimizer": "sgd", "lr": 0.05, "momentum": 0.9},
    {"name": "sgd_momentum_dampening_wd", "optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "dampening": 0.3,
     "weight_decay": 0.01, "skip": {"layer.bias": [2]}},
    {"name": "sgd_nesterov_wd", "optimizer": "sgd", "lr": 0.05, "momentum": 0.8, "nesterov": True,
     "weight_decay": 0.02},
    {"name": "adam", "optimizer": "adam", "lr": 0.01},
    {"name": "adam_weight_decay_skip", "optimizer": "adam", "lr": 0.02, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6,
     "weight_decay": 0.1, "skip": {"layer.bias": [1, 3]}},
    {"name": "adamw", "optimizer": "adamw", "lr": 0.02, "weight_decay": 0.1},
    {"name": "adamw_default_weight_decay", "optimizer": "adamw", "lr": 0.05, "beta2": 0.99, "weight_decay": None},
]

if __name__ == "__main__":
    out = {
        "generator": "tests/optim/make_reference.py (numpy " + np.__version__ + ")",
        "steps": STEPS,
        "params": {n: {"shape": s, "init": i, "a": a, "c": c} for n, (s, i, a, c) in PARAMS.items()},
        "cases": [run(c) for c in CASES],
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_trajectories.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {len(CASES)} cases to {path}")
