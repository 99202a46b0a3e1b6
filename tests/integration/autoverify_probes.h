// Probe batches for autoverification (issue 20, "Done means"): a real or synthetic LC-MS/MS
// export keeps its calibrators and QCs and gets made-up patient rows, one problem per patient,
// plus a normal patient and one below the LLOQ; batch-level problems (no qualifier columns, no IS
// data, no calibrators, no Level column, unknown injection order) are variants of the whole
// batch. The outcome of a batch is read the same way from `labgate dry-run` and from the engine's
// store, so one expectation table checks both.
//
// The patient rows are copies of one of the batch's own injections (retyped as a patient sample),
// changed only where the probe says, so the vendor's concentration stays consistent with the
// batch's curve. No patient-identifying value appears anywhere: sample names are probe codes.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace labgate::it::probes {

/// A MassHunter wide-form CSV export (row 1: groups such as "<compound> Results", row 2: column
/// names, then one row per injection), edited by column so that each probe reads as what it
/// changes.
class WideExport {
 public:
  /// Parses the export's text (a UTF-8 BOM is kept aside and written back).
  static WideExport parse(const std::string& text);
  std::string csv() const;

  /// The column `name` of the sample columns (compound "") or of the group "<compound> Results";
  /// std::nullopt when there is none.
  std::optional<size_t> column(const std::string& compound, const std::string& name) const;
  /// The first qualifier group's `name` column after the compound's group.
  std::optional<size_t> qualifierColumn(const std::string& compound, const std::string& name) const;
  /// The row whose Name (or Data File stem) is `sampleName`.
  std::optional<size_t> rowOf(const std::string& sampleName) const;
  /// The compounds of the export, in the order of their groups.
  std::vector<std::string> compounds() const;

  /// Removes every column for which `drop(group, name)` is true.
  template <typename Pred>
  void removeColumns(Pred drop) {
    std::vector<size_t> keep;
    for (size_t c = 0; c < names_.size(); ++c) {
      if (!drop(groups_[c], names_[c])) keep.push_back(c);
    }
    auto pick = [&](const std::vector<std::string>& v) {
      std::vector<std::string> out;
      out.reserve(keep.size());
      for (size_t c : keep) out.push_back(c < v.size() ? v[c] : "");
      return out;
    };
    groupCells_ = pick(groupCells_);
    groups_ = pick(groups_);
    names_ = pick(names_);
    for (auto& r : rows) r = pick(r);
  }

  /// The cell `name` of `compound` (or of the sample columns) in `row`; "" when absent.
  std::string get(const std::vector<std::string>& row, const std::string& compound,
                  const std::string& name) const;
  /// Sets the cell when the column exists.
  void set(std::vector<std::string>& row, const std::string& compound, const std::string& name,
           const std::string& value) const;
  /// Multiplies a numeric cell when the column exists and the cell holds a number.
  void scale(std::vector<std::string>& row, const std::string& compound, const std::string& name,
             double factor) const;

  std::vector<std::vector<std::string>> rows;

 private:
  std::string bom_;
  std::vector<std::string> groupCells_;  // row 1 as written
  std::vector<std::string> groups_;      // per column: its group, carried forward ("" = sample)
  std::vector<std::string> names_;       // row 2
};

/// A Waters TargetLynx "Quantify Compound Summary Report" (TXT): per compound a title line
/// "Compound N:  NAME", a tab-separated header (its first cell empty, then `#`, Name, ...) and one
/// row per injection. Only the block of one compound is edited; the rest is kept as written.
class CompoundSummary {
 public:
  static CompoundSummary parse(const std::string& text);
  std::string txt() const;

  /// Adds to `compound`'s block a copy of its row `templateName` (the Name column) as a patient
  /// named `name` (Type "Sample", no nominal or %Dev) with injection number `injection`;
  /// `change(header, row)` edits it further. False when the compound or row is missing.
  bool addPatient(const std::string& compound, const std::string& templateName,
                  const std::string& name, int injection,
                  const std::function<void(const std::vector<std::string>& header,
                                           std::vector<std::string>& row)>& change);
  /// Removes the injection number: the `#` column of every block, and the index in the first
  /// cell of every row (the same number) becomes "-".
  void withoutInjectionNumbers();

  /// The cell index of `name` in a block header; std::nullopt when absent.
  static std::optional<size_t> cellOf(const std::vector<std::string>& header,
                                      const std::string& name);

 private:
  struct Line {
    std::vector<std::string> cells;  // split on tabs
    bool header = false;
    std::string compound;  // the block it belongs to ("" before the first)
  };
  std::vector<Line> lines_;
};

// ---------------------------------------------------------------------------------------------
// The probes. A patient row starts as a copy of a template injection of the batch.

/// `row` becomes a patient sample named `name` (Type "Sample", no level, nominal or accuracy).
void makePatient(const WideExport& e, std::vector<std::string>& row, const std::string& name);
/// The internal standard at 10 % of the others: the analyte's area drops to a tenth while its
/// response ratio (and so its concentration) stays, so the IS area the export implies
/// (Area / ISTD Resp. Ratio) is 10 % of the reference.
void isAtTenPercent(const WideExport& e, std::vector<std::string>& row, const std::string& c);
/// S/N 6: below the pass limit 10, on an export that carries Final Conc.
void lowSignalToNoise(const WideExport& e, std::vector<std::string>& row, const std::string& c);
/// Tailing factor 2.6 (limit 2.0).
void tailing(const WideExport& e, std::vector<std::string>& row, const std::string& c);
/// The first qualifier's ratio 97 % above the batch's.
void ionRatioOff(const WideExport& e, std::vector<std::string>& row, const std::string& c);
/// Every response and concentration of the compound times `factor` (above the ULOQ from the top
/// calibrator with 1.5, below the LLOQ from the lowest with 0.5).
void scaleAmount(const WideExport& e, std::vector<std::string>& row, const std::string& c,
                 double factor);

/// Variants of the whole batch.
void withoutQualifiers(WideExport& e);
void withoutIsData(WideExport& e);
void withoutCalibrators(WideExport& e);
void withoutLevelColumn(WideExport& e);
/// Appends three QC injections copied from `lowQcName` with every concentration and response
/// of each compound at 130 % (a QC level that fails; the other levels still pass).
void appendFailingQcs(WideExport& e, const std::string& lowQcName);
/// Rewrites Acq. Date-Time in row order, ten minutes apart (after rows were inserted).
void retime(WideExport& e);

// ---------------------------------------------------------------------------------------------
// Outcomes, read the same way from dry-run and from the store.

struct Finding {
  std::string rule;
  std::string severity;
  std::string message;
  std::string analyte;  // batch findings
};

struct Outcome {
  std::string disposition;  // release, hold, reject
  std::string value;
  std::vector<Finding> findings;

  bool hasRule(const std::string& rule) const;
  /// A finding whose message contains `code` (the reason code starts every message).
  bool hasCode(const std::string& code) const;
  std::string describe() const;
};

struct BatchOutcome {
  std::map<std::pair<std::string, std::string>, Outcome> results;  // (sample id, analyte)
  std::vector<Finding> batchFindings;
  std::string error;  // why the batch could not be read

  const Outcome* find(const std::string& sample, const std::string& analyte) const;
  std::string describeBatch() const;
};

/// One line of `labgate dry-run` output (patient results only).
BatchOutcome fromDryRun(const std::string& jsonLine);
/// The committed batch holding the patient sample `anySample`, from the engine's store.
BatchOutcome fromStore(const std::string& dbPath, const std::string& anySample);

}  // namespace labgate::it::probes
