// Weighted linear least squares for the analytics (calibration curves, drift lines): a Householder
// QR factorisation of the √w-scaled design matrix with column equilibration and column pivoting,
// never the normal equations (../shared/spec/analytics.md §2.1, §9). Pure functions over value
// types; safe to call from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace labgate::rules::linalg {

/// A dense row-major matrix: the design matrix, one row per observation, one column per
/// parameter.
class Matrix {
 public:
  Matrix() = default;
  Matrix(size_t rows, size_t cols) : rows_(rows), cols_(cols), data_(rows * cols, 0.0) {}

  size_t rows() const { return rows_; }
  size_t cols() const { return cols_; }
  double& operator()(size_t r, size_t c) { return data_[r * cols_ + c]; }
  double operator()(size_t r, size_t c) const { return data_[r * cols_ + c]; }

 private:
  size_t rows_ = 0;
  size_t cols_ = 0;
  std::vector<double> data_;
};

/// The design matrix of the polynomial b0 + b1·x + … + b_degree·x^degree (withIntercept) or
/// b1·x + … + b_degree·x^degree (without): columns in increasing power.
Matrix polynomialDesign(const std::vector<double>& x, int degree, bool withIntercept);

/// Why a fit did not produce coefficients.
enum class FitStatus {
  kOk,
  kBadInput,       // sizes disagree, no columns, a non-finite value or a weight ≤ 0
  kTooFewPoints,   // fewer observations than parameters
  kRankDeficient,  // columns (numerically) linearly dependent: a parameter is not determined
};

const char* toString(FitStatus status);

/// A least-squares solution. Coefficients follow the design matrix's columns. `residuals` are
/// y − X·b, unweighted; `weightedRss` is Σ w·e². `standardErrors` are √(s²·diag((XᵀWX)⁻¹)) with
/// s² = weightedRss/(n − p) (empty when n = p: no degrees of freedom).
struct LeastSquaresFit {
  FitStatus status = FitStatus::kBadInput;
  std::string message;  // for a reviewer, when status != kOk
  std::vector<double> coefficients;
  std::vector<double> residuals;
  std::vector<double> standardErrors;
  double weightedRss = 0.0;
  double residualSd = 0.0;  // √(weightedRss/(n − p)); 0 when n = p
  size_t degreesOfFreedom = 0;
  /// Estimated rank of the scaled design matrix (= number of columns when status is kOk).
  size_t rank = 0;

  bool ok() const { return status == FitStatus::kOk; }
};

/// Minimises Σ w_i (y_i − (X·b)_i)² by Householder QR on diag(√w)·X with columns scaled to unit
/// norm, followed by one step of iterative refinement in extended precision. `weights` empty
/// means all 1. A column whose pivot falls below 1e-13 of the largest (after scaling) makes the
/// fit kRankDeficient; no coefficients are returned then.
LeastSquaresFit solveLeastSquares(const Matrix& x, const std::vector<double>& y,
                                  const std::vector<double>& weights = {});

/// The coefficient of determination of a fit.
/// With an intercept (centred): R² = 1 − Σw·e²/Σw·(y − ȳ_w)², ȳ_w the weighted mean; this is R's
/// lm() and NIST StRD's definition for models with a constant term.
/// Without an intercept (uncentred): R² = 1 − Σw·e²/Σw·y²; this is what NIST certifies for NoInt1
/// and NoInt2 (Regression SS / (Regression SS + Residual SS) with uncorrected sums) and what R's
/// summary.lm() reports for a model without intercept.
/// Returns 1 when the denominator is 0 and the residuals are 0, NaN when only the denominator is.
double rSquared(const std::vector<double>& y, const std::vector<double>& residuals,
                const std::vector<double>& weights, bool withIntercept);

}  // namespace labgate::rules::linalg
