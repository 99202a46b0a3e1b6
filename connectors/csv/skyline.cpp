// Skyline report CSV ("Molecule Transition Results" and custom reports): one row per (molecule,
// replicate, transition). A replicate is a Sample; a molecule's precursor is a Result whose peak is
// its quantifier transition (best Peak Rank), with the next-ranked transition as the qualifier.
//
// A calibrator replicate marked "Exclude From Calibration" is left out of the curve by the
// analyst: Peak::excludedFromCurve on its results. Run order: replicates can be reordered in the
// document, so they are not taken to be listed in injection order (listedInRunOrder stays false);
// the rules order them by "Acquired Time" where the report has that column.
#include "connectors/csv/skyline.h"

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>

#include "connectors/csv/common.h"
#include "connectors/csv/formats.h"
#include "util/flags.h"

namespace labgate::csv {

namespace {

constexpr const char* kSender = "Skyline";

const std::initializer_list<std::string_view> kReplicate = {"Replicate Name", "Replicate"};
const std::initializer_list<std::string_view> kMolecule = {
    "Molecule Name", "Molecule", "Peptide Modified Sequence", "Peptide Sequence", "Peptide"};

struct Columns {
  size_t molecule = 0, replicate = 0, precursorName = 0, precursorMz = 0, precursorAdduct = 0,
         precursorCharge = 0, rt = 0, area = 0, height = 0, fwhm = 0, peakRank = 0,
         quantitative = 0, calculatedConc = 0, accuracy = 0, sampleType = 0, standardType = 0,
         analyteConc = 0, units = 0, ratioToStandard = 0, fileName = 0, acquired = 0, dilution = 0,
         excluded = 0;

  void resolve(const HeaderIndex& h) {
    molecule = h.find(kMolecule);
    replicate = h.find(kReplicate);
    precursorName = h.find({"Precursor Name"});
    precursorMz = h.find({"Precursor Mz"});
    precursorAdduct = h.find({"Precursor Adduct"});
    precursorCharge = h.find({"Precursor Charge"});
    rt = h.find({"Retention Time", "Peak Retention Time"});
    area = h.find({"Area"});
    height = h.find({"Height"});
    fwhm = h.find({"Fwhm"});
    peakRank = h.find({"Peak Rank"});
    quantitative = h.find({"Quantitative"});
    calculatedConc = h.find({"Calculated Concentration"});
    accuracy = h.find({"Accuracy"});
    sampleType = h.find({"Sample Type"});
    standardType = h.find({"Standard Type"});
    analyteConc = h.find({"Analyte Concentration"});
    units = h.find({"Concentration Units", "Units"});
    ratioToStandard = h.find({"Ratio To Standard", "Area Ratio"});
    fileName = h.find({"File Name"});
    acquired = h.find({"Acquired Time"});
    dilution = h.find({"Sample Dilution Factor", "Dilution Factor"});
    excluded = h.find({"Exclude From Calibration"});
  }
};

/// One transition row, kept until finish() picks the quantifier and qualifier.
struct Transition {
  std::optional<double> area, height, rt, fwhm;
  double rank = std::numeric_limits<double>::infinity();  // no rank (#N/A): after every ranked one
  bool quantitative = true;
};

/// A molecule's precursor in one replicate: the Result under construction.
struct Precursor {
  std::string molecule;
  std::string precursor;  // the key that tells a molecule's precursors apart
  Result result;
  std::vector<Transition> transitions;
};

struct Replicate {
  Sample sample;
  std::vector<Precursor> precursors;
  std::map<std::pair<std::string, std::string>, size_t> index;
};

class SkylineParse : public DelimitedParse {
 public:
  SkylineParse(std::istream& in, const DelimitedSettings& settings)
      : DelimitedParse(in, settings) {}

  StatusOr<Message> finish() override {
    if (headerWidth_ == 0) {
      return Status::invalid("line 1", "no header with Replicate Name and a molecule name column");
    }
    if (replicates_.empty()) return Status::invalid("line 2", "no sample rows");
    Message m;
    m.sender = kSender;
    m.listedInRunOrder = false;  // replicates can be reordered: see the top of this file
    for (Replicate& rep : replicates_) {
      for (Precursor& p : rep.precursors) rep.sample.results.push_back(build(p));
      m.samples.push_back(std::move(rep.sample));
    }
    return m;
  }

