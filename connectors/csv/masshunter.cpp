// Agilent MassHunter Quantitative Analysis CSV, both layouts. Columns are found by their
// (group, column) names, never by position: the lab chooses which columns the batch table shows.
//
// Wide form: row 1 holds the groups ("Sample", "<compound> Method", "<compound> Results",
// "Qualifier (a -> b) Method|Results"; an empty cell continues the group on its left), row 2 the
// column names, then one row per injection. Message-only rows ("!", "<compound>: text") belong to
// the injection below them.
//
// Compound-table form: row 1 starts "Compound Method" and names a sample over each group of
// columns, row 2 the column names, then one row per compound. The samples are complete only after
// the last row, so the results (not the text) are kept until finish().
//
// Outlier marks and quantitation messages apply per compound: a message "<compound>: text" (on a
// message-only row above the injection, or in the row's own message column) is that compound's
// comment, and the "!" on its row is that compound's vendor flag. The row's outlier summary "!"
// (column 1 of a data row, as in mrmhub_9_..., mrmhub_MHQuant_demo.csv) names no compound: it is
// not a flag of any of them (each compound's own peak is judged by the rules), and a message that
// names no compound of the row is no result's comment or flag either.
//
// Concentrations: "Calc. Conc." -> calculatedConcentration, "Final Conc." -> finalConcentration;
// the reported value is the final one where the export has it, else the calculated one.
// The curve the lab fitted ("Curve Fit", "Curve Fit Weight", "Curve Fit Origin" in a compound's
// Method group) -> Message::curves, as written.
//
// Run order: the batch table can be sorted in MassHunter before it is exported, so its rows are
// not taken to be in injection order (listedInRunOrder stays false); the rules order the batch by
// "Acq. Date-Time", which most exports carry. No corpus file has an injection-number column.
#include "connectors/csv/masshunter.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "connectors/csv/common.h"
#include "connectors/csv/formats.h"
#include "util/flags.h"

