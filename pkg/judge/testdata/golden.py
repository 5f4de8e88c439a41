#!/usr/bin/env python3
"""Golden values for pkg/judge, computed independently of the Go code.

Regenerate (from the repository root):

    python3 pkg/judge/testdata/golden.py > pkg/judge/testdata/golden.json

Standard library only. Where the Go code uses floats and truncated
distributions, this script uses exact rational arithmetic (fractions,
math.comb): the final test's p-value and the power are exact sums of binomial
probabilities. The e-value is computed as a product of likelihood ratios
(Go sums x*log(theta) - b*log1p(...)), theta-hat and its interval by plain
bisection (Go uses Newton steps). The definitions (the theta grid, the
split of alpha, apportioning counts divided by phi, the power's pooled
binomial) are written here from the package documentation, not from the Go
source.
"""

import json
import math
from fractions import Fraction

ALPHA, DETECT, POWER = 0.01, 2.0, 0.95
THETA_MAX = 1e6
CHI2_95 = 3.841458820694124


def grid(detect):
    lo, hi = 0.5 * math.log(detect), math.log(max(10.0, detect * detect))
    return [math.exp(lo + (hi - lo) * g / 7) for g in range(8)]


def dispersion(looks):
    chi2 = df = 0.0
    for look in looks:
        for subs in (look.get("canarySub", []), look.get("stableSub", [])):
            subs = [s for s in subs if s["total"] > 0]
            m = sum(s["total"] for s in subs)
            y = sum(s["bad"] for s in subs)
            if y == 0 or len(subs) < 2:
                continue
            for s in subs:
                e = y * s["total"] / m
                chi2 += (s["bad"] - e) ** 2 / e
            df += len(subs) - 1
    if df == 0:
        return 1.0
    return max(1.0, chi2 / df)


def informative(looks):
    out = []
    for look in looks:
        n, x = look["canary"]["total"], look["canary"]["bad"]
        m, y = look["stable"]["total"], look["stable"]["bad"]
        if n > 0 and m > 0 and x + y > 0:
            out.append((n, m, x, y))
    return out


def evalue(looks, detect, phi):
    total = 0.0
    for th in grid(detect):
        log_lr = 0.0
        for n, m, x, y in informative(looks):
            q = n / (n + m)
            p = th * n / (th * n + m)
            log_lr += x * math.log(p / q) + y * math.log((1 - p) / (1 - q))
        total += math.exp(log_lr / phi)
    return total / 8


def binom_pmf(b, q):
    """Exact Binomial(b, q) probabilities, q a Fraction."""
    return [math.comb(b, k) * q**k * (1 - q) ** (b - k) for k in range(b + 1)]


def convolve(a, b):
    out = [Fraction(0)] * (len(a) + len(b) - 1)
    for i, pa in enumerate(a):
        if pa:
            for j, pb in enumerate(b):
                out[i + j] += pa * pb
    return out


def round_half_up(v):
    return math.floor(v + Fraction(1, 2))


def apportion(vals):
    """Floors, then the rounded total's remainder to the largest fractions
    (ties to the earlier value)."""
    floors = [math.floor(v) for v in vals]
    rest = round_half_up(sum(vals)) - sum(floors)
    order = sorted(range(len(vals)), key=lambda i: (-(vals[i] - floors[i]), i))
    for i in order[:rest]:
        floors[i] += 1
    return floors


def p_value(looks, phi):
    ts = informative(looks)
    phi = Fraction(phi)
    bs = apportion([Fraction(x + y) / phi for n, m, x, y in ts])
    dist = [Fraction(1)]
    observed = Fraction(0)
    for (n, m, x, y), b in zip(ts, bs):
        dist = convolve(dist, binom_pmf(b, Fraction(n, n + m)))
        observed += Fraction(x * b, x + y)
    k = math.ceil(observed)
    return float(sum(dist[k:])) if k < len(dist) else 0.0


