#include "rules/linalg.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

namespace labgate::rules::linalg {

namespace {

/// Pivots smaller than this fraction of the first (largest) pivot of the equilibrated matrix mean
/// the columns are numerically dependent.
constexpr double kRankTolerance = 1e-13;

/// Householder QR with column pivoting of an m×n matrix held column by column. After factor(),
/// the upper triangle of the first n rows holds R (diagonal in rDiag_), the columns below the
/// diagonal the Householder vectors, and perm_[k] the original column at position k.
class PivotedQr {
 public:
  PivotedQr(std::vector<std::vector<double>> columns, size_t rows)
      : a_(std::move(columns)), m_(rows), n_(a_.size()), perm_(n_), rDiag_(n_, 0.0) {
    std::iota(perm_.begin(), perm_.end(), size_t{0});
  }

  /// Factors and returns the numerical rank.
  size_t factor() {
    double firstPivot = 0.0;
    for (size_t k = 0; k < n_; ++k) {
      size_t best = k;
      double bestNorm = -1.0;
      for (size_t j = k; j < n_; ++j) {
        double norm = tailNorm(a_[j], k);
        if (norm > bestNorm) {
          bestNorm = norm;
          best = j;
        }
      }
      std::swap(a_[k], a_[best]);
      std::swap(perm_[k], perm_[best]);
      if (k == 0) firstPivot = bestNorm;
      if (!(bestNorm > kRankTolerance * firstPivot) || bestNorm == 0.0) return k;
      std::vector<double>& v = a_[k];
      double alpha = v[k] > 0 ? -bestNorm : bestNorm;
      v[k] -= alpha;  // v = x − alpha·e_k, stored in place below and on the diagonal
      double vtv = 0.0;
      for (size_t i = k; i < m_; ++i) vtv += v[i] * v[i];
      beta_.push_back(vtv > 0 ? 2.0 / vtv : 0.0);
      for (size_t j = k + 1; j < n_; ++j) reflect(k, a_[j]);
      rDiag_[k] = alpha;
    }
    return n_;
  }

  /// Applies Qᵀ to b in place.
  void applyQt(std::vector<long double>& b) const {
    for (size_t k = 0; k < beta_.size(); ++k) {
      const std::vector<double>& v = a_[k];
      long double dot = 0.0L;
      for (size_t i = k; i < m_; ++i) dot += v[i] * b[i];
      dot *= beta_[k];
      for (size_t i = k; i < m_; ++i) b[i] -= dot * v[i];
    }
  }

  /// Solves R·z = c (first n entries of c); returns z in pivoted order.
  std::vector<long double> solveR(const std::vector<long double>& c) const {
    std::vector<long double> z(n_, 0.0L);
    for (size_t k = n_; k-- > 0;) {
      long double s = c[k];
      for (size_t j = k + 1; j < n_; ++j) s -= static_cast<long double>(a_[j][k]) * z[j];
      z[k] = s / rDiag_[k];
    }
    return z;
  }

  /// Row k of R⁻¹ squared-summed for each k: diag((RᵀR)⁻¹) in pivoted order.
  std::vector<double> inverseGramDiagonal() const {
    // Rinv is upper triangular; build it column by column.
    std::vector<std::vector<long double>> rinv(n_, std::vector<long double>(n_, 0.0L));
    for (size_t c = 0; c < n_; ++c) {
      std::vector<long double> e(n_, 0.0L);
      e[c] = 1.0L;
      std::vector<long double> col = solveR(e);
      for (size_t r = 0; r < n_; ++r) rinv[r][c] = col[r];
    }
    std::vector<double> d(n_, 0.0);
    for (size_t r = 0; r < n_; ++r) {
      long double s = 0.0L;
      for (size_t c = 0; c < n_; ++c) s += rinv[r][c] * rinv[r][c];
      d[r] = static_cast<double>(s);
    }
    return d;
  }

  size_t original(size_t k) const { return perm_[k]; }