namespace labgate::csv {
namespace {

constexpr const char* kSender = "Agilent MassHunter Quantitative Analysis";

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string lineOf(int line) { return "line " + std::to_string(line); }

// Where each peak value of one compound is, as 1-based column numbers (0: not in the file).
struct PeakColumns {
  size_t rt = 0, expectedRt = 0, area = 0, height = 0, fwhm = 0, width = 0, calcConc = 0,
         finalConc = 0, expConc = 0, accuracy = 0, signalToNoise = 0, symmetry = 0, mi = 0,
         istdRatio = 0, qualifierRatio = 0, qualifierArea = 0, curveFit = 0, curveWeight = 0,
         curveOrigin = 0;
  int qualifiers = 0;  // qualifier groups seen for this compound (only the first is read)
};

// Assigns column `col` named `name` (normalised) of a compound's own group.
void assignCompoundColumn(PeakColumns& p, const std::string& name, bool methodGroup, size_t col) {
  auto set = [&](size_t& slot) {
    if (slot == 0) slot = col;
  };
  if (name == "rt") {
    set(methodGroup ? p.expectedRt : p.rt);
  } else if (name == "exp. rt" || name == "expected rt") {
    set(p.expectedRt);
  } else if (name == "area") {
    set(p.area);
  } else if (name == "height") {
    set(p.height);
  } else if (name == "fwhm") {
    set(p.fwhm);
  } else if (name == "width") {
    set(p.width);
  } else if (name == "calc. conc.") {
    set(p.calcConc);
  } else if (name == "final conc.") {
    set(p.finalConc);
  } else if (name == "exp. conc.") {
    set(p.expConc);
  } else if (name == "accuracy") {
    set(p.accuracy);
  } else if (name == "s/n") {
    set(p.signalToNoise);
  } else if (name == "symmetry") {
    set(p.symmetry);
  } else if (name == "mi") {
    set(p.mi);
  } else if (name == "istd resp. ratio") {
    set(p.istdRatio);
  } else if (name == "curve fit") {
    set(p.curveFit);
  } else if (name == "curve fit weight") {
    set(p.curveWeight);
  } else if (name == "curve fit origin") {
    set(p.curveOrigin);
  }
}

// A column of a "Qualifier (a -> b) Method|Results" group: only the first qualifier's numbers.
void assignQualifierColumn(PeakColumns& p, const std::string& name, bool methodGroup, size_t col) {
  if (p.qualifiers != 1 || methodGroup) return;
  if (name == "ratio" && p.qualifierRatio == 0) p.qualifierRatio = col;
  if (name == "area" && p.qualifierArea == 0) p.qualifierArea = col;
}

// The sample-information columns (1-based, 0: absent).
struct SampleColumns {
  size_t name = 0, dataFile = 0, type = 0, level = 0, acquired = 0, position = 0, vial = 0,
         dilution = 0, outlier = 0, message = 0;
};

// Returns true when `name` is a sample-information column and records it.
bool assignSampleColumn(SampleColumns& s, const std::string& name, size_t col) {
  auto set = [&](size_t& slot) {
    if (slot == 0) slot = col;
    return true;
  };
  if (name == "name" || name == "sample name") return set(s.name);
  if (name == "data file") return set(s.dataFile);
  if (name == "type" || name == "sample type") return set(s.type);
  if (name == "level") return set(s.level);
  if (name == "acq. date-time") return set(s.acquired);
  if (name == "pos.") return set(s.position);
  if (name == "vial") return set(s.vial);
  if (name == "dil.") return set(s.dilution);
  if (name == "quantitation message") return set(s.message);
  return false;
}

// A compound group: "<X> Results" or "<X> Method" -> X, with which suffix it had.
struct GroupName {
  std::string compound;
  bool method = false;
  bool qualifier = false;
  bool valid = false;
};

GroupName splitGroup(std::string_view group) {
  GroupName g;
  std::string_view t = trim(group);
  if (endsWith(t, " Results")) {
    t.remove_suffix(8);
  } else if (endsWith(t, " Method")) {
    t.remove_suffix(7);
    g.method = true;
  } else {
    return g;
  }
  g.compound = std::string(trim(t));
  g.qualifier = g.compound.starts_with("Qualifier");
  g.valid = !g.compound.empty();
  return g;
}

struct Compound {
  std::string name;
  size_t firstColumn = 0;
  PeakColumns cols;
};

class MassHunterParse : public DelimitedParse {
 public:
  MassHunterParse(std::istream& in, const DelimitedSettings& settings)
      : DelimitedParse(in, settings) {}

  StatusOr<Message> finish() override;
  size_t completeResults() const override { return compoundTable_ ? 0 : completeResults_; }
  size_t takeSamples(Message& out) override;

 protected:
  Status interpret(const Record& record) override;

 private:
  Status readGroupRow(const Record& record);
  Status readNameRow(const Record& record);
  Status readWideHeader(const Record& record);
  Status readCompoundTableHeader(const Record& record);
  Status readWideRow(const Record& record);
  Status readCompoundTableRow(const Record& record);
  Result makeResult(const Record& record, const std::string& compound, size_t firstColumn,
                    const PeakColumns& cols) const;
  void fillSample(Sample& sample, const Record& record, const SampleColumns& cols) const;
  /// A quantitation message and whether its row carried the outlier mark "!".
  struct QuantMessage {
    std::string text;
    bool outlier = false;
  };
  static void attachMessages(Sample& sample, const std::vector<QuantMessage>& messages);
  void noteCurve(const Record& record, const std::string& compound, const PeakColumns& cols);

  enum class State { kGroups, kNames, kData } state_ = State::kGroups;
  bool compoundTable_ = false;
  int groupLine_ = 0;
  std::vector<std::string> groups_;  // row 1, filled forward, 1-based (groups_[0] unused)
  struct Span {                      // one group of row 1: its name and columns
    std::string group;
    size_t first = 0, last = 0;
  };
  std::vector<Span> spans_;
  size_t width_ = 0;  // cells per row
  Message message_;
  std::vector<std::string> acquiredRaw_;  // per sample: Acq. Date-Time as sent
  /// The date order for the whole file: the settings' or, with auto, what the dates read so far
  /// say; fixed by the first takeSamples() (the samples it hands over are final).
  DateOrder dateOrder() const;
  void settleDates(size_t count);
  std::optional<DateOrder> settledOrder_;
  size_t completeResults_ = 0;  // wide form: results in message_.samples
  size_t taken_ = 0;            // wide form: samples handed over by takeSamples()

