// Probe batches for autoverification (see autoverify_probes.h).
#include "tests/integration/autoverify_probes.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "tests/integration/harness_store.h"

namespace labgate::it::probes {
namespace {

constexpr const char* kResults = " Results";

std::vector<std::string> splitCsvLine(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char ch = line[i];
    if (quoted) {
      if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cells.back() += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        cells.back() += ch;
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      cells.emplace_back();
    } else {
      cells.back() += ch;
    }
  }
  return cells;
}

std::string joinCsvLine(const std::vector<std::string>& cells) {
  std::string out;
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) out += ',';
    const std::string& c = cells[i];
    if (c.find_first_of(",\"") == std::string::npos) {
      out += c;
      continue;
    }
    out += '"';
    for (char ch : c) {
      if (ch == '"') out += '"';
      out += ch;
    }
    out += '"';
  }
  return out;
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool isQualifierGroup(const std::string& group) { return group.rfind("Qualifier", 0) == 0; }

std::string formatNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

/// The concentrations and responses of a compound: what scales with the amount injected.
const std::vector<std::string>& amountColumns() {
  static const std::vector<std::string> columns{"Final Conc.", "Calc. Conc.",      "Area",
                                                "Height",      "ISTD Resp. Ratio", "S/N"};
  return columns;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// WideExport

WideExport WideExport::parse(const std::string& text) {
  WideExport e;
  std::string body = text;
  if (body.rfind("\xEF\xBB\xBF", 0) == 0) {
    e.bom_ = body.substr(0, 3);
    body = body.substr(3);
  }
  std::istringstream in(body);
  std::vector<std::vector<std::string>> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    lines.push_back(splitCsvLine(line));
  }
  if (lines.size() < 2) return e;
  e.groupCells_ = lines[0];
  e.names_ = lines[1];
  e.groupCells_.resize(e.names_.size());
  std::string group;
  for (const std::string& g : e.groupCells_) {
    if (!g.empty()) group = g;
    e.groups_.push_back(group);
  }
  for (size_t i = 2; i < lines.size(); ++i) {
    lines[i].resize(e.names_.size());
    e.rows.push_back(lines[i]);
  }
  return e;
}

std::string WideExport::csv() const {
  std::string out = bom_ + joinCsvLine(groupCells_) + "\r\n" + joinCsvLine(names_) + "\r\n";
  for (const auto& r : rows) out += joinCsvLine(r) + "\r\n";
  return out;
}

std::optional<size_t> WideExport::column(const std::string& compound,
                                         const std::string& name) const {
  const std::string group = compound.empty() ? "" : compound + kResults;
  for (size_t c = 0; c < names_.size(); ++c) {
    if (groups_[c] == group && names_[c] == name) return c;
  }
  return std::nullopt;
}

std::optional<size_t> WideExport::qualifierColumn(const std::string& compound,
                                                  const std::string& name) const {
  const std::string group = compound + kResults;
  size_t c = 0;
  while (c < names_.size() && groups_[c] != group) ++c;
  while (c < names_.size() && groups_[c] == group) ++c;
  if (c >= names_.size() || !isQualifierGroup(groups_[c])) return std::nullopt;
  const std::string qualifier = groups_[c];
  for (; c < names_.size() && groups_[c] == qualifier; ++c) {
    if (names_[c] == name) return c;
  }
  return std::nullopt;
}

std::optional<size_t> WideExport::rowOf(const std::string& sampleName) const {
  std::optional<size_t> name = column("", "Name");
  std::optional<size_t> file = column("", "Data File");
  for (size_t i = 0; i < rows.size(); ++i) {
    if (name && rows[i][*name] == sampleName) return i;
    if (file && rows[i][*file] == sampleName + ".d") return i;
  }
  return std::nullopt;
}

std::vector<std::string> WideExport::compounds() const {
  std::vector<std::string> out;
  for (const std::string& g : groupCells_) {
    if (!g.empty() && endsWith(g, kResults) && !isQualifierGroup(g)) {
      out.push_back(g.substr(0, g.size() - std::string(kResults).size()));
    }
  }
  return out;
}