def power(looks, detect, phi, alpha):
    detect, phi = Fraction(detect), Fraction(phi)
    big_b = q0 = q1 = Fraction(0)
    for look in looks:
        n, m, y = look["canary"]["total"], look["stable"]["total"], look["stable"]["bad"]
        if n <= 0 or m <= 0 or y <= 0:
            continue
        b = Fraction(y) * (detect * n + m) / m / phi
        big_b += b
        q0 += b * Fraction(n, n + m)
        q1 += b * detect * n / (detect * n + m)
    if big_b == 0:
        return 0.0
    q0, q1 = q0 / big_b, q1 / big_b
    b = round_half_up(big_b)
    null, alt = binom_pmf(b, q0), binom_pmf(b, q1)
    # smallest c with P0(T >= c) <= alpha
    c, tail = b + 1, Fraction(0)
    while c > 0 and tail + null[c - 1] <= Fraction(alpha):
        c -= 1
        tail += null[c]
    return float(sum(alt[c:]))


def loglik(ts, theta):
    total = 0.0
    for n, m, x, y in ts:
        p = theta * n / (theta * n + m)
        if x:
            total += x * math.log(p)
        if y:
            total += y * math.log(1 - p)
    return total


def bisect(f, lo, hi):
    """Root of f on [lo, hi] in log theta, f(lo) and f(hi) of opposite signs."""
    flo = f(lo)
    for _ in range(200):
        mid = (lo + hi) / 2
        if (f(mid) > 0) == (flo > 0):
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def estimate(looks, phi):
    ts = informative(looks)
    if not ts:
        return 0.0, 0.0, THETA_MAX
    x = sum(t[2] for t in ts)
    b = sum(t[2] + t[3] for t in ts)
    umin, umax = -50.0, math.log(THETA_MAX)

    def outside(top):
        return lambda u: 2 * (top - loglik(ts, math.exp(u))) / phi - CHI2_95

    def th(u):
        return 0.0 if u <= umin else min(math.exp(u), THETA_MAX)

    if x == 0:
        g = outside(0.0)
        return 0.0, 0.0, th(bisect(g, umin, umax)) if g(umax) > 0 else THETA_MAX
    if x == b:
        g = outside(0.0)
        return THETA_MAX, th(bisect(g, umin, umax)) if g(umin) > 0 else 0.0, THETA_MAX

    def score(u):
        t = math.exp(u)
        return sum(x_ - (x_ + y_) * t * n / (t * n + m) for n, m, x_, y_ in ts)

    uhat = bisect(score, umin, umax)
    g = outside(loglik(ts, math.exp(uhat)))
    lo = th(bisect(g, umin, uhat)) if g(umin) > 0 else 0.0
    hi = th(bisect(g, uhat, umax)) if g(umax) > 0 else THETA_MAX
    return th(uhat), lo, hi


def judge(cfg, looks):
    alpha, detect, need = cfg.get("alpha", ALPHA), cfg.get("detect", DETECT), cfg.get("power", POWER)
    threshold = 1 / (0.2 * alpha)
    path = []
    for i in range(1, min(len(looks), cfg["looks"]) + 1):
        phi = dispersion(looks[:i])
        e = evalue(looks[:i], detect, phi)
        path.append(e)
        if e >= threshold:
            out = {"decision": "Failed", "reason": "CanaryWorse", "test": "sequential", "look": i}
            break
        if i == cfg["looks"]:
            p = p_value(looks[:i], phi)
            pw = power(looks[:i], detect, phi, 0.8 * alpha)
            out = {"look": i, "pValue": p, "power": pw}
            if p <= 0.8 * alpha:
                out.update(decision="Failed", reason="CanaryWorse", test="final")
            elif pw >= need:
                out.update(decision="Successful", reason="CanaryNotWorse")
            else:
                out.update(decision="Inconclusive", reason="NotEnoughTraffic")
            break
    else:
        out = {"decision": "Continue", "reason": "Observing", "look": len(path)}
    judged = looks[: out["look"]]
    phi = dispersion(judged)
    out["dispersion"] = phi
    out["eValues"] = path
    out["thetaHat"], out["thetaLo"], out["thetaHi"] = estimate(judged, phi)
    return out