 protected:
  Status interpret(const Record& record) override {
    size_t width = record.fields.empty() ? 0 : record.fields.size() - 1;
    if (width == 0) return Status::ok();
    std::string where = "line " + std::to_string(record.line);
    if (headerWidth_ == 0) return takeHeader(record, where);
    if (Status fits = checkRowWidth(record, headerWidth_, where); !fits.isOk()) return fits;
    std::string replicate = trimmed(record, col_.replicate);
    std::string molecule = trimmed(record, col_.molecule);
    if (replicate.empty()) return Status::invalid(where, "row without a Replicate Name");
    if (molecule.empty()) return Status::invalid(where, "row without a molecule name");
    observeDecimals(record);
    Replicate& rep = replicateFor(record, replicate, where);
    Precursor& pre = precursorFor(record, rep, molecule, where);
    Transition t;
    t.area = number(cell(record, col_.area));  // "#N/A" or empty: no peak
    t.height = number(cell(record, col_.height));
    t.rt = number(cell(record, col_.rt));
    t.fwhm = number(cell(record, col_.fwhm));
    if (std::optional<double> rank = number(cell(record, col_.peakRank))) t.rank = *rank;
    std::string q = normalizeName(trim(cell(record, col_.quantitative)));
    t.quantitative = !(q == "false" || q == "no" || q == "0");
    pre.transitions.push_back(t);
    return Status::ok();
  }

 private:
  Status takeHeader(const Record& record, const std::string& where) {
    std::vector<std::string> names;
    for (size_t i = 1; i < record.fields.size(); ++i)
      names.emplace_back(trim(record.fields[i].raw()));
    HeaderIndex h(names);
    col_.resolve(h);
    if (col_.replicate == 0 || col_.molecule == 0) {
      return Status::invalid(where,
                             "the first line is not a header with Replicate Name and a "
                             "molecule name column");
    }
    headerWidth_ = h.size();
    setHeader(std::move(names));
    return Status::ok();
  }

  Replicate& replicateFor(const Record& record, const std::string& name, const std::string& where) {
    auto [it, added] = index_.emplace(name, replicates_.size());
    if (!added) return replicates_[it->second];
    Replicate rep;
    rep.sample.sampleId = name;
    rep.sample.location = where;
    rep.sample.kind =
        sampleKindFromVendor(trim(cell(record, col_.sampleType))).value_or(SampleKind::kUnknown);
    rep.sample.dataFile = trimmed(record, col_.fileName);
    rep.sample.dilution = number(cell(record, col_.dilution));
    if (col_.acquired) {
      rep.sample.acquiredAt =
          parseDateTime(trim(cell(record, col_.acquired)), settings().dateOrder).value_or("");
    }
    replicates_.push_back(std::move(rep));
    return replicates_.back();
  }

  /// Skyline's Accuracy is a ratio: written "104.0%" with the report's formats, "1.04" invariant.
  std::optional<double> accuracyPercent(std::string_view text) const {
    text = trim(text);
    if (!text.empty() && text.back() == '%') return number(trim(text.substr(0, text.size() - 1)));
    std::optional<double> ratio = number(text);
    if (ratio) *ratio *= 100.0;
    return ratio;
  }

  /// The precursor key: its name, else its m/z, else adduct and charge.
  std::string precursorKey(const Record& record) const {
    std::string key = trimmed(record, col_.precursorName);
    if (key.empty()) key = trimmed(record, col_.precursorMz);
    if (key.empty()) {
      key = trimmed(record, col_.precursorAdduct);
      std::string charge = trimmed(record, col_.precursorCharge);
      if (!charge.empty()) key += (key.empty() ? "" : " ") + charge;
    }
    return key;
  }

