// Bruker TASQ results exported as quoted tab-separated text: a header of about 150 columns, then
// one row per (analysis, analyte). Columns are mapped by name; internal standards are rows too.
// Run order: nothing says the rows are in injection order (listedInRunOrder stays false); the
// rules order the batch by "Acquisition Date". The export states its curve only as an equation
// ("0.03506x - 0.01464"), with no model or weighting words: no Message::curves.
#include "connectors/csv/tasq.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <initializer_list>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "connectors/csv/common.h"
#include "connectors/csv/formats.h"
#include "util/flags.h"

namespace labgate::csv {

namespace {

constexpr const char* kSender = "Bruker TASQ";

struct Columns {
  size_t analysis = 0, analysisPath = 0, analyte = 0, sampleType = 0, acquired = 0, area = 0,
         height = 0, rt = 0, expectedRt = 0, quantity = 0, expectedQuantity = 0, units = 0,
         accuracy = 0, isName = 0, isArea = 0, isRt = 0, signalToNoise = 0, manual = 0, status = 0,
         fwhmSeconds = 0, relativeArea = 0, quantifierArea = 0, qualifierArea = 0, ionRatio = 0,
         injectionVolume = 0;
  // Flag columns whose non-empty value goes into Peak::vendorFlags, with a short label.
  std::vector<std::pair<size_t, std::string>> flags;

  void resolve(const HeaderIndex& h) {
    analysis = h.find({"AnalysisName"});
    analysisPath = h.find({"AnalysisPath"});
    analyte = h.find({"AnalyteName"});
    sampleType = h.find({"SampleType"});
    acquired = h.find({"Acquisition Date"});
    area = h.find({"Area"});
    height = h.find({"Height"});
    rt = h.find({"Retention Time[min]", "Retention Time"});
    expectedRt = h.find({"Expected Retention Time[min]", "Expected Retention Time"});
    quantity = h.find({"Quantity"});
    expectedQuantity = h.find({"Expected Quantity"});
    units = h.find({"Unit of Quantity"});
    accuracy = h.find({"Accuracy/Recovery[%]", "Accuracy/Recovery"});
    isName = h.find({"Internal Standard(ISTD)", "Internal Standard"});
    isArea = h.find({"ISTD Area"});
    isRt = h.find({"Internal Standard Retention Time[min]"});
    signalToNoise = h.find({"Signal/Noise", "S/N"});
    manual = h.find({"Manually Integrated"});
    status = h.find({"Compound Status", "Status"});
    fwhmSeconds = h.find({"Full Width Half Maximum Chromatographic Peak [s]"});
    relativeArea = h.find({"relative Area"});
    quantifierArea = h.find({"Q0 Area"});
    qualifierArea = h.find({"Q1 Area"});
    ionRatio = h.find({"Ion Ratio Q1"});
    injectionVolume = h.find({"Injection Volume"});
    flags.clear();
    const std::array<std::pair<std::string_view, std::string_view>, 5> kFlags = {{
        {"Quantity below lowest calibration level", "below-lowest-cal"},
        {"Quantity above highest calibration level", "above-highest-cal"},
        {"Reporting Limit Exceeded", "reporting-limit-exceeded"},
        {"UserFlag", "user"},
        {"Marked", "marked"},
    }};
    for (const auto& [name, label] : kFlags) {
      if (size_t c = h.find({name})) flags.emplace_back(c, std::string(label));
    }
  }
};

/// TASQ writes "no", "false" and "0" into flag columns that are not set.
bool flagSet(std::string_view text) {
  std::string v = normalizeName(trim(text));
  return !v.empty() && v != "no" && v != "false" && v != "0" && v != "-";
}

SampleKind kindOf(std::string_view type) {
  std::string t = normalizeName(trim(type));
  if (t == "calibrant") return SampleKind::kCalibrator;
  return sampleKindFromVendor(t).value_or(SampleKind::kUnknown);
}

/// "CA-d4 [IS]" -> "CA-d4": the name other rows give in their ISTD column.
std::string withoutIsSuffix(std::string_view name) {
  name = trim(name);
  for (std::string_view suffix : {"[IS]", "[ISTD]", "(ISTD)", "(IS)"}) {
    if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
      return std::string(trim(name.substr(0, name.size() - suffix.size())));
    }
  }
  return std::string(name);
}

bool hasIsSuffix(std::string_view name) { return withoutIsSuffix(name) != trim(name); }

class TasqParse : public DelimitedParse {
 public:
  TasqParse(std::istream& in, const DelimitedSettings& settings)
      : DelimitedParse(in, settings, '\t') {}

  StatusOr<Message> finish() override {
    if (headerWidth_ == 0) {
      return Status::invalid("line 1", "no header with AnalysisName and AnalyteName");
    }
    if (samples_.empty()) return Status::invalid("line 2", "no sample rows");
    for (Sample& s : samples_) {
      for (Result& r : s.results) {
        if (hasIsSuffix(r.instrumentCode) || isNames_.count(withoutIsSuffix(r.instrumentCode))) {
          r.internalStandard = true;
        }
      }
    }
    Message m;
    m.sender = kSender;
    m.samples = std::move(samples_);
    m.listedInRunOrder = false;  // see the top of this file
    return m;
  }

