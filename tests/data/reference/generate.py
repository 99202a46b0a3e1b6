#!/usr/bin/env python3
"""Writes LabGate's own numeric reference data (tests/data/reference), so that every
reference-driven numeric test of rules/ runs without ../shared (issue 12).

The data are made up here; every expected value is computed in exact rational arithmetic
(fractions.Fraction) from the decimal data as written, square roots to 40 digits with decimal.
Nothing is taken from ../shared. Run once from the repository root; the output is committed:
    python3 tests/data/reference/generate.py
"""
from decimal import Decimal, getcontext
from fractions import Fraction as F
import os

getcontext().prec = 50
OUT = os.path.dirname(os.path.abspath(__file__))


def d(x):  # a Fraction as a 20-significant-digit decimal string
    return format(Decimal(x.numerator) / Decimal(x.denominator), ".20g") if x != 0 else "0"


def sqrt(x):
    return (Decimal(x.numerator) / Decimal(x.denominator)).sqrt()


def ds(x):  # the square root of a non-negative Fraction, 20 significant digits
    return "0" if x == 0 else format(sqrt(x), ".20g")


def solve(a, b):  # exact Gauss-Jordan: a x = b
    n = len(a)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = next(r for r in range(c, n) if m[r][c] != 0)
        m[c], m[p] = m[p], m[c]
        for r in range(n):
            if r != c and m[r][c] != 0:
                f = m[r][c] / m[c][c]
                m[r] = [m[r][k] - f * m[c][k] for k in range(n + 1)]
    return [m[i][n] / m[i][i] for i in range(n)]


def inverse(a):
    n = len(a)
    cols = [solve(a, [F(int(i == j)) for i in range(n)]) for j in range(n)]
    return [[cols[j][i] for j in range(n)] for i in range(n)]


def wls(rows, ys, ws=None):
    """Weighted least squares: coefficients, their SDs, residual SD, residuals."""
    ws = ws or [F(1)] * len(ys)
    p = len(rows[0])
    xtx = [[sum(w * r[i] * r[j] for r, w in zip(rows, ws)) for j in range(p)] for i in range(p)]
    xty = [sum(w * r[i] * y for r, y, w in zip(rows, ys, ws)) for i in range(p)]
    b = solve(xtx, xty)
    res = [y - sum(bi * ri for bi, ri in zip(b, r)) for r, y in zip(rows, ys)]
    rss = sum(w * e * e for e, w in zip(res, ws))
    s2 = rss / (len(ys) - p)
    inv = inverse(xtx)
    return b, [s2 * inv[i][i] for i in range(p)], s2, res


# ---- linear least squares, in the NIST StRD .dat layout (tests/unit/rules/linalg_test.cpp) ----
def lls(name, xs, ys, degree=None, intercept=True, what=""):
    xs = [[F(v) for v in (x if isinstance(x, (list, tuple)) else [x])] for x in xs]
    ys = [F(y) for y in ys]
    if degree is not None:
        rows = [[x[0] ** k for k in range(0 if intercept else 1, degree + 1)] for x in xs]
    else:
        rows = [[F(1)] + x for x in xs]
    b, var, s2, res = wls(rows, ys)
    rss = sum(e * e for e in res)
    if intercept:
        ybar = sum(ys) / len(ys)
        tss = sum((y - ybar) ** 2 for y in ys)
    else:
        tss = sum(y * y for y in ys)
    r2 = 1 - rss / tss
    lines = [f"LabGate's own linear least-squares reference: {what}",
             "Certified values computed by tests/data/reference/generate.py (exact rationals).",
             "", "Parameter   Estimate   Standard Deviation of Estimate"]
    for i, (bi, vi) in enumerate(zip(b, var)):
        lines.append(f"B{i}  {d(bi)}  {ds(vi)}")
    lines += ["", "Residual", f"Standard Deviation   {ds(s2)}", f"R-Squared   {d(r2)}", "",
              "Data:  y  x"]
    for x, y in zip(xs, ys):
        lines.append("  ".join([str(float(y)) if y.denominator > 1 else str(y)] +
                               [str(v) if v.denominator == 1 else str(float(v)) for v in x]))
    os.makedirs(os.path.join(OUT, "lls"), exist_ok=True)
    with open(os.path.join(OUT, "lls", name + ".dat"), "w") as f:
        f.write("\n".join(lines) + "\n")


def decimals(values):  # decimal strings to exact Fractions
    return [F(v) for v in values]


