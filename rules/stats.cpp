#include "rules/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace labgate::rules {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Σ(x − center) and Σ(x − center)², each with Neumaier compensation.
struct Residuals {
  double sum = 0;
  double sumSquares = 0;
};

void addCompensated(double& sum, double& carry, double x) {
  double t = sum + x;
  carry += std::fabs(sum) >= std::fabs(x) ? (sum - t) + x : (x - t) + sum;
  sum = t;
}

Residuals residualsAbout(std::span<const double> values, double center) {
  double sum = 0, sumCarry = 0, squares = 0, squaresCarry = 0;
  for (double x : values) {
    double d = x - center;
    addCompensated(sum, sumCarry, d);
    addCompensated(squares, squaresCarry, d * d);
  }
  return {sum + sumCarry, squares + squaresCarry};
}

}  // namespace

double mean(std::span<const double> values) {
  if (values.empty()) return kNaN;
  double sum = 0, carry = 0;
  for (double x : values) addCompensated(sum, carry, x);
  double n = static_cast<double>(values.size());
  double first = (sum + carry) / n;
  // Second pass: the residuals' mean corrects what rounding left in the first estimate.
  return first + residualsAbout(values, first).sum / n;
}

double sampleVariance(std::span<const double> values) {
  if (values.size() < 2) return kNaN;
  double n = static_cast<double>(values.size());
  Residuals r = residualsAbout(values, mean(values));
  double ss = r.sumSquares - r.sum * r.sum / n;
  return std::max(ss, 0.0) / (n - 1);
}

Summary summarize(std::span<const double> values) {
  Summary s;
  s.n = values.size();
  s.mean = mean(values);
  s.sd = std::sqrt(sampleVariance(values));
  s.cv = (s.n < 2 || s.mean == 0) ? kNaN : 100.0 * s.sd / std::fabs(s.mean);
  return s;
}

double median(std::span<const double> values) {
  if (values.empty()) return kNaN;
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  size_t mid = sorted.size() / 2;
  if (sorted.size() % 2 == 1) return sorted[mid];
  return sorted[mid - 1] + (sorted[mid] - sorted[mid - 1]) / 2;
}

double lag1Autocorrelation(std::span<const double> values) {
  if (values.size() < 2) return kNaN;
  double m = mean(values);
  Residuals r = residualsAbout(values, m);
  double n = static_cast<double>(values.size());
  double denominator = r.sumSquares - r.sum * r.sum / n;
  if (!(denominator > 0)) return kNaN;
  double numerator = 0, carry = 0;
  for (size_t i = 0; i + 1 < values.size(); ++i) {
    addCompensated(numerator, carry, (values[i] - m) * (values[i + 1] - m));
  }
  return (numerator + carry) / denominator;
}

TrimmedSummary summarizeWithoutOutliers(std::span<const double> values, double k) {
  TrimmedSummary t;
  t.all = summarize(values);
  if (!(t.all.sd > 0)) {
    t.kept = t.all;
    return t;
  }
  std::vector<double> kept;
  kept.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::fabs(values[i] - t.all.mean) > k * t.all.sd) {
      t.removed.push_back(i);
    } else {
      kept.push_back(values[i]);
    }
  }
  t.kept = t.removed.empty() ? t.all : summarize(kept);
  return t;
}

void RunningStats::add(double x) {
  ++n_;
  double delta = x - mean_;
  mean_ += delta / static_cast<double>(n_);
  m2_ += delta * (x - mean_);
}

double RunningStats::mean() const { return n_ == 0 ? kNaN : mean_; }

double RunningStats::variance() const { return n_ < 2 ? kNaN : m2_ / static_cast<double>(n_ - 1); }

double RunningStats::sd() const { return std::sqrt(variance()); }

}  // namespace labgate::rules