std::string WideExport::get(const std::vector<std::string>& row, const std::string& compound,
                            const std::string& name) const {
  std::optional<size_t> c = column(compound, name);
  return c && *c < row.size() ? row[*c] : "";
}

void WideExport::set(std::vector<std::string>& row, const std::string& compound,
                     const std::string& name, const std::string& value) const {
  if (std::optional<size_t> c = column(compound, name); c && *c < row.size()) row[*c] = value;
}

void WideExport::scale(std::vector<std::string>& row, const std::string& compound,
                       const std::string& name, double factor) const {
  std::optional<size_t> c = column(compound, name);
  if (!c || *c >= row.size() || row[*c].empty()) return;
  char* end = nullptr;
  double v = std::strtod(row[*c].c_str(), &end);
  if (end != nullptr && *end == '\0') row[*c] = formatNumber(v * factor);
}

// ---------------------------------------------------------------------------------------------
// CompoundSummary

CompoundSummary CompoundSummary::parse(const std::string& text) {
  CompoundSummary summary;
  std::istringstream in(text);
  std::string compound;
  for (std::string raw; std::getline(in, raw);) {
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    Line line;
    std::string cell;
    std::istringstream cells(raw);
    while (std::getline(cells, cell, '\t')) line.cells.push_back(cell);
    if (!raw.empty() && raw.back() == '\t') line.cells.emplace_back();
    if (raw.rfind("Compound ", 0) == 0 && raw.find(':') != std::string::npos) {
      compound = raw.substr(raw.find(':') + 1);
      compound.erase(0, compound.find_first_not_of(' '));
      compound.erase(compound.find_last_not_of(' ') + 1);
    }
    line.compound = compound;
    line.header = line.cells.size() > 2 && line.cells[0].empty();
    summary.lines_.push_back(std::move(line));
  }
  return summary;
}

std::string CompoundSummary::txt() const {
  std::string out;
  for (const Line& line : lines_) {
    for (size_t i = 0; i < line.cells.size(); ++i) out += (i > 0 ? "\t" : "") + line.cells[i];
    out += "\r\n";
  }
  return out;
}

std::optional<size_t> CompoundSummary::cellOf(const std::vector<std::string>& header,
                                              const std::string& name) {
  auto it = std::find(header.begin(), header.end(), name);
  if (it == header.end()) return std::nullopt;
  return static_cast<size_t>(it - header.begin());
}

bool CompoundSummary::addPatient(
    const std::string& compound, const std::string& templateName, const std::string& name,
    int injection,
    const std::function<void(const std::vector<std::string>&, std::vector<std::string>&)>& change) {
  const std::vector<std::string>* header = nullptr;
  for (size_t i = 0; i < lines_.size(); ++i) {
    const Line& line = lines_[i];
    if (line.compound != compound) continue;
    if (line.header) {
      header = &line.cells;
      continue;
    }
    if (header == nullptr) continue;
    std::optional<size_t> nameCell = cellOf(*header, "Name");
    if (!nameCell || *nameCell >= line.cells.size() || line.cells[*nameCell] != templateName) {
      continue;
    }
    Line copy = line;
    std::vector<std::string>& row = copy.cells;
    auto set = [&](const std::string& column, const std::string& value) {
      if (std::optional<size_t> c = cellOf(*header, column); c && *c < row.size()) row[*c] = value;
    };
    row[0] = std::to_string(injection);
    set("#", std::to_string(injection));
    set("Name", name);
    set("Sample Text", name);
    set("Type", "Sample");
    set("%Dev", "");
    set("Std. Conc", "");
    const std::vector<std::string> headerCells = *header;
    change(headerCells, row);
    lines_.insert(lines_.begin() + static_cast<std::ptrdiff_t>(i) + 1, std::move(copy));
    return true;
  }
  return false;
}

void CompoundSummary::withoutInjectionNumbers() {
  std::optional<size_t> hash;
  for (Line& line : lines_) {
    if (line.header) {
      hash = cellOf(line.cells, "#");
      if (hash) line.cells.erase(line.cells.begin() + static_cast<std::ptrdiff_t>(*hash));
      continue;
    }
    if (!hash || line.cells.size() <= *hash || line.cells[0].empty()) continue;
    line.cells.erase(line.cells.begin() + static_cast<std::ptrdiff_t>(*hash));
    line.cells[0] = "-";
  }
}