def look(n, x, m, y, canary_sub=None, stable_sub=None):
    out = {"canary": {"total": n, "bad": x}, "stable": {"total": m, "bad": y}}
    if canary_sub:
        out["canarySub"] = [{"total": t, "bad": b} for t, b in canary_sub]
    if stable_sub:
        out["stableSub"] = [{"total": t, "bad": b} for t, b in stable_sub]
    return out


def subs(total, bads):
    """Sub-intervals that share total requests evenly, with these bad counts."""
    k = len(bads)
    return [(total // k + (1 if i < total % k else 0), b) for i, b in enumerate(bads)]


CASES = [
    # 100 rps, 10% canary, 1% errors, 30-second looks: a good canary.
    ("good canary, headline traffic", {"looks": 10},
     [look(300, x, 2700, y) for x, y in
      [(3, 27), (2, 30), (4, 25), (3, 28), (1, 26), (5, 29), (3, 24), (2, 31), (4, 27), (3, 26)]]),
    # The same traffic, the canary twice as bad: the final test fails it.
    ("2x canary, final test", {"looks": 10},
     [look(300, x, 2700, y) for x, y in
      [(5, 27), (4, 30), (6, 25), (5, 28), (4, 26), (6, 29), (5, 24), (4, 31), (6, 27), (5, 26)]]),
    # A canary three times as bad: the e-process fails it before the horizon.
    ("3x canary, sequential", {"looks": 10},
     [look(300, x, 2700, y) for x, y in
      [(9, 27), (8, 30), (10, 25), (9, 28), (7, 26), (11, 29), (9, 24), (8, 31), (10, 27), (9, 26)]]),
    # A canary ten times as bad: the e-process fails it at the first look.
    ("10x canary, first look", {"looks": 10}, [look(300, 30, 2700, 27), look(300, 31, 2700, 26)]),
    # Weights change between looks (1%, 10%, 50%); a look without bad events,
    # one without canary traffic.
    ("weights change", {"looks": 5},
     [look(30, 1, 2970, 29), look(300, 4, 2700, 26), look(1500, 0, 1500, 0),
      look(0, 0, 3000, 31), look(1500, 17, 1500, 14)]),
    # Too little traffic to tell: Inconclusive.
    ("not enough traffic", {"looks": 4}, [look(10, 0, 90, 1) for _ in range(4)]),
    # Bad events on the canary only.
    ("canary only bad", {"looks": 3}, [look(100, 2, 900, 0), look(100, 1, 900, 0), look(100, 1, 900, 0)]),
    # Errors in bursts of 4: sub-intervals give a dispersion near 4; the
    # canary's 3x (with bursts) is not significant once discounted.
    ("bursts of four", {"looks": 3},
     [look(300, 8, 2700, 24, subs(300, [0, 4, 0, 0, 4, 0]), subs(2700, [4, 0, 8, 0, 4, 8])),
      look(300, 8, 2700, 20, subs(300, [0, 0, 0, 8, 0, 0]), subs(2700, [0, 4, 4, 4, 4, 4])),
      look(300, 4, 2700, 28, subs(300, [0, 0, 4, 0, 0, 0]), subs(2700, [8, 4, 4, 0, 8, 4]))]),
    # Still running: two looks of ten.
    ("continue", {"looks": 10}, [look(300, 3, 2700, 27), look(300, 4, 2700, 25)]),
    # Stricter alpha, larger detect, lower power.
    ("other config", {"looks": 6, "alpha": 0.05, "detect": 1.5, "power": 0.8},
     [look(1000, x, 9000, y) for x, y in [(12, 95), (9, 102), (14, 99), (11, 90), (13, 101), (10, 97)]]),
    # A 1.6x canary at 50%: the final test catches it, the e-process does not.
    ("1.6x at 50%", {"looks": 6},
     [look(500, x, 500, y) for x, y in [(16, 10), (15, 9), (17, 11), (14, 10), (16, 10), (15, 9)]]),
]


def main():
    out = []
    for name, cfg, looks in CASES:
        out.append({"name": name, "config": cfg, "looks": looks, "want": judge(cfg, looks)})
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
