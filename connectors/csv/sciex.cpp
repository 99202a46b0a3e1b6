// SCIEX MultiQuant / Analyst / SCIEX OS results exported as tab-delimited text: one row per
// (sample, component), columns named by the software (MultiQuant and Analyst name them
// differently), a header line that Analyst may precede with metadata lines.
//
// A calibrator row whose "Used" (MultiQuant) or "Use Record" (Analyst) says no was left out of the
// curve by the analyst: Peak::excludedFromCurve. Run order: the results table can be sorted before
// it is exported, so the rows are not taken to be in injection order (listedInRunOrder stays
// false); the rules order the batch by "Acquisition Date" where the export has it.
#include "connectors/csv/sciex.h"

#include <algorithm>
#include <initializer_list>
#include <map>
#include <set>

#include "connectors/csv/common.h"
#include "connectors/csv/formats.h"
#include "util/flags.h"

namespace labgate::csv {

namespace {

constexpr const char* kSender = "SCIEX MultiQuant/Analyst";

/// Column positions (1-based, 0 = not in this export), resolved from the header by name.
struct Columns {
  size_t sampleName = 0, sampleId = 0, sampleType = 0, component = 0, expectedConc = 0,
         calculatedConc = 0, units = 0, accuracy = 0, area = 0, height = 0, isName = 0, isArea = 0,
         rt = 0, expectedRt = 0, isRt = 0, width = 0, signalToNoise = 0, asymmetry = 0,
         ionRatio = 0, areaRatio = 0, integrationType = 0, modified = 0, isFlag = 0, dilution = 0,
         vial = 0, acquired = 0, fileName = 0, used = 0;

  void resolve(const HeaderIndex& h) {
    sampleName = h.find({"Sample Name"});
    sampleId = h.find({"Sample ID"});
    sampleType = h.find({"Sample Type"});
    component = h.find({"Component Name", "Analyte Peak Name"});
    expectedConc = h.find({"Actual Concentration", "Analyte Concentration"});
    calculatedConc = h.find({"Calculated Concentration"});
    units = h.find({"Concentration Units", "Analyte Units", "Units"});
    accuracy = h.find({"Accuracy"});
    area = h.find({"Area", "Analyte Peak Area"});
    height = h.find({"Height", "Analyte Peak Height"});
    isName = h.find({"IS Name", "IS Peak Name"});
    isArea = h.find({"IS Area", "IS Peak Area"});
    rt = h.find({"Retention Time", "Analyte Retention Time"});
    expectedRt = h.find({"Expected RT", "Analyte Expected RT"});
    isRt = h.find({"IS Retention Time"});
    width = h.find({"Width at 50%", "Analyte Peak Width at 50% Height"});
    signalToNoise = h.find({"Signal / Noise", "Analyte Signal To Noise", "Signal/Noise"});
    asymmetry = h.find({"Analyte Peak Asymmetry", "Asymmetry Factor"});
    ionRatio = h.find({"Ion Ratio"});
    areaRatio = h.find({"Area Ratio"});
    integrationType = h.find({"Analyte Integration Type"});
    modified = h.find({"Record Modified", "Modified"});
    isFlag = h.find({"IS"});
    dilution = h.find({"Dilution Factor"});
    vial = h.find({"Vial Position"});
    acquired = h.find({"Acquisition Date"});
    fileName = h.find({"File Name"});
    used = h.find({"Used", "Use Record"});
  }
};

bool isHeader(const Record& record) {
  HeaderIndex h(record);
  return h.find({"Sample Name"}) != 0 && h.find({"Component Name", "Analyte Peak Name"}) != 0;
}

class SciexParse : public DelimitedParse {
 public:
  SciexParse(std::istream& in, const DelimitedSettings& settings)
      : DelimitedParse(in, settings, '\t') {}

  StatusOr<Message> finish() override {
    if (headerWidth_ == 0) {
      return Status::invalid("line 1",
                             "no header line with Sample Name and Component Name (or Analyte Peak "
                             "Name): not a SCIEX results export");
    }
    if (samples_.empty()) {
      return Status::invalid("line " + std::to_string(headerLine_), "no sample rows");
    }
    // A component that another row names as its internal standard is an internal standard.
    for (Sample& s : samples_) {
      for (Result& r : s.results) {
        if (isNames_.count(r.instrumentCode)) r.internalStandard = true;
      }
    }
    Message m;
    m.sender = kSender;
    m.samples = std::move(samples_);
    m.listedInRunOrder = false;  // a sortable results table: see the top of this file
    return m;
  }