 private:
  double tailNorm(const std::vector<double>& col, size_t from) const {
    // Scaled sum of squares: no overflow or underflow for extreme magnitudes.
    double scale = 0.0;
    for (size_t i = from; i < m_; ++i) scale = std::max(scale, std::fabs(col[i]));
    if (scale == 0.0) return 0.0;
    double s = 0.0;
    for (size_t i = from; i < m_; ++i) s += (col[i] / scale) * (col[i] / scale);
    return scale * std::sqrt(s);
  }

  void reflect(size_t k, std::vector<double>& col) const {
    const std::vector<double>& v = a_[k];
    double dot = 0.0;
    for (size_t i = k; i < m_; ++i) dot += v[i] * col[i];
    dot *= beta_[k];
    for (size_t i = k; i < m_; ++i) col[i] -= dot * v[i];
  }

  std::vector<std::vector<double>> a_;
  size_t m_;
  size_t n_;
  std::vector<size_t> perm_;
  std::vector<double> rDiag_;
  std::vector<double> beta_;
};

LeastSquaresFit failure(FitStatus status, std::string message) {
  LeastSquaresFit fit;
  fit.status = status;
  fit.message = std::move(message);
  return fit;
}

/// Residuals y − X·b in extended precision.
std::vector<long double> residualsOf(const Matrix& x, const std::vector<double>& y,
                                     const std::vector<long double>& b) {
  std::vector<long double> r(x.rows());
  for (size_t i = 0; i < x.rows(); ++i) {
    long double s = y[i];
    for (size_t j = 0; j < x.cols(); ++j) s -= static_cast<long double>(x(i, j)) * b[j];
    r[i] = s;
  }
  return r;
}

}  // namespace

const char* toString(FitStatus status) {
  switch (status) {
    case FitStatus::kOk:
      return "ok";
    case FitStatus::kBadInput:
      return "bad input";
    case FitStatus::kTooFewPoints:
      return "too few points";
    case FitStatus::kRankDeficient:
      return "rank deficient";
  }
  return "bad input";
}

Matrix polynomialDesign(const std::vector<double>& x, int degree, bool withIntercept) {
  int first = withIntercept ? 0 : 1;
  size_t cols = degree >= first ? static_cast<size_t>(degree - first + 1) : 0;
  Matrix m(x.size(), cols);
  for (size_t i = 0; i < x.size(); ++i) {
    for (size_t c = 0; c < cols; ++c) {
      m(i, c) = std::pow(x[i], static_cast<int>(c) + first);
    }
  }
  return m;
}

LeastSquaresFit solveLeastSquares(const Matrix& x, const std::vector<double>& y,
                                  const std::vector<double>& weights) {
  const size_t m = x.rows();
  const size_t n = x.cols();
  if (y.size() != m || (!weights.empty() && weights.size() != m) || n == 0) {
    return failure(FitStatus::kBadInput, "design, response and weights disagree in size");
  }
  if (m < n) {
    return failure(FitStatus::kTooFewPoints,
                   std::to_string(m) + " points for " + std::to_string(n) + " parameters");
  }
  std::vector<double> sqrtW(m, 1.0);
  for (size_t i = 0; i < m; ++i) {
    double w = weights.empty() ? 1.0 : weights[i];
    if (!std::isfinite(w) || w <= 0 || !std::isfinite(y[i])) {
      return failure(FitStatus::kBadInput,
                     "a weight is not positive and finite or y is not finite");
    }
    sqrtW[i] = std::sqrt(w);
    for (size_t j = 0; j < n; ++j) {
      if (!std::isfinite(x(i, j))) return failure(FitStatus::kBadInput, "x is not finite");
    }
  }

  // Equilibrate: every column of diag(√w)·X to unit Euclidean norm.
  std::vector<std::vector<double>> columns(n, std::vector<double>(m));
  std::vector<double> colScale(n, 0.0);
  for (size_t j = 0; j < n; ++j) {
    long double ss = 0.0L;
    for (size_t i = 0; i < m; ++i) {
      columns[j][i] = sqrtW[i] * x(i, j);
      ss += static_cast<long double>(columns[j][i]) * columns[j][i];
    }
    colScale[j] = static_cast<double>(std::sqrt(ss));
    if (colScale[j] == 0.0) {
      return failure(FitStatus::kRankDeficient, "column " + std::to_string(j) + " is all zero");
    }
    for (double& v : columns[j]) v /= colScale[j];
  }

  PivotedQr qr(std::move(columns), m);
  size_t rank = qr.factor();
  if (rank < n) {
    LeastSquaresFit fit = failure(FitStatus::kRankDeficient,
                                  "the design matrix has numerical rank " + std::to_string(rank) +
                                      " < " + std::to_string(n) + " parameters");
    fit.rank = rank;
    return fit;
  }

  // Solve in the scaled, pivoted unknowns z: b[perm[k]] = z[k]/colScale[perm[k]].
  auto toCoefficients = [&](const std::vector<long double>& z) {
    std::vector<long double> b(n);
    for (size_t k = 0; k < n; ++k) b[qr.original(k)] = z[k] / colScale[qr.original(k)];
    return b;
  };
  std::vector<long double> rhs(m);
  for (size_t i = 0; i < m; ++i) rhs[i] = static_cast<long double>(sqrtW[i]) * y[i];
  qr.applyQt(rhs);
  std::vector<long double> b = toCoefficients(qr.solveR(rhs));

  // Two refinement steps: each correction is the least-squares solution for the current residual.
  for (int step = 0; step < 2; ++step) {
    std::vector<long double> r = residualsOf(x, y, b);
    for (size_t i = 0; i < m; ++i) r[i] *= sqrtW[i];
    qr.applyQt(r);
    std::vector<long double> db = toCoefficients(qr.solveR(r));
    for (size_t j = 0; j < n; ++j) b[j] += db[j];
  }

  LeastSquaresFit fit;
  fit.status = FitStatus::kOk;
  fit.rank = n;
  fit.coefficients.resize(n);
  for (size_t j = 0; j < n; ++j) fit.coefficients[j] = static_cast<double>(b[j]);
  std::vector<long double> r = residualsOf(x, y, b);
  fit.residuals.resize(m);
  long double rss = 0.0L;
  for (size_t i = 0; i < m; ++i) {
    fit.residuals[i] = static_cast<double>(r[i]);
    long double w = weights.empty() ? 1.0L : weights[i];
    rss += w * r[i] * r[i];
  }
  fit.weightedRss = static_cast<double>(rss);
  fit.degreesOfFreedom = m - n;
  if (fit.degreesOfFreedom > 0) {
    double s2 = fit.weightedRss / static_cast<double>(fit.degreesOfFreedom);
    fit.residualSd = std::sqrt(s2);
    std::vector<double> d = qr.inverseGramDiagonal();
    fit.standardErrors.assign(n, 0.0);
    for (size_t k = 0; k < n; ++k) {
      size_t j = qr.original(k);
      fit.standardErrors[j] = std::sqrt(s2 * d[k]) / colScale[j];
    }
  }
  return fit;
}

double rSquared(const std::vector<double>& y, const std::vector<double>& residuals,
                const std::vector<double>& weights, bool withIntercept) {
  long double sw = 0.0L;
  long double swy = 0.0L;
  for (size_t i = 0; i < y.size(); ++i) {
    long double w = weights.empty() ? 1.0L : weights[i];
    sw += w;
    swy += w * y[i];
  }
  long double center = withIntercept && sw > 0 ? swy / sw : 0.0L;
  long double tss = 0.0L;
  long double rss = 0.0L;
  for (size_t i = 0; i < y.size(); ++i) {
    long double w = weights.empty() ? 1.0L : weights[i];
    long double d = y[i] - center;
    tss += w * d * d;
    long double e = i < residuals.size() ? residuals[i] : 0.0L;
    rss += w * e * e;
  }
  if (tss == 0.0L) return rss == 0.0L ? 1.0 : std::nan("");
  return static_cast<double>(1.0L - rss / tss);
}

}  // namespace labgate::rules::linalg