  // Wide form.
  SampleColumns sampleCols_;
  std::vector<Compound> compounds_;
  std::vector<bool> compoundColumn_;  // [c]: column c is in a compound or qualifier group
  std::vector<QuantMessage> pendingMessages_;

  // Compound-table form: one block of columns per sample.
  struct Block {
    std::string group;
    size_t firstColumn = 0;
    SampleColumns sampleCols;
    PeakColumns peak;
    std::vector<std::string> columnNames;
    bool sampleFilled = false;
  };
  std::vector<Block> blocks_;
  size_t compoundNameCol_ = 0;
  PeakColumns compoundMethod_;  // the curve columns of the "Compound Method" group
  int lastLine_ = 0;
};

Status MassHunterParse::interpret(const Record& record) {
  lastLine_ = record.line;
  bool blank = true;
  for (size_t i = 1; i < record.fields.size() && blank; ++i) {
    blank = trim(record.fields[i].raw()).empty();
  }
  if (blank) return Status::ok();  // empty lines (before the header, at the end) carry nothing
  switch (state_) {
    case State::kGroups:
      return readGroupRow(record);
    case State::kNames:
      return readNameRow(record);
    case State::kData:
      break;
  }
  if (record.fields.size() - 1 != width_) {
    return Status::invalid(lineOf(record.line), "row has " +
                                                    std::to_string(record.fields.size() - 1) +
                                                    " cells, header has " + std::to_string(width_));
  }
  observeDecimals(record);
  return compoundTable_ ? readCompoundTableRow(record) : readWideRow(record);
}

Status MassHunterParse::readGroupRow(const Record& record) {
  std::string first(trim(cell(record, 1)));
  bool anyGroup = false;
  for (size_t i = 1; i < record.fields.size(); ++i) {
    if (splitGroup(record.fields[i].raw()).valid) anyGroup = true;
  }
  if (first == "Compound Method") {
    compoundTable_ = true;
  } else if (!(first == "Sample" || (first.empty() && anyGroup))) {
    return Status::invalid(lineOf(record.line),
                           "header row 1 is not MassHunter's group row (it must start with "
                           "\"Sample\" or \"Compound Method\", or name \"<compound> Results\" "
                           "groups): a line before the header?");
  }
  groupLine_ = record.line;
  width_ = record.fields.size() - 1;
  groups_.assign(record.fields.size(), "");
  for (size_t i = 1; i < record.fields.size(); ++i) {
    std::string_view g = trim(record.fields[i].raw());
    if (i == 1 || !g.empty()) spans_.push_back(Span{std::string(g), i, i});
    spans_.back().last = i;
    groups_[i] = spans_.back().group;
  }
  state_ = State::kNames;
  return Status::ok();
}

Status MassHunterParse::readNameRow(const Record& record) {
  if (record.fields.size() - 1 != width_) {
    return Status::invalid(lineOf(record.line),
                           "header row 2 has " + std::to_string(record.fields.size() - 1) +
                               " cells, header row 1 has " + std::to_string(width_));
  }
  std::vector<std::string> names;
  names.reserve(width_);
  for (size_t i = 1; i <= width_; ++i) names.emplace_back(trim(record.fields[i].raw()));
  setHeader(names);
  state_ = State::kData;
  return compoundTable_ ? readCompoundTableHeader(record) : readWideHeader(record);
}

Status MassHunterParse::readWideHeader(const Record& record) {
  Compound* current = nullptr;  // the compound that qualifier groups belong to
  compoundColumn_.assign(width_ + 1, false);
  std::map<std::string, size_t> byName;
  std::vector<size_t> unnamedSampleCols;
  std::string openQualifierMethod;  // a qualifier's Method group just before, whose Results follow
  for (const Span& span : spans_) {
    GroupName g = splitGroup(span.group);
    if (g.valid && g.qualifier && current != nullptr) {
      if (g.method || openQualifierMethod != g.compound) ++current->cols.qualifiers;
      openQualifierMethod = g.method ? g.compound : "";
    } else {
      openQualifierMethod.clear();
    }
    if (g.valid && !g.qualifier) {
      auto it = byName.find(g.compound);
      if (it == byName.end()) {
        it = byName.emplace(g.compound, compounds_.size()).first;
        compounds_.push_back(Compound{g.compound, span.first, {}});
      }
      current = &compounds_[it->second];
    }
    for (size_t c = span.first; c <= span.last; ++c) {
      std::string name = normalizeName(cell(record, c));
      compoundColumn_[c] = g.valid;
      if (!g.valid) {  // "Sample", or the empty cells before the first group
        if (name.empty()) {
          unnamedSampleCols.push_back(c);
        } else {
          assignSampleColumn(sampleCols_, name, c);
        }
      } else if (g.qualifier) {
        if (current != nullptr) assignQualifierColumn(current->cols, name, g.method, c);
      } else {
        assignCompoundColumn(current->cols, name, g.method, c);
      }
    }
  }
  // The outlier summary and quantitation message columns have no name in most exports.
  if (!unnamedSampleCols.empty()) sampleCols_.outlier = unnamedSampleCols[0];
  if (sampleCols_.message == 0 && unnamedSampleCols.size() > 1) {
    sampleCols_.message = unnamedSampleCols[1];
  }
  if (sampleCols_.name == 0 && sampleCols_.dataFile == 0) {
    return Status::invalid(lineOf(record.line),
                           "header row 2 missing: no Name or Data File column");
  }
  if (compounds_.empty()) {
    return Status::invalid(lineOf(groupLine_), "no \"<compound> Results\" or \"Method\" group");
  }
  return Status::ok();
}

void MassHunterParse::fillSample(Sample& sample, const Record& record,
                                 const SampleColumns& cols) const {
  auto get = [&](size_t col) { return std::string(col ? trim(cell(record, col)) : ""); };
  sample.sampleId = get(cols.name);
  sample.dataFile = get(cols.dataFile);
  if (sample.sampleId.empty()) sample.sampleId = dataFileStem(sample.dataFile);
  std::string type = get(cols.type);
  sample.kind = sampleKindFromVendor(type).value_or(SampleKind::kUnknown);
  sample.level = get(cols.level);
  sample.position = get(cols.position);
  if (sample.position.empty()) sample.position = get(cols.vial);
  if (cols.dilution) sample.dilution = number(cell(record, cols.dilution));
}

Result MassHunterParse::makeResult(const Record& record, const std::string& compound,
                                   size_t firstColumn, const PeakColumns& cols) const {
  auto num = [&](size_t col) -> std::optional<double> {
    if (col == 0) return std::nullopt;
    return number(cell(record, col));
  };
  auto text = [&](size_t col) { return std::string(col ? trim(cell(record, col)) : ""); };
  Result r;
  r.instrumentCode = compound;
  r.internalStandard = isInternalStandardName(compound);
  r.value = text(cols.finalConc);
  if (r.value.empty()) r.value = text(cols.calcConc);
  r.numeric = number(r.value);
  r.location = record.location(firstColumn);
  Peak p;
  p.retentionTime = num(cols.rt);
  p.expectedRetentionTime = num(cols.expectedRt);
  p.area = num(cols.area);
  p.height = num(cols.height);
  p.width = cols.fwhm ? num(cols.fwhm) : num(cols.width);
  p.calculatedConcentration = num(cols.calcConc);
  p.finalConcentration = num(cols.finalConc);
  p.expectedConcentration = num(cols.expConc);
  p.accuracy = num(cols.accuracy);
  p.signalToNoise = num(cols.signalToNoise);
  p.asymmetry = num(cols.symmetry);
  p.manualIntegration = cols.mi != 0 && util::saysYes(cell(record, cols.mi));
  p.responseRatio = num(cols.istdRatio);
  // MassHunter's qualifier "Ratio" is a percentage of the quantifier; the model holds a fraction.
  if (auto ratio = num(cols.qualifierRatio)) p.ionRatio = *ratio / 100.0;
  p.qualifierArea = num(cols.qualifierArea);
  p.quantifierArea = p.area;
  r.peak = p;
  return r;
}

void MassHunterParse::attachMessages(Sample& sample, const std::vector<QuantMessage>& messages) {
  for (const QuantMessage& m : messages) {
    // The longest compound name the message starts with ("X:" and "X d5:" both exist).
    Result* target = nullptr;
    for (Result& r : sample.results) {
      const std::string& code = r.instrumentCode;
      if (m.text.size() > code.size() + 1 && m.text.compare(0, code.size(), code) == 0 &&
          m.text[code.size()] == ':' &&
          (target == nullptr || code.size() > target->instrumentCode.size())) {
        target = &r;
      }
    }
    if (target == nullptr) continue;  // names no compound of the row: no result's comment
    std::string_view text =
        trim(std::string_view(m.text).substr(target->instrumentCode.size() + 1));
    if (!text.empty()) {
      if (!target->comment.empty()) target->comment += "; ";
      target->comment += text;
    }
    if (m.outlier && target->peak) {
      Peak& p = *target->peak;
      if (p.vendorFlags.find('!') == std::string::npos) {
        p.vendorFlags += p.vendorFlags.empty() ? "!" : " !";
      }
    }
  }
}

void MassHunterParse::noteCurve(const Record& record, const std::string& compound,
                                const PeakColumns& cols) {
  if (cols.curveFit == 0 && cols.curveWeight == 0 && cols.curveOrigin == 0) return;
  auto text = [&](size_t col) { return std::string(col ? trim(cell(record, col)) : ""); };
  ExportCurve curve{compound, text(cols.curveFit), text(cols.curveWeight), text(cols.curveOrigin)};
  if (curve.model.empty() && curve.weighting.empty() && curve.origin.empty()) return;
  for (const ExportCurve& known : message_.curves) {
    if (known.analyte == compound) return;  // the first row that states it
  }
  message_.curves.push_back(std::move(curve));
}

Status MassHunterParse::readWideRow(const Record& record) {
  auto has = [&](size_t col) { return col != 0 && !trim(cell(record, col)).empty(); };
  bool identified = has(sampleCols_.name) || has(sampleCols_.dataFile);
  bool anyValue = false;
  for (size_t col = 1; col <= width_ && !anyValue; ++col) {
    anyValue = compoundColumn_[col] && has(col);
  }
  if (!identified) {
    if (anyValue) {
      return Status::invalid(lineOf(record.line), "data row has no Name or Data File value");
    }
    // A message-only row ("!", "<compound>: text"): it belongs to the next injection.
    bool outlier = false;
    std::vector<std::string> texts;
    for (size_t i = 1; i < record.fields.size(); ++i) {
      std::string t(trim(record.fields[i].raw()));
      if (t == "!") {
        outlier = true;
      } else if (!t.empty()) {
        texts.push_back(std::move(t));
      }
    }
    for (std::string& t : texts) pendingMessages_.push_back(QuantMessage{std::move(t), outlier});
    return Status::ok();
  }
  if (has(sampleCols_.acquired) && number(cell(record, sampleCols_.acquired))) {
    // A number where the acquisition time belongs: the row is shifted against its header.
    return Status::invalid(record.location(sampleCols_.acquired),
                           "Acq. Date-Time holds a number: the row's cells do not line up with "
                           "the header");
  }
  Sample sample;
  fillSample(sample, record, sampleCols_);
  sample.location = lineOf(record.line);
  acquiredRaw_.emplace_back(sampleCols_.acquired ? trim(cell(record, sampleCols_.acquired)) : "");
  for (const Compound& c : compounds_) {
    sample.results.push_back(makeResult(record, c.name, c.firstColumn, c.cols));
    noteCurve(record, c.name, c.cols);
  }
  std::vector<QuantMessage> messages = std::move(pendingMessages_);
  pendingMessages_.clear();
  std::string own(sampleCols_.message ? trim(cell(record, sampleCols_.message)) : "");
  if (!own.empty() && own != "!") {
    bool outlier = sampleCols_.outlier != 0 && trim(cell(record, sampleCols_.outlier)) == "!";
    messages.push_back(QuantMessage{std::move(own), outlier});
  }
  attachMessages(sample, messages);
  completeResults_ += sample.results.size();
  message_.samples.push_back(std::move(sample));
  return Status::ok();
}

Status MassHunterParse::readCompoundTableHeader(const Record& record) {
  Block* block = nullptr;
  std::string openQualifierMethod;
  for (const Span& span : spans_) {
    GroupName g = splitGroup(span.group);
    if (span.group == "Compound Method") {
      for (size_t c = span.first; c <= span.last; ++c) {
        std::string name = normalizeName(cell(record, c));
        if (name == "name" && compoundNameCol_ == 0) compoundNameCol_ = c;
        if (name.starts_with("curve fit")) assignCompoundColumn(compoundMethod_, name, true, c);
      }
      continue;
    }
    if (g.valid && g.qualifier) {
      if (block == nullptr) continue;
      if (g.method || openQualifierMethod != g.compound) ++block->peak.qualifiers;
      openQualifierMethod = g.method ? g.compound : "";
      for (size_t c = span.first; c <= span.last; ++c) {
        assignQualifierColumn(block->peak, normalizeName(cell(record, c)), g.method, c);
      }
      continue;
    }
    openQualifierMethod.clear();
    // A sample's columns may come in several groups under its name (information, then results);
    // the same name again with a column already seen is the next injection of that name.
    for (size_t c = span.first; c <= span.last; ++c) {
      std::string name = normalizeName(cell(record, c));
      bool repeats = block != nullptr && !name.empty() &&
                     std::find(block->columnNames.begin(), block->columnNames.end(), name) !=
                         block->columnNames.end();
      if (block == nullptr || repeats || (c == span.first && span.group != block->group)) {
        blocks_.push_back(Block{span.group, c, {}, {}, {}, false});
        block = &blocks_.back();
      }
      block->columnNames.push_back(name);
      if (!assignSampleColumn(block->sampleCols, name, c)) {
        assignCompoundColumn(block->peak, name, false, c);
      }
    }
  }
  if (compoundNameCol_ == 0) {
    return Status::invalid(lineOf(record.line),
                           "header row 2 missing: no Name column under \"Compound Method\"");
  }
  if (blocks_.empty()) {
    return Status::invalid(lineOf(groupLine_), "no sample groups after \"Compound Method\"");
  }
  message_.samples.resize(blocks_.size());
  acquiredRaw_.resize(blocks_.size());
  return Status::ok();
}

Status MassHunterParse::readCompoundTableRow(const Record& record) {
  std::string compound(trim(cell(record, compoundNameCol_)));
  if (compound.empty()) {
    return Status::invalid(record.location(compoundNameCol_), "compound row has no Name");
  }
  noteCurve(record, compound, compoundMethod_);
  for (size_t b = 0; b < blocks_.size(); ++b) {
    Block& block = blocks_[b];
    Sample& sample = message_.samples[b];
    if (!block.sampleFilled) {
      fillSample(sample, record, block.sampleCols);
      // The group names the sample; a Name column in the group, where there is one, says the same.
      std::string group(trim(block.group));
      if (block.sampleCols.name == 0 && !group.empty()) sample.sampleId = group;
      sample.location = lineOf(groupLine_) + " column " + std::to_string(block.firstColumn);
      if (block.sampleCols.acquired) {
        acquiredRaw_[b] = std::string(trim(cell(record, block.sampleCols.acquired)));
      }
      block.sampleFilled = !sample.dataFile.empty() || block.sampleCols.dataFile == 0;
    }
    sample.results.push_back(makeResult(record, compound, block.firstColumn, block.peak));
  }
  return Status::ok();
}

StatusOr<Message> MassHunterParse::finish() {
  if (state_ != State::kData) {
    return Status::invalid(lineOf(lastLine_), state_ == State::kGroups
                                                  ? "no MassHunter header"
                                                  : "header row 2 missing: the file ends");
  }
  bool none = message_.samples.empty() ? taken_ == 0 : message_.samples.front().results.empty();
  if (none) {
    return Status::invalid(lineOf(lastLine_),
                           compoundTable_ ? "no compound rows" : "no sample rows");
  }
  settleDates(message_.samples.size());
  message_.sender = kSender;
  message_.listedInRunOrder = false;  // a sortable batch table: see the top of this file
  return std::move(message_);
}

DateOrder MassHunterParse::dateOrder() const {
  if (settledOrder_) return *settledOrder_;
  // Dates: one order for the whole file (a day over 12 anywhere means day-first everywhere).
  DateOrder order = settings().dateOrder;
  if (order == DateOrder::kAuto) {
    for (const std::string& raw : acquiredRaw_) {
      if (!raw.empty() && !parseDateTime(raw, DateOrder::kMdy) &&
          parseDateTime(raw, DateOrder::kDmy)) {
        order = DateOrder::kDmy;
        break;
      }
    }
  }
  return order;
}

void MassHunterParse::settleDates(size_t count) {
  const DateOrder order = dateOrder();
  for (size_t i = 0; i < count && i < message_.samples.size() && i < acquiredRaw_.size(); ++i) {
    const std::string& raw = acquiredRaw_[i];
    if (raw.empty()) continue;
    message_.samples[i].acquiredAt = parseDateTime(raw, order).value_or(raw);
  }
}

size_t MassHunterParse::takeSamples(Message& out) {
  out.sender = kSender;
  out.listedInRunOrder = false;  // as finish() says
  out.curves = message_.curves;
  if (compoundTable_ || state_ != State::kData || message_.samples.empty()) return 0;
  // What the file has said so far settles the date order for the rest of it (ADR 0017).
  settledOrder_ = dateOrder();
  const size_t count = message_.samples.size();
  settleDates(count);
  for (Sample& sample : message_.samples) out.samples.push_back(std::move(sample));
  message_.samples.clear();
  acquiredRaw_.clear();
  completeResults_ = 0;
  taken_ += count;
  return count;
}

class MassHunterFormat : public ExportFormat {
 public:
  explicit MassHunterFormat(DelimitedSettings settings) : settings_(settings) {}
  StatusOr<std::unique_ptr<ExportParse>> open(std::istream& in) const override {
    return std::unique_ptr<ExportParse>(new MassHunterParse(in, settings_));
  }