  Precursor& precursorFor(const Record& record, Replicate& rep, const std::string& molecule,
                          const std::string& where) {
    std::string key = precursorKey(record);
    precursorsOf_[molecule].insert(key);
    auto [it, added] = rep.index.emplace(std::make_pair(molecule, key), rep.precursors.size());
    if (!added) return rep.precursors[it->second];
    Precursor p;
    p.molecule = molecule;
    p.precursor = key;
    Result& r = p.result;
    r.location = where;
    r.units = trimmed(record, col_.units);
    Peak peak;
    if (col_.calculatedConc) {
      r.value = trimmed(record, col_.calculatedConc);  // "#N/A" kept as sent
      r.numeric = number(r.value);
      peak.calculatedConcentration = r.numeric;
    }
    peak.accuracy = accuracyPercent(cell(record, col_.accuracy));
    peak.expectedConcentration = number(cell(record, col_.analyteConc));
    peak.responseRatio = number(cell(record, col_.ratioToStandard));
    r.internalStandard =
        normalizeName(trim(cell(record, col_.standardType))) == "internal standard";
    peak.excludedFromCurve = rep.sample.kind == SampleKind::kCalibrator && col_.excluded != 0 &&
                             util::saysYes(cell(record, col_.excluded));
    r.peak = peak;
    rep.precursors.push_back(std::move(p));
    return rep.precursors.back();
  }

  /// The Result of one precursor: the quantifier is the quantitative transition with the best
  /// Peak Rank (file order breaks ties), the qualifier the next one.
  Result build(Precursor& p) const {
    Result r = std::move(p.result);
    r.instrumentCode = p.molecule;
    auto it = precursorsOf_.find(p.molecule);
    if (it != precursorsOf_.end() && it->second.size() > 1 && !p.precursor.empty()) {
      r.instrumentCode += " (" + p.precursor + ")";
    }
    std::vector<const Transition*> order;
    for (const Transition& t : p.transitions) {
      if (t.quantitative) order.push_back(&t);
    }
    std::stable_sort(order.begin(), order.end(),
                     [](const Transition* a, const Transition* b) { return a->rank < b->rank; });
    Peak& peak = *r.peak;
    if (!order.empty()) {
      const Transition& quant = *order[0];
      peak.area = quant.area;
      peak.quantifierArea = quant.area;
      peak.height = quant.height;
      peak.retentionTime = quant.rt;
      peak.width = quant.fwhm;
    }
    if (order.size() > 1) {
      peak.qualifierArea = order[1]->area;
      if (peak.qualifierArea && peak.quantifierArea && *peak.quantifierArea > 0) {
        peak.ionRatio = *peak.qualifierArea / *peak.quantifierArea;
      }
    }
    return r;
  }

  Columns col_;
  size_t headerWidth_ = 0;
  std::vector<Replicate> replicates_;
  std::map<std::string, size_t> index_;  // Replicate Name -> replicates_ position
  std::map<std::string, std::set<std::string>> precursorsOf_;  // molecule -> its precursor keys
};

/// Splits one header line on `delimiter`, dropping the quotes around a quoted name.
std::vector<std::string> headerCells(std::string_view line, char delimiter) {
  std::vector<std::string> cells;
  size_t from = 0;
  while (from <= line.size()) {
    size_t end = std::min(line.find(delimiter, from), line.size());
    std::string_view c = trim(line.substr(from, end - from));
    if (c.size() >= 2 && c.front() == '"' && c.back() == '"') c = c.substr(1, c.size() - 2);
    cells.emplace_back(c);
    from = end + 1;
  }
  return cells;
}

}  // namespace

bool looksLikeSkyline(std::string_view head) {
  std::string text = decodeToUtf8(head);
  size_t start = text.find_first_not_of("\r\n");
  if (start == std::string::npos) return false;
  size_t end = std::min(text.find_first_of("\r\n", start), text.size());
  std::string_view line(text.data() + start, end - start);
  HeaderIndex h(headerCells(line, detectDelimiter(line)));
  return h.find(kReplicate) != 0 && h.find(kMolecule) != 0;
}

ExportFormatInfo skylineFormat() {
  return delimitedFormatInfo<SkylineParse>(
      "skyline",
      "Skyline report CSV (one row per molecule, replicate and transition; comma or the "
      "culture's list separator)",
      looksLikeSkyline);
}

}  // namespace labgate::csv
