// Descriptive statistics for QC targets and trends (../shared/spec/analytics.md §3.3): mean, SD
// and CV computed so that data with a large offset and a tiny spread (NIST StRD NumAcc3/NumAcc4)
// keep their digits, the median, the lag-1 autocorrelation, and a summary with outliers beyond
// k SD removed once. Pure functions over doubles; no state except RunningStats.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace labgate::rules {

/// n, mean, sample SD (denominator n − 1) and CV% = 100·SD/|mean|. For n = 0 every number is
/// NaN; for n = 1 the SD and CV are NaN; a zero mean gives a NaN CV.
struct Summary {
  size_t n = 0;
  double mean = 0;
  double sd = 0;
  double cv = 0;  // percent
};

/// Arithmetic mean, two passes (a first estimate, then the mean of the residuals added back).
/// NaN for an empty span.
double mean(std::span<const double> values);

/// Sample variance (n − 1), two-pass with the rounding-error correction term
/// (Chan, Golub & LeVeque's corrected two-pass algorithm). NaN for fewer than 2 values.
double sampleVariance(std::span<const double> values);

/// Mean, SD and CV of the values in one call (two-pass, as above).
Summary summarize(std::span<const double> values);

/// The median (mean of the two middle values for an even count); NaN for an empty span.
double median(std::span<const double> values);

/// Lag-1 autocorrelation r(1) = Σ(xᵢ − x̄)(xᵢ₊₁ − x̄) / Σ(xᵢ − x̄)², the NIST StRD definition.
/// NaN for fewer than 2 values or zero spread.
double lag1Autocorrelation(std::span<const double> values);

/// A summary after removing, once, the values farther than `k` SD (strictly) from the mean of all
/// values; `removed` holds their indexes into the input, ascending. `all` is the summary before.
struct TrimmedSummary {
  Summary all;
  Summary kept;
  std::vector<size_t> removed;
};
TrimmedSummary summarizeWithoutOutliers(std::span<const double> values, double k = 3.0);

/// Welford's online mean and variance, for values that arrive one at a time.
class RunningStats {
 public:
  void add(double x);
  size_t count() const { return n_; }
  /// NaN before the first value.
  double mean() const;
  /// Sample variance (n − 1); NaN for fewer than 2 values.
  double variance() const;
  double sd() const;

 private:
  size_t n_ = 0;
  double mean_ = 0;
  double m2_ = 0;
};

}  // namespace labgate::rules
