// The canonical model: what one inbound message says, independent of its wire format.
// Plain value types: no I/O, no framework types. Every stage of the pipeline takes and returns
// these. Nothing here may hold a patient's identity: a Sample's id is the lab's sample id.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/document.h"

namespace labgate {

using TimePoint = std::chrono::system_clock::time_point;

/// Raw bytes as a connector received them, and who sent them when. Lives only in memory:
/// it is never written anywhere before the PHI gate has passed what it says.
struct Envelope {
  std::string bytes;
  std::string connectorId;
  std::string orgId = "default";
  std::string peer;  // "host:port"
  TimePoint receivedAt{};
  /// SHA-256 (hex) of `bytes` when the source already computed it (for its log lines); empty
  /// otherwise. The pipeline hashes the bytes only when this is empty.
  std::string contentSha256;
};

enum class SampleKind { kUnknown, kCalibrator, kQc, kBlank, kDoubleBlank, kSystemSuitability };

const char* toString(SampleKind kind);

/// LC-MS/MS peak integration data for a result (filled by the export connectors).
struct Peak {
  std::optional<double> retentionTime;
  std::optional<double> expectedRetentionTime;
  std::optional<double> area;
  std::optional<double> height;
  std::string internalStandard;
  std::optional<double> internalStandardArea;
  std::optional<double> internalStandardRt;
  std::optional<double> quantifierArea;
  std::optional<double> qualifierArea;
  std::optional<double> ionRatio;  // qualifier / quantifier area as a fraction (0.35, not 35 %)
  std::optional<double> signalToNoise;
  std::optional<double> width;
  std::optional<double> asymmetry;
  bool manualIntegration = false;
  std::optional<double> calculatedConcentration;  // the vendor's calculated concentration
  /// The vendor's final concentration ("Final Conc."): calculated × dilution, reported instead of
  /// (or beside) the calculated one by some exports.
  std::optional<double> finalConcentration;
  std::optional<double> expectedConcentration;  // nominal concentration of a calibrator/QC
  std::optional<double> accuracy;               // vendor's accuracy / recovery, percent of nominal
  std::optional<double> responseRatio;  // analyte response / IS response, as the vendor reports it
  std::string vendorFlags;              // vendor's peak or outlier flags as sent ("MM", "!", ...)
  /// How the peak was integrated, as the vendor codes it (TargetLynx "bb", "bd", "dd", "MM"):
  /// routine information, not a flag; a manual integration also sets manualIntegration.
  std::string integrationCode;
  /// The analyst excluded this calibrator point from the curve (TargetLynx "X", MassHunter
  /// "Outlier"/excluded): the curve is fitted without it, and it counts as not accepted.
  bool excludedFromCurve = false;
};

enum class Severity { kInfo, kWarning, kError };

/// What happens to a result: released (AUTO_VERIFIED), held for QA review (HOLD), or to be
/// re-run (REJECT_RERUN). Ordered by severity: kReject > kHold > kRelease.
enum class DispositionKind { kRelease, kHold, kReject };

const char* toString(DispositionKind kind);

const char* toString(Severity severity);

/// Something a stage noticed about a result, sample or batch.
struct Finding {
  std::string ruleId;  // e.g. "mapping.unmapped"
  Severity severity = Severity::kWarning;
  std::string subject;  // "result", "sample", "batch", "analyte"
  std::string message;  // words only, never a patient value
  std::string measured;
  std::string limit;
  /// What the finding asks of the result it is attached to. Findings of severity kInfo never
  /// change a disposition; the others hold by default, and a rule that needs a re-run says kReject.
  DispositionKind action = DispositionKind::kHold;
};

/// 21 CFR Part 11 §11.50: the electronic signature that released a held result (QA approval),
/// shown wherever the result is (OBX-16 and an NTE at the LIS, docs/signatures.md).
struct ResultSignature {
  std::string username;     // the signer's user name
  std::string printedName;  // the signer's printed name
  std::string signedAt;     // ISO-8601 UTC
  std::string meaning;      // "approved", ...
};

struct Result {
  std::string instrumentCode;  // the instrument's test code as sent
  std::string lisCode;         // filled by the mapping stage
  std::string lisName;
  std::string value;  // as sent (trimmed)
  std::optional<double> numeric;
  std::string units;
  std::string referenceRange;
  std::string flags;
  std::string status;      // F final, P preliminary, C correction, ...
  std::string measuredAt;  // YYYYMMDDHHMMSS as sent
  std::string comment;     // comment records attached to the result
  std::optional<Peak> peak;
  /// An internal standard's own peak (LC-MS/MS exports): kept for the rules (IS response), never
  /// mapped or sent to the LIS.
  bool internalStandard = false;
  std::string location;  // the source record: "R-<n>", n = its 1-based position in the message
  int decimals = -1;     // set by mapping: digits after the point for the LIS, -1 = as sent
  std::vector<Finding> findings;
  /// Set only on a result released by an electronic signature (never by the pipeline).
  std::optional<ResultSignature> signature;
};

struct Sample {
  std::string sampleId;  // lab-assigned specimen id (ASTM O-3), never a patient id
  SampleKind kind = SampleKind::kUnknown;
  std::string level;  // calibrator/QC level
  std::string lot;
  std::optional<double> nominalConcentration;
  std::optional<double> dilution;
  std::string position;  // vial/rack position (ASTM O-4)
  std::string acquiredAt;
  /// The injection number the export gives (TargetLynx "#", an injection or acquisition sequence
  /// column), 1-based; the rules put the batch in this order before any order-dependent check.
  std::optional<int64_t> injection;
  std::string dataFile;  // the acquisition data file an export names (LC-MS/MS)
  std::string location;  // where the sample starts in the source ("line 12", "SAMPLE line 40")
  std::vector<Result> results;
};

/// A batch-level finding of the rules (calibration of one analyte, QC run acceptance, drift).
struct BatchFinding {
  std::string analyte;  // "" for the whole batch
  Finding finding;
};

/// One QC measurement the rules evaluated, to be kept in the QC history (Westgard across runs).
struct QcValue {
  std::string analyte;
  std::string level;
  std::string lot;
  std::string sampleId;
  int seq = 0;  // injection order in the batch
  double value = 0;
  std::optional<double> targetMean;
  std::optional<double> targetSd;
  bool excluded = false;
  bool runRejected = false;
  int64_t batch = 0;  // read back from the history: the stored batch (message id) it came from
};

/// A per-batch number the trend rules follow across batches (median IS area of the
/// calibrators, mean calibrator RT, calibration slope, ...).
struct BatchMetric {
  std::string analyte;
  std::string metric;  // "cal_slope", "cal_is_area_median", "cal_rt_mean", "cal_ion_ratio_mean"
  double value = 0;
};

/// The calibration curve the vendor's software fitted for one analyte, as the export states it
/// (TargetLynx "Curve type"/"Weighting", a MassHunter method column). Texts as the vendor wrote
/// them, trimmed ("Quadratic", "1/x^2", "Exclude"); the rules parse them.
struct ExportCurve {
  std::string analyte;  // the instrument code of the analyte's results
  std::string model;
  std::string weighting;
  std::string origin;  // "Include", "Exclude", "Force" or ""
};

/// What one envelope says.
struct Message {
  std::string controlId;  // the sender's message control id (ASTM H-3, HL7 MSH-10)
  std::string sender;     // instrument/software name (ASTM H-5)
  std::string processingId;
  std::string version;
  std::string sentAt;  // the message's own timestamp as sent
  std::vector<Sample> samples;
  /// Batch exports: the samples are listed in the order they were injected (a batch table read
  /// top to bottom). False when the format sorts them otherwise (TargetLynx summaries are sorted
  /// by name) or nothing says; the rules then order by Sample::injection or acquiredAt, and treat
  /// order-dependent checks as not evaluable when neither is there.
  bool listedInRunOrder = false;
  /// The curves the export states (one per analyte at most).
  std::vector<ExportCurve> curves;

  // Filled by the rules stage (LC-MS/MS batches); empty for messages no rule set evaluated.
  std::string rulesVersion;  // the rule set's version, stored with every decision
  std::vector<BatchFinding> batchFindings;
  std::vector<QcValue> qcValues;
  std::vector<BatchMetric> metrics;

  size_t resultCount() const;
};

struct Disposition {
  DispositionKind kind = DispositionKind::kRelease;
  std::vector<Finding> findings;
};

}  // namespace labgate