 private:
  DelimitedSettings settings_;
};

}  // namespace

bool looksLikeMassHunter(std::string_view head) {
  std::string text = decodeToUtf8(head);
  size_t end1 = text.find_first_of("\r\n");
  std::string_view line1 = std::string_view(text).substr(0, end1);
  for (std::string_view start : {"Sample", "Compound Method"}) {
    if (line1.starts_with(start) && line1.size() > start.size() &&
        (line1[start.size()] == ',' || line1[start.size()] == ';' || line1[start.size()] == '\t')) {
      return true;
    }
  }
  if (end1 == std::string::npos || line1.empty() || (line1[0] != ',' && line1[0] != ';')) {
    return false;
  }
  if (line1.find(" Results") == std::string_view::npos &&
      line1.find(" Method") == std::string_view::npos) {
    return false;
  }
  size_t start2 =
      end1 + ((text[end1] == '\r' && end1 + 1 < text.size() && text[end1 + 1] == '\n') ? 2 : 1);
  std::string_view line2 = std::string_view(text).substr(start2);
  line2 = line2.substr(0, line2.find_first_of("\r\n"));
  return line2.find("Data File") != std::string_view::npos;
}

std::string dataFileStem(std::string_view dataFile) {
  std::string_view t = trim(dataFile);
  size_t slash = t.find_last_of("/\\");
  if (slash != std::string_view::npos) t.remove_prefix(slash + 1);
  if (t.size() > 2 && (endsWith(t, ".d") || endsWith(t, ".D"))) t.remove_suffix(2);
  return std::string(trim(t));
}

bool isInternalStandardName(std::string_view compound) {
  return compound.find("(ISTD)") != std::string_view::npos ||
         compound.find("[ISTD]") != std::string_view::npos ||
         compound.find("(IS)") != std::string_view::npos;
}

ExportFormatInfo masshunterFormat() {
  ExportFormatInfo info;
  info.name = "masshunter";
  info.description =
      "Agilent MassHunter Quantitative Analysis CSV export (sample-table or compound-table form)";
  info.detect = looksLikeMassHunter;
  info.factory = [](const ExportSettings& s) -> StatusOr<std::shared_ptr<const ExportFormat>> {
    StatusOr<DelimitedSettings> settings = parseDelimitedSettings(s);
    if (!settings.isOk()) return settings.status();
    return std::shared_ptr<const ExportFormat>(new MassHunterFormat(settings.value()));
  };
  info.keys = delimitedKeys();
  return info;
}

}  // namespace labgate::csv