lls("OwnLine", list(range(1, 11)),
    decimals(["2.9", "5.1", "7.2", "8.8", "11.1", "13.0", "15.2", "16.9", "19.1", "21.0"]),
    degree=1, what="a straight line with intercept, 10 points")
qx = list(range(12))
noise = ["0.03", "-0.02", "0.01", "-0.04", "0.02", "0", "-0.01", "0.03", "-0.03", "0.02",
         "-0.01", "0.01"]
qy = [F("1.5") + F("0.8") * x - F("0.05") * x * x + F(n) for x, n in zip(qx, noise)]
lls("OwnQuadratic", qx, qy, degree=2, what="a quadratic with intercept, 12 points")
lls("OwnNoInt", [2, 3, 5, 7, 11, 13], decimals(["4.1", "6.2", "9.8", "14.3", "21.9", "26.2"]),
    degree=1, intercept=False, what="a line through the origin, 6 points (uncentred R-squared)")
x2 = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]
x3 = [2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5]
mnoise = ["0.05", "-0.03", "0.02", "0", "-0.04", "0.01", "0.03", "-0.02", "0.04", "-0.01",
          "-0.05", "0.02"]
my = [1 + 2 * F(i + 1) - F("0.5") * a + F("0.25") * c + F(n)
      for i, (a, c, n) in enumerate(zip(x2, x3, mnoise))]
lls("OwnMultiple", [[i + 1, a, c] for i, (a, c) in enumerate(zip(x2, x3))], my,
    what="three predictors with intercept, 12 points")
ey = [1 + 2 * F(x) - F(x) ** 2 + F(1, 2) * F(x) ** 3 + F(1, 8) * F(x) ** 4 for x in range(9)]
lls("OwnExactQuartic", list(range(9)), ey, degree=4,
    what="an exact quartic (residual SD 0, R-squared 1)")


# ---- univariate summary statistics, in the NIST StRD univariate layout (stats_test.cpp) ----
def univariate(name, values, what):
    y = [F(v) for v in values]
    n = len(y)
    m = sum(y) / n
    ss = sum((v - m) ** 2 for v in y)
    r1 = sum((y[i] - m) * (y[i + 1] - m) for i in range(n - 1)) / ss
    lines = [f"LabGate's own univariate reference: {what}",
             "Certified values computed by tests/data/reference/generate.py (exact rationals).", "",
             f"Sample Mean      {d(m)}", f"Sample Standard Deviation (denom. = n-1)      {ds(ss / (n - 1))}",
             f"Sample Autocorrelation Coefficient (lag 1)      {d(r1)}",
             f"Number of Observations:                         {n}", "", "Data: Y",
             "-------------"] + list(values)
    os.makedirs(os.path.join(OUT, "univariate"), exist_ok=True)
    with open(os.path.join(OUT, "univariate", name + ".dat"), "w") as f:
        f.write("\n".join(lines) + "\n")


small = ["10.25", "9.75", "10.5", "10.125", "9.875", "10.0", "10.375", "9.625", "10.25", "10.0",
         "9.5", "10.5"]
univariate("OwnSmall", small, "12 values exact in binary")
univariate("OwnOffset", [str(F(v) + 1000000) if False else format(Decimal(v) + 1000000, "f")
                         for v in small],
           "the same values plus 1e6 (cancellation; still exact in binary)")
univariate("OwnDecimal", ["3.14", "2.71", "1.41", "1.73", "2.23", "0.57", "1.61", "4.66", "2.50",
                          "0.69"], "10 decimal values not exact in binary")


# ---- calibration lines, two-column CSV (calibration_test.cpp) ----
def csv(name, xs, ys):
    os.makedirs(os.path.join(OUT, "calibration"), exist_ok=True)
    with open(os.path.join(OUT, "calibration", name), "w") as f:
        f.write('"x","y"\n')
        for x, y in zip(xs, ys):
            f.write(f"{x},{y}\n")


expected = ["# Expected values for tests/unit/rules/calibration_test.cpp (OwnCalibration), computed",
            "# by generate.py in exact rationals from the CSV files beside this one."]
cx = ["0", "5", "10", "20", "40", "60", "80"]
cy = ["1.2", "11.9", "21.6", "42.3", "81.7", "122.1", "160.8"]
csv("own_line.csv", cx, cy)
X, Y = decimals(cx), decimals(cy)
b, var, s2, res = wls([[F(1), x] for x in X], Y)
ybar = sum(Y) / len(Y)
r2 = 1 - sum(e * e for e in res) / sum((y - ybar) ** 2 for y in Y)
expected += [f"line.b0 {d(b[0])}", f"line.b1 {d(b[1])}", f"line.r2 {d(r2)}", f"line.syx {ds(s2)}",
             f"line.x0_50 {d((50 - b[0]) / b[1])}", f"line.x0_150 {d((150 - b[0]) / b[1])}"]