 protected:
  Status interpret(const Record& record) override {
    size_t width = record.fields.empty() ? 0 : record.fields.size() - 1;
    if (width == 0) return Status::ok();
    std::string where = "line " + std::to_string(record.line);
    if (headerWidth_ == 0) return takeHeader(record, where);
    if (Status fits = checkRowWidth(record, headerWidth_, where); !fits.isOk()) return fits;
    std::string analysis = trimmed(record, col_.analysis);
    std::string analyte = trimmed(record, col_.analyte);
    if (analysis.empty()) return Status::invalid(where, "row without an AnalysisName");
    if (analyte.empty()) return Status::invalid(where, "row without an AnalyteName");
    observeDecimals(record);
    Sample& sample = sampleFor(record, analysis, where);
    sample.results.push_back(resultFrom(record, analyte, where));
    return Status::ok();
  }

 private:
  Status takeHeader(const Record& record, const std::string& where) {
    HeaderIndex h(record);
    col_.resolve(h);
    if (col_.analysis == 0 || col_.analyte == 0) {
      return Status::invalid(where,
                             "the first line is not a header with AnalysisName and "
                             "AnalyteName");
    }
    headerWidth_ = h.size();
    std::vector<std::string> names;
    for (size_t i = 1; i < record.fields.size(); ++i)
      names.emplace_back(trim(record.fields[i].raw()));
    setHeader(std::move(names));
    return Status::ok();
  }

  Sample& sampleFor(const Record& record, const std::string& analysis, const std::string& where) {
    auto [it, added] = index_.emplace(analysis, samples_.size());
    if (!added) return samples_[it->second];
    Sample s;
    s.sampleId = analysis;
    s.location = where;
    s.kind = kindOf(cell(record, col_.sampleType));
    s.dataFile = trimmed(record, col_.analysisPath);
    s.acquiredAt = parseWeekdayDateTime(cell(record, col_.acquired)).value_or("");
    samples_.push_back(std::move(s));
    return samples_.back();
  }

  Result resultFrom(const Record& record, const std::string& analyte, const std::string& where) {
    Result r;
    r.instrumentCode = analyte;
    r.location = where;
    r.value = trimmed(record, col_.quantity);
    r.numeric = number(r.value);
    r.units = trimmed(record, col_.units);
    Peak p;
    p.calculatedConcentration = r.numeric;
    p.expectedConcentration = number(cell(record, col_.expectedQuantity));
    p.accuracy = number(cell(record, col_.accuracy));
    p.area = number(cell(record, col_.area));
    p.height = number(cell(record, col_.height));
    p.retentionTime = number(cell(record, col_.rt));
    p.expectedRetentionTime = number(cell(record, col_.expectedRt));
    p.internalStandard = trimmed(record, col_.isName);
    p.internalStandardArea = number(cell(record, col_.isArea));
    p.internalStandardRt = number(cell(record, col_.isRt));
    p.signalToNoise = number(cell(record, col_.signalToNoise));
    p.responseRatio = number(cell(record, col_.relativeArea));
    p.quantifierArea = number(cell(record, col_.quantifierArea));
    p.qualifierArea = number(cell(record, col_.qualifierArea));
    p.ionRatio = number(cell(record, col_.ionRatio));
    if (std::optional<double> fwhm = number(cell(record, col_.fwhmSeconds))) {
      p.width = *fwhm / 60.0;  // TASQ gives seconds; widths are in minutes like retention times
    }
    p.manualIntegration = util::saysYes(cell(record, col_.manual)) ||
                          normalizeName(trim(cell(record, col_.status))) == "manuallyintegrated";
    for (const auto& [column, label] : col_.flags) {
      std::string_view v = trim(cell(record, column));
      if (!flagSet(v)) continue;
      if (!p.vendorFlags.empty()) p.vendorFlags += ';';
      p.vendorFlags += label + "=" + std::string(v);
    }
    if (!p.internalStandard.empty()) isNames_.insert(withoutIsSuffix(p.internalStandard));
    r.peak = std::move(p);
    return r;
  }

  Columns col_;
  size_t headerWidth_ = 0;
  std::vector<Sample> samples_;
  std::map<std::string, size_t> index_;  // AnalysisName -> samples_ position
  std::set<std::string> isNames_;
};

}  // namespace

bool looksLikeTasq(std::string_view head) {
  std::string text = decodeToUtf8(head);
  size_t start = text.find_first_not_of("\r\n");
  if (start == std::string::npos) return false;
  size_t end = std::min(text.find_first_of("\r\n", start), text.size());
  std::string_view line(text.data() + start, end - start);
  if (line.find('\t') == std::string_view::npos) return false;
  bool analysis = false, analyte = false;
  size_t from = 0;
  while (from <= line.size()) {
    size_t tab = std::min(line.find('\t', from), line.size());
    std::string_view name = trim(line.substr(from, tab - from));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
    }
    analysis = analysis || name == "AnalysisName";
    analyte = analyte || name == "AnalyteName";
    from = tab + 1;
  }
  return analysis && analyte;
}

std::optional<std::string> parseWeekdayDateTime(std::string_view text) {
  std::istringstream in{std::string(trim(text))};
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  if (words.size() != 5 && words.size() != 6) return std::nullopt;
  static const std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto month = std::find(kMonths.begin(), kMonths.end(), words[1]);
  if (month == kMonths.end()) return std::nullopt;
  const std::string& year = words.back();
  if (year.size() != 4) return std::nullopt;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%02d-%s %s", year.c_str(),
                static_cast<int>(month - kMonths.begin()) + 1, words[2].c_str(), words[3].c_str());
  return parseDateTime(buf, DateOrder::kYmd);
}

ExportFormatInfo tasqFormat() {
  return delimitedFormatInfo<TasqParse>(
      "tasq", "Bruker TASQ results, quoted tab-separated text (one row per analysis and analyte)",
      looksLikeTasq);
}

}  // namespace labgate::csv
