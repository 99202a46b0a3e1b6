// Waters TargetLynx (MassLynx) "Quantify Compound Summary Report" and "Quantify Sample Summary
// Report" text: a title, a "Printed <date>" line, then blocks. A compound block is
// "Compound N:  <name>" and a table of samples; a sample block is "Sample Name: <name>  Sample ID:"
// and a table of compounds. Each block has its own header line (starting with a tab), so the
// column names are set again for every block.
//
// Run order: a compound block lists its samples sorted by name, not in the order they were
// injected (p2m2tools_SortieMassLynxCompoundToutesColonnes.txt lists sample-list rows 3, 4, 1, 2,
// whose Acq.Time says 1, 2, 3, 4 is the run order). Its first, unnamed column (repeated as "#"
// where the report shows that column) is the sample's row in the MassLynx sample list, the order
// in which the samples were acquired: it is Sample::injection, and Message::listedInRunOrder
// stays false. In a sample block that first column and "#" number the compounds, not injections.
//
// Levels: the report has no Level column; a calibrator's or QC's "Sample Text" names its level
// ("Cal 3", "QC 2": msparser_TRY_..., where QC 1-4 are four nominal concentrations) and becomes
// Sample::level. A patient's Sample Text (a study code) is never read.
//
// Flags: "Primary Flags" holds the integration code ("bb", "bd", "MM"), the analyst's calibrator
// exclusion "X" and other flags, taken apart by splitTargetLynxFlags() (engine/net). The QC flag
// columns of an "all columns" report ("Peak Missing Flag", "R.T. Tolerance Flag", "Asymmetry
// Flagged", "1º Ratio Flag", ...) that say yes are flags too ("peak-missing-flag=YES"); "NO" or
// empty is none. "Det. Flags" (a trace's integration code) and "Dev. Flagging Required" (a
// method setting) are not flags.
#include "connectors/csv/targetlynx_txt.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <initializer_list>
#include <map>
#include <set>

#include "connectors/csv/common.h"
#include "connectors/csv/formats.h"
#include "connectors/csv/tasq.h"
#include "util/flags.h"

namespace labgate::csv {

namespace {

constexpr const char* kSender = "Waters TargetLynx";
constexpr std::string_view kCompoundReport = "Quantify Compound Summary Report";
constexpr std::string_view kSampleReport = "Quantify Sample Summary Report";

struct Columns {
  size_t injection = 0, name = 0, sampleText = 0, type = 0, dev = 0, flags = 0, conc = 0,
         stdConc = 0, rt = 0, predRt = 0, area = 0, height = 0, isArea = 0, isRt = 0, response = 0,
         signalToNoise = 0, qualifierArea = 0, qualifierRatio = 0, width = 0, vial = 0, acqDate = 0,
         acqTime = 0;