// ---------------------------------------------------------------------------------------------
// Probes on a patient row

void makePatient(const WideExport& e, std::vector<std::string>& row, const std::string& name) {
  e.set(row, "", "Type", "Sample");
  e.set(row, "", "Level", "");
  e.set(row, "", "Name", name);
  e.set(row, "", "Data File", name + ".d");
  for (const std::string& c : e.compounds()) {
    e.set(row, c, "Exp. Conc.", "");
    e.set(row, c, "Accuracy", "");
  }
}

void isAtTenPercent(const WideExport& e, std::vector<std::string>& row, const std::string& c) {
  e.scale(row, c, "Area", 0.1);
}

void lowSignalToNoise(const WideExport& e, std::vector<std::string>& row, const std::string& c) {
  e.set(row, c, "S/N", "6");
}

void tailing(const WideExport& e, std::vector<std::string>& row, const std::string& c) {
  e.set(row, c, "Symmetry", "2.6");
}

void ionRatioOff(const WideExport& e, std::vector<std::string>& row, const std::string& c) {
  std::optional<size_t> col = e.qualifierColumn(c, "Ratio");
  if (!col || row[*col].empty()) return;
  row[*col] = formatNumber(std::strtod(row[*col].c_str(), nullptr) * 1.97);
}

void scaleAmount(const WideExport& e, std::vector<std::string>& row, const std::string& c,
                 double factor) {
  for (const std::string& name : amountColumns()) e.scale(row, c, name, factor);
}

// ---------------------------------------------------------------------------------------------
// Variants of the batch

void withoutQualifiers(WideExport& e) {
  e.removeColumns(
      [](const std::string& group, const std::string&) { return isQualifierGroup(group); });
}

void withoutIsData(WideExport& e) {
  e.removeColumns([](const std::string&, const std::string& name) {
    return name == "ISTD Resp. Ratio" || name == "ISTD Area" || name == "IS Area";
  });
}

void withoutCalibrators(WideExport& e) {
  std::optional<size_t> type = e.column("", "Type");
  if (!type) return;
  std::erase_if(e.rows, [&](const std::vector<std::string>& r) { return r[*type] == "Cal"; });
}

void withoutLevelColumn(WideExport& e) {
  e.removeColumns([](const std::string& group, const std::string& name) {
    return group.empty() && name == "Level";
  });
}

void appendFailingQcs(WideExport& e, const std::string& lowQcName) {
  std::optional<size_t> at = e.rowOf(lowQcName);
  if (!at) return;
  const std::vector<std::string> low = e.rows[*at];
  for (int i = 1; i <= 3; ++i) {
    std::vector<std::string> row = low;
    const std::string name = lowQcName + "_fail" + std::to_string(i);
    e.set(row, "", "Name", name);
    e.set(row, "", "Data File", name + ".d");
    for (const std::string& c : e.compounds()) {
      for (const char* col :
           {"Final Conc.", "Calc. Conc.", "Area", "Height", "ISTD Resp. Ratio", "Accuracy"}) {
        e.scale(row, c, col, 1.3);
      }
    }
    e.rows.push_back(row);
  }
}

void retime(WideExport& e) {
  std::optional<size_t> time = e.column("", "Acq. Date-Time");
  if (!time) return;
  int minutes = 10 * 60;  // two-digit hours, as the corpus writes them
  for (auto& r : e.rows) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "1/21/25 %d:%02d", minutes / 60, minutes % 60);
    r[*time] = buf;
    minutes += 10;
  }
}

// ---------------------------------------------------------------------------------------------
// Outcomes

bool Outcome::hasRule(const std::string& rule) const {
  return std::any_of(findings.begin(), findings.end(),
                     [&](const Finding& f) { return f.rule == rule; });
}

bool Outcome::hasCode(const std::string& code) const {
  return std::any_of(findings.begin(), findings.end(),
                     [&](const Finding& f) { return f.message.find(code) != std::string::npos; });
}