# Weighted by explicit weights (as Massart's example 3 is).
wx = ["1", "2", "5", "10", "20", "50", "100", "200"]
wy = ["0.105", "0.198", "0.512", "0.981", "2.04", "4.93", "10.12", "19.7"]
ww = ["1", "0.5", "0.2", "0.1", "0.05", "0.02", "0.01", "0.005"]  # 1/x
csv("own_weighted.csv", wx, wy)
WX, WY, WW = decimals(wx), decimals(wy), decimals(ww)
b, var, s2, res = wls([[F(1), x] for x in WX], WY, WW)
expected += ["weighted.weights " + " ".join(ww), f"weighted.b0 {d(b[0])}", f"weighted.b1 {d(b[1])}",
             f"weighted.x0_1 {d((1 - b[0]) / b[1])}", f"weighted.x0_15 {d((15 - b[0]) / b[1])}"]
b2, _, _, _ = wls([[F(1), x] for x in WX], WY, [1 / (x * x) for x in WX])
expected += [f"weighted_x2.b0 {d(b2[0])}", f"weighted_x2.b1 {d(b2[1])}"]
# Heteroscedastic LC-MS/MS-like levels (constant CV): weighting decides which levels pass.
hx = ["0.5", "1", "2", "5", "10", "20", "50", "100", "200", "500", "1000", "2000"]
eps = ["0.06", "-0.07", "0.05", "-0.04", "0.03", "-0.05", "0.02", "-0.03", "0.04", "-0.02", "0.01",
       "-0.01"]
hy = [F("0.0123") * F(x) * (1 + F(e)) + F("0.004") for x, e in zip(hx, eps)]
csv("own_heteroscedastic.csv", hx, [format(Decimal(y.numerator) / Decimal(y.denominator), "f")
                                    for y in hy])


def passing(weights):
    HX = decimals(hx)
    HY = [F(l.split(",")[1]) for l in open(os.path.join(OUT, "calibration",
                                                          "own_heteroscedastic.csv")).read().split("\n")[1:] if l]
    b, _, _, _ = wls([[F(1), x] for x in HX], HY, weights(HX, HY))
    n = 0
    for i, (x, y) in enumerate(zip(HX, HY)):
        acc = 100 * (y - b[0]) / b[1] / x
        lo, hi = (80, 120) if i == 0 else (85, 115)
        n += lo <= acc <= hi
    return n


pn = passing(lambda xs, ys: [F(1)] * len(xs))
p2 = passing(lambda xs, ys: [1 / (x * x) for x in xs])
assert pn < p2, (pn, p2)
expected += [f"heteroscedastic.passing_unweighted {pn}", f"heteroscedastic.passing_inverse_x2 {p2}"]
with open(os.path.join(OUT, "calibration", "expected.txt"), "w") as f:
    f.write("\n".join(expected) + "\n")

# ---- EWMA (trend_test.cpp): target 10, sigma 0.5, lambda 0.2, L 3 ----
ex = ["10.2", "9.9", "10.1", "10.4", "10.3", "10.6", "10.5", "10.8", "10.7", "10.9", "11.0",
      "10.8"]
lam, L, mu, sigma = F(1, 5), 3, F(10), F(1, 2)
z = mu
rows = ["i,x,ewma_exact,ucl_exact,lcl_exact,signal"]
steady2 = (L * sigma) ** 2 * lam / (2 - lam)
for i, x in enumerate(decimals(ex)):
    z = lam * x + (1 - lam) * z
    half = sqrt(steady2 * (1 - (1 - lam) ** (2 * (i + 1))))
    ucl = Decimal(10) + half
    lcl = Decimal(10) - half
    zd = Decimal(z.numerator) / Decimal(z.denominator)
    rows.append(f"{i + 1},{ex[i]},{d(z)},{format(ucl, '.20g')},{format(lcl, '.20g')},"
                f"{int(zd > ucl or zd < lcl)}")
rows.append(f"# steady state: UCL {format(Decimal(10) + sqrt(steady2), '.20g')} "
            f"LCL {format(Decimal(10) - sqrt(steady2), '.20g')}")
os.makedirs(os.path.join(OUT, "trend"), exist_ok=True)
with open(os.path.join(OUT, "trend", "own_ewma.csv"), "w") as f:
    f.write("\n".join(rows) + "\n")