 protected:
  Status interpret(const Record& record) override {
    if (headerWidth_ == 0) {
      // Analyst may write metadata lines before the header: they are screened, then skipped.
      if (isHeader(record)) takeHeader(record);
      return Status::ok();
    }
    size_t width = record.fields.empty() ? 0 : record.fields.size() - 1;
    if (width == 0) return Status::ok();
    std::string where = "line " + std::to_string(record.line);
    if (Status fits = checkRowWidth(record, headerWidth_, where); !fits.isOk()) return fits;
    std::string name = trimmed(record, col_.sampleName);
    std::string component = trimmed(record, col_.component);
    if (name.empty() && component.empty()) return Status::ok();
    if (name.empty()) return Status::invalid(where, "row without a Sample Name");
    if (component.empty()) return Status::invalid(where, "row without a component name");
    observeDecimals(record);
    Sample& sample = sampleFor(record, name, where);
    sample.results.push_back(resultFrom(record, component, where));
    if (col_.used && sample.kind == SampleKind::kCalibrator &&
        util::flagWord(cell(record, col_.used)) == false &&
        !trim(cell(record, col_.used)).empty()) {
      sample.results.back().peak->excludedFromCurve = true;  // "Used" False: not in the curve
    }
    return Status::ok();
  }

 private:
  void takeHeader(const Record& record) {
    HeaderIndex h(record);
    col_.resolve(h);
    headerWidth_ = h.size();
    headerLine_ = record.line;
    std::vector<std::string> names;
    for (size_t i = 1; i < record.fields.size(); ++i) {
      names.emplace_back(trim(record.fields[i].raw()));
    }
    setHeader(std::move(names));
  }

  Sample& sampleFor(const Record& record, const std::string& name, const std::string& where) {
    std::string key = name + '\x1f' + trimmed(record, col_.sampleId);
    auto [it, added] = index_.emplace(key, samples_.size());
    if (!added) return samples_[it->second];
    Sample s;
    s.sampleId = name;
    s.location = where;
    s.kind =
        sampleKindFromVendor(trim(cell(record, col_.sampleType))).value_or(SampleKind::kUnknown);
    s.dilution = number(cell(record, col_.dilution));
    s.position = trimmed(record, col_.vial);
    s.dataFile = trimmed(record, col_.fileName);
    if (col_.acquired) {
      s.acquiredAt =
          parseDateTime(trim(cell(record, col_.acquired)), settings().dateOrder).value_or("");
    }
    samples_.push_back(std::move(s));
    return samples_.back();
  }

  Result resultFrom(const Record& record, const std::string& component, const std::string& where) {
    Result r;
    r.instrumentCode = component;
    r.location = where;
    r.units = trimmed(record, col_.units);
    Peak p;
    if (col_.calculatedConc) {
      r.value = trimmed(record, col_.calculatedConc);  // "degenerate", "< 0", "No Peak" kept
      r.numeric = number(r.value);
      p.calculatedConcentration = r.numeric;
    }
    p.expectedConcentration = number(cell(record, col_.expectedConc));
    p.accuracy = number(cell(record, col_.accuracy));
    p.area = number(cell(record, col_.area));
    p.height = number(cell(record, col_.height));
    p.internalStandard = trimmed(record, col_.isName);
    if (isMissingToken(p.internalStandard)) p.internalStandard.clear();  // an IS row: "N/A"
    p.internalStandardArea = number(cell(record, col_.isArea));
    p.retentionTime = number(cell(record, col_.rt));
    p.expectedRetentionTime = number(cell(record, col_.expectedRt));
    p.internalStandardRt = number(cell(record, col_.isRt));
    p.width = number(cell(record, col_.width));
    p.signalToNoise = number(cell(record, col_.signalToNoise));
    p.asymmetry = number(cell(record, col_.asymmetry));
    p.ionRatio = number(cell(record, col_.ionRatio));
    p.responseRatio = number(cell(record, col_.areaRatio));
    std::string integration = normalizeName(trim(cell(record, col_.integrationType)));
    p.manualIntegration = integration.find("manual") != std::string::npos ||
                          util::saysYes(cell(record, col_.modified));
    if (!p.internalStandard.empty()) isNames_.insert(p.internalStandard);
    if (col_.isFlag && util::saysYes(cell(record, col_.isFlag))) r.internalStandard = true;
    r.peak = std::move(p);
    return r;
  }

  Columns col_;
  size_t headerWidth_ = 0;
  int headerLine_ = 0;
  std::vector<Sample> samples_;
  std::map<std::string, size_t> index_;  // Sample Name + Sample ID -> samples_ position
  std::set<std::string> isNames_;
};

}  // namespace

bool looksLikeSciex(std::string_view head) {
  std::string text = decodeToUtf8(head);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find_first_of("\r\n", start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    if (line.find('\t') == std::string_view::npos) continue;
    bool sampleName = false, component = false;
    size_t from = 0;
    while (from <= line.size()) {
      size_t tab = std::min(line.find('\t', from), line.size());
      std::string name = normalizeName(trim(line.substr(from, tab - from)));
      if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
        name = name.substr(1, name.size() - 2);
      }
      sampleName = sampleName || name == "sample name";
      component = component || name == "component name" || name == "analyte peak name";
      from = tab + 1;
    }
    if (sampleName && component) return true;
  }
  return false;
}

ExportFormatInfo sciexFormat() {
  return delimitedFormatInfo<SciexParse>(
      "sciex",
      "SCIEX MultiQuant / Analyst / SCIEX OS results table, tab-delimited text (one row per "
      "sample and component)",
      looksLikeSciex);
}

}  // namespace labgate::csv