  void resolve(const HeaderIndex& h) {
    injection = h.find({"#"});
    name = h.find({"Name"});
    sampleText = h.find({"Sample Text"});
    type = h.find({"Type"});
    dev = h.find({"%Dev"});
    flags = h.find({"Primary Flags", "Detection Flags", "1º Det. Flags"});
    conc = h.find({"Conc."});
    stdConc = h.find({"Std. Conc"});
    rt = h.find({"RT"});
    predRt = h.find({"Pred.RT"});
    area = h.find({"Area", "1º Area"});
    height = h.find({"Height", "Ht", "1º Ht", "1º Height"});
    isArea = h.find({"IS Area"});
    isRt = h.find({"IS RT"});
    response = h.find({"Response"});
    signalToNoise = h.find({"S/N", "Sig/Noise", "1º S/N", "1º Sig/Noise"});
    qualifierArea = h.find({"2º Area"});
    qualifierRatio = h.find({"2º Ratio (Actual)"});
    width = h.find({"Pk Width"});
    vial = h.find({"Vial"});
    acqDate = h.find({"Acq.Date"});
    acqTime = h.find({"Acq.Time"});
  }
};

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

/// "07-Jan-20" and "15:05:51" (MassLynx's own format) as "2020-01-07T15:05:51".
std::optional<std::string> acquisitionTime(std::string_view date, std::string_view time) {
  date = trim(date);
  time = trim(time);
  static const std::array<std::string_view, 12> kMonths = {
      "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  size_t a = date.find('-'), b = date.rfind('-');
  if (a == std::string_view::npos || a == b) return parseDateTime(date, DateOrder::kAuto);
  std::string month = normalizeName(date.substr(a + 1, b - a - 1));
  auto it = std::find(kMonths.begin(), kMonths.end(), month);
  if (it == kMonths.end()) return parseDateTime(date, DateOrder::kAuto);
  std::string dmy = std::string(date.substr(0, a)) + "-" +
                    std::to_string(it - kMonths.begin() + 1) + "-" +
                    std::string(date.substr(b + 1));
  if (!time.empty()) dmy += " " + std::string(time);
  return parseDateTime(dmy, DateOrder::kDmy);
}

class TargetLynxParse : public DelimitedParse {
 public:
  TargetLynxParse(std::istream& in, const DelimitedSettings& settings)
      : DelimitedParse(in, settings, '\t') {}

  StatusOr<Message> finish() override {
    if (!sawTitle_) {
      return Status::invalid("line 1", "no Quantify Compound or Sample Summary Report title");
    }
    if (samples_.empty()) return Status::invalid("line 1", "no sample rows");
    markInternalStandards();
    Message m;
    m.sender = kSender;
    m.sentAt = printed_;
    m.samples = std::move(samples_);
    m.listedInRunOrder = false;  // sorted by sample name: see the top of this file
    return m;
  }

 protected:
  Status interpret(const Record& record) override {
    size_t width = record.fields.empty() ? 0 : record.fields.size() - 1;
    std::string where = "line " + std::to_string(record.line);
    std::string_view first = trim(cell(record, 1));
    if (width == 0 || (width == 1 && first.empty())) return Status::ok();
    if (width == 1 || (width > 1 && !first.empty() && blankAfterFirst(record))) {
      return titleLine(first, where);
    }
    if (first.empty()) return takeHeader(record, where);
    if (headerWidth_ == 0) {
      return Status::invalid(where, "data row outside a compound or sample block with a header");
    }
    // Only a short row is refused here: trailing cells past a block header are not checked.
    if (Status fits = checkRowWidth(record, headerWidth_, where, true); !fits.isOk()) return fits;
    bool byCompound = block_ == Block::kCompound;
    std::string sampleName = byCompound ? trimmed(record, col_.name) : blockName_;
    std::string compound = byCompound ? blockName_ : trimmed(record, col_.name);
    if (sampleName.empty()) return Status::invalid(where, "row without a sample name");
    if (compound.empty()) return Status::invalid(where, "row without a compound name");
    observeDecimals(record);
    Sample& sample = sampleFor(record, sampleName, where);
    sample.results.push_back(resultFrom(record, compound, where, sample.kind));
    return Status::ok();
  }

 private:
  enum class Block { kNone, kCompound, kSample };

  static bool blankAfterFirst(const Record& record) {
    for (size_t i = 2; i < record.fields.size(); ++i) {
      if (!trim(record.fields[i].raw()).empty()) return false;
    }
    return true;
  }

  /// A line with one cell: the report title, "Printed ...", or a block title.
  Status titleLine(std::string_view text, const std::string& where) {
    if (startsWith(text, kCompoundReport) || startsWith(text, kSampleReport)) {
      sawTitle_ = true;
      return Status::ok();
    }
    if (startsWith(text, "Printed ")) {
      printed_ = parseWeekdayDateTime(text.substr(8)).value_or("");
      return Status::ok();
    }
    if (startsWith(text, "Compound ")) {
      size_t colon = text.find(':');
      if (colon == std::string_view::npos)
        return Status::invalid(where, "compound title without ':'");
      return openBlock(Block::kCompound, std::string(trim(text.substr(colon + 1))), where);
    }
    if (startsWith(text, "Sample Name:")) {
      std::string_view rest = text.substr(12);
      size_t id = rest.rfind("Sample ID:");
      return openBlock(Block::kSample, std::string(trim(rest.substr(0, id))), where);
    }
    if (headerWidth_ != 0) {
      return Status::invalid(where, "a line that is neither a block title nor a table row");
    }
    return Status::ok();  // other lines of the report's title part
  }

  Status openBlock(Block block, std::string name, const std::string& where) {
    if (name.empty()) return Status::invalid(where, "block title without a name");
    if (!sawTitle_) return Status::invalid(where, "block before the report title");
    block_ = block;
    blockName_ = std::move(name);
    headerWidth_ = 0;
    setHeader({});  // the block's header line is screened without the previous block's names
    return Status::ok();
  }

  Status takeHeader(const Record& record, const std::string& where) {
    if (block_ == Block::kNone) return Status::invalid(where, "a header line before any block");
    std::vector<std::string> names;
    for (size_t i = 1; i < record.fields.size(); ++i)
      names.emplace_back(trim(record.fields[i].raw()));
    HeaderIndex h(names);
    col_.resolve(h);
    if (col_.name == 0) return Status::invalid(where, "block header without a Name column");
    // The sample-list row: "#" or, where the report does not show that column, the unnamed first
    // one. Only a compound block's rows are samples; a sample block's rows are compounds.
    if (block_ != Block::kCompound) {
      col_.injection = 0;
    } else if (col_.injection == 0 && !names.empty() && names.front().empty()) {
      col_.injection = 1;
    }
    flagColumns_.clear();
    for (size_t i = 0; i < names.size(); ++i) {
      std::string n = normalizeName(names[i]);
      if (n.find("flag") == std::string::npos || n.find("det. flags") != std::string::npos ||
          n == "primary flags" || n == "detection flags" || n == "dev. flagging required") {
        continue;
      }
      flagColumns_.emplace_back(i + 1, flagLabel(n));
    }
    headerWidth_ = h.size();
    setHeader(std::move(names));
    return Status::ok();
  }

  Sample& sampleFor(const Record& record, const std::string& name, const std::string& where) {
    auto [it, added] = index_.emplace(name, samples_.size());
    if (!added) return samples_[it->second];
    Sample s;
    s.sampleId = name;
    s.location = where;
    s.kind = sampleKindFromVendor(trim(cell(record, col_.type))).value_or(SampleKind::kUnknown);
    s.position = trimmed(record, col_.vial);
    if (col_.injection) s.injection = parseInjectionNumber(cell(record, col_.injection));
    if (col_.sampleText && (s.kind == SampleKind::kCalibrator || s.kind == SampleKind::kQc)) {
      s.level = trimmed(record, col_.sampleText);
    }
    if (col_.acqDate) {
      s.acquiredAt =
          acquisitionTime(cell(record, col_.acqDate), cell(record, col_.acqTime)).value_or("");
    }
    samples_.push_back(std::move(s));
    return samples_.back();
  }

  Result resultFrom(const Record& record, const std::string& compound, const std::string& where,
                    SampleKind kind) {
    Result r;
    r.instrumentCode = compound;
    r.location = where;
    Peak p;
    if (col_.conc) {
      r.value = trimmed(record, col_.conc);
      r.numeric = number(r.value);
      p.calculatedConcentration = r.numeric;
    }
    p.expectedConcentration = number(cell(record, col_.stdConc));
    if (std::optional<double> dev = number(cell(record, col_.dev))) p.accuracy = 100.0 + *dev;
    TargetLynxFlags flags =
        splitTargetLynxFlags(cell(record, col_.flags), kind == SampleKind::kCalibrator);
    p.integrationCode = std::move(flags.integrationCode);
    p.manualIntegration = flags.manual;  // "MM"
    p.excludedFromCurve = flags.excludedFromCurve;
    p.vendorFlags = std::move(flags.flags);
    for (const auto& [column, label] : flagColumns_) {
      std::string value = trimmed(record, column);
      // NO or empty: none; YES or a word we do not know: raised (fail closed).
      if (!util::flagWord(value).value_or(true)) continue;
      if (!p.vendorFlags.empty()) p.vendorFlags += ' ';
      p.vendorFlags.append(label).append("=").append(value);
    }
    p.retentionTime = number(cell(record, col_.rt));
    p.expectedRetentionTime = number(cell(record, col_.predRt));
    p.area = number(cell(record, col_.area));
    p.height = number(cell(record, col_.height));
    p.internalStandardArea = number(cell(record, col_.isArea));
    p.internalStandardRt = number(cell(record, col_.isRt));
    // Response is area/IS area (times the IS amount) only when an internal standard is used.
    if (p.internalStandardArea) p.responseRatio = number(cell(record, col_.response));
    p.signalToNoise = number(cell(record, col_.signalToNoise));
    p.qualifierArea = number(cell(record, col_.qualifierArea));
    p.ionRatio = number(cell(record, col_.qualifierRatio));
    p.width = number(cell(record, col_.width));
    r.peak = std::move(p);
    return r;
  }

  /// The text report does not say which compounds are internal standards. A compound is one when
  /// it has no IS Area of its own and, in most samples where it has a peak, its area is the IS
  /// Area another compound of the same sample reports; that compound's IS is then named.
  void markInternalStandards() {
    std::map<std::string, int> withPeak, matched;
    std::set<std::string> hasOwnIs;
    auto areaOf = [](const Result& r) { return r.peak ? r.peak->area : std::nullopt; };
    for (const Sample& s : samples_) {
      std::set<double> isAreas;
      for (const Result& r : s.results) {
        if (r.peak && r.peak->internalStandardArea) {
          isAreas.insert(*r.peak->internalStandardArea);
          hasOwnIs.insert(r.instrumentCode);
        }
      }
      for (const Result& r : s.results) {
        std::optional<double> a = areaOf(r);
        if (!a || (r.peak && r.peak->internalStandardArea)) continue;
        ++withPeak[r.instrumentCode];
        if (isAreas.count(*a)) ++matched[r.instrumentCode];
      }
    }
    std::set<std::string> standards;
    for (const auto& [code, n] : withPeak) {
      if (!hasOwnIs.count(code) && 2 * matched[code] > n) standards.insert(code);
    }
    if (standards.empty()) return;
    for (Sample& s : samples_) {
      for (Result& r : s.results) {
        if (standards.count(r.instrumentCode)) r.internalStandard = true;
      }
      for (Result& r : s.results) {
        if (!r.peak || !r.peak->internalStandardArea) continue;
        for (const Result& is : s.results) {
          if (is.internalStandard && areaOf(is) == r.peak->internalStandardArea) {
            r.peak->internalStandard = is.instrumentCode;
            break;
          }
        }
      }
    }
  }

  /// "1º Ratio Flag" as one flag token: "1-ratio-flag" (letters and digits, '-' between words).
  static std::string flagLabel(const std::string& normalised) {
    std::string out;
    for (char c : normalised) {
      if (std::isalnum(static_cast<unsigned char>(c))) {
        out.push_back(c);
      } else if (!out.empty() && out.back() != '-') {
        out.push_back('-');
      }
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out;
  }

  Columns col_;
  std::vector<std::pair<size_t, std::string>> flagColumns_;  // QC flag columns: column, label
  size_t headerWidth_ = 0;
  bool sawTitle_ = false;
  std::string printed_;
  Block block_ = Block::kNone;
  std::string blockName_;
  std::vector<Sample> samples_;
  std::map<std::string, size_t> index_;  // sample name -> samples_ position
};

}  // namespace

bool looksLikeTargetLynxTxt(std::string_view head) {
  std::string text = decodeToUtf8(head.substr(0, 4096));
  size_t start = 0;
  for (int lines = 0; lines < 8 && start < text.size(); ++lines) {
    size_t end = std::min(text.find_first_of("\r\n", start), text.size());
    std::string_view line = trim(std::string_view(text).substr(start, end - start));
    if (startsWith(line, kCompoundReport) || startsWith(line, kSampleReport)) return true;
    if (!line.empty()) return false;  // the title is the first non-blank line
    start = end + 1;
  }
  return false;
}

ExportFormatInfo targetlynxTxtFormat() {
  return delimitedFormatInfo<TargetLynxParse>(
      "targetlynx-txt",
      "Waters TargetLynx Quantify Compound (or Sample) Summary Report, tab-separated text",
      looksLikeTargetLynxTxt);
}

}  // namespace labgate::csv