std::string Outcome::describe() const {
  std::string out = disposition + " value=" + value;
  for (const Finding& f : findings) out += "\n    " + f.rule + " [" + f.severity + "] " + f.message;
  return out;
}

const Outcome* BatchOutcome::find(const std::string& sample, const std::string& analyte) const {
  auto it = results.find({sample, analyte});
  return it == results.end() ? nullptr : &it->second;
}

std::string BatchOutcome::describeBatch() const {
  std::string out = error.empty() ? "" : "error: " + error + "\n";
  for (const Finding& f : batchFindings) {
    out += "  batch " + f.analyte + " " + f.rule + " [" + f.severity + "] " + f.message + "\n";
  }
  for (const auto& [key, outcome] : results) {
    out += "  " + key.first + " " + key.second + ": " + outcome.describe() + "\n";
  }
  return out;
}

BatchOutcome fromDryRun(const std::string& jsonLine) {
  BatchOutcome b;
  Poco::JSON::Object::Ptr root;
  try {
    root = Poco::JSON::Parser().parse(jsonLine).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    b.error = "dry-run printed no JSON object: " + e.displayText();
    return b;
  }
  auto text = [](const Poco::JSON::Object::Ptr& o, const char* key) {
    return o && o->has(key) ? o->getValue<std::string>(key) : std::string();
  };
  auto findingsOf = [&](const Poco::JSON::Array::Ptr& list) {
    std::vector<Finding> out;
    for (size_t i = 0; list && i < list->size(); ++i) {
      auto f = list->getObject(static_cast<unsigned>(i));
      out.push_back({text(f, "rule"), text(f, "severity"), text(f, "message"), text(f, "analyte")});
    }
    return out;
  };
  b.batchFindings = findingsOf(root->getArray("batch_findings"));
  auto samples = root->getArray("samples");
  for (size_t i = 0; samples && i < samples->size(); ++i) {
    auto s = samples->getObject(static_cast<unsigned>(i));
    if (text(s, "kind") != "unknown") continue;
    auto results = s->getArray("results");
    for (size_t j = 0; results && j < results->size(); ++j) {
      auto r = results->getObject(static_cast<unsigned>(j));
      Outcome o{text(r, "disposition"), text(r, "value"), findingsOf(r->getArray("findings"))};
      b.results[{text(s, "sample_id"), text(r, "code")}] = std::move(o);
    }
  }
  return b;
}

BatchOutcome fromStore(const std::string& dbPath, const std::string& anySample) {
  BatchOutcome b;
  StoreReader store(dbPath);
  if (!store.ok()) {
    b.error = store.error();
    return b;
  }
  std::optional<std::string> message = store.scalar(
      "SELECT message_id FROM samples WHERE sample_id = '" + anySample + "' ORDER BY id DESC");
  if (!message) {
    b.error = "no stored sample " + anySample;
    return b;
  }
  const std::string m = *message;
  auto results = store.rows(
      "SELECT r.id, s.sample_id, r.instrument_code, r.disposition, r.value FROM results r JOIN "
      "samples s ON s.id = r.sample_row_id WHERE r.message_id = " +
      m + " AND s.kind = 'unknown' AND r.internal_standard = 0");
  auto findings = store.rows(
      "SELECT f.result_id, f.rule_id, f.severity, f.message FROM findings f JOIN results r ON "
      "r.id = f.result_id WHERE r.message_id = " +
      m + " ORDER BY f.id");
  auto batch = store.rows(
      "SELECT analyte, rule_id, severity, message FROM batch_findings WHERE message_id = " + m +
      " ORDER BY id");
  if (!results || !findings || !batch) {
    b.error = store.error();
    return b;
  }
  std::map<std::string, std::vector<Finding>> byResult;
  for (const StoreRow& f : *findings) byResult[f[0]].push_back({f[1], f[2], f[3], ""});
  for (const StoreRow& r : *results) {
    b.results[{r[1], r[2]}] = Outcome{r[3], r[4], byResult[r[0]]};
  }
  for (const StoreRow& f : *batch) b.batchFindings.push_back({f[1], f[2], f[3], f[0]});
  return b;
}

}  // namespace labgate::it::probes
