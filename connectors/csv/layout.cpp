// The generic delimited format: one row per (sample, analyte), columns named by a layout file.
// Rows with the same sample id make one Sample, in the order the ids are first seen.
#include "connectors/csv/layout.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "connectors/csv/formats.h"
#include "util/flags.h"
#include "util/json_object.h"

namespace labgate::csv {
namespace {

const std::map<std::string, SampleKind>& kindNames() {
  static const std::map<std::string, SampleKind> kNames = {
      {"unknown", SampleKind::kUnknown},
      {"calibrator", SampleKind::kCalibrator},
      {"qc", SampleKind::kQc},
      {"blank", SampleKind::kBlank},
      {"double_blank", SampleKind::kDoubleBlank},
      {"system_suitability", SampleKind::kSystemSuitability}};
  return kNames;
}

std::string lineOf(int line) { return "line " + std::to_string(line); }

}  // namespace

StatusOr<Layout> parseLayout(const std::string& path, const std::string& json) {
  auto bad = [&](const std::string& key, const std::string& reason) {
    return Status::config(path, key + ": " + reason);
  };
  Poco::JSON::Object::Ptr root;
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var v = parser.parse(json);
    if (v.type() != typeid(Poco::JSON::Object::Ptr)) return bad("(file)", "not a JSON object");
    root = v.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    return bad("(file)", "not valid JSON: " + e.message());
  }
  static const std::set<std::string> kKeys = {"version",     "delimiter",    "header_line",
                                              "columns",     "sample_kinds", "decimal",
                                              "date_format", "encoding",     "listed_in_run_order"};
  if (std::optional<std::string> unknown = util::unknownKey(*root, kKeys, "")) {
    return Status::config(path, *unknown);
  }
  Layout layout;
  layout.path = path;
  auto str = [&](const std::string& key, std::string& out) -> Status {
    if (!root->has(key)) return Status::ok();
    Poco::Dynamic::Var v = root->get(key);
    if (!v.isString()) return bad(key, "must be a string");
    out = v.toString();
    return Status::ok();
  };
  try {
    if (!root->has("version")) return bad("version", "required");
    Poco::Dynamic::Var version = root->get("version");
    if (!version.isInteger() || version.convert<int>() != 1) return bad("version", "must be 1");

    std::string delimiter = "auto";
    if (Status s = str("delimiter", delimiter); !s) return s;
    if (delimiter == "," || delimiter == ";" || delimiter == "\t") {
      layout.delimiter = delimiter[0];
    } else if (delimiter != "auto") {
      return bad("delimiter", "must be \",\", \";\", \"\\t\" or \"auto\"");
    }

    if (root->has("header_line")) {
      Poco::Dynamic::Var h = root->get("header_line");
      if (!h.isInteger() || h.convert<int>() < 1) {
        return bad("header_line", "must be a line number from 1");
      }
      layout.headerLine = h.convert<int>();
    }

    Poco::JSON::Object::Ptr columns = root->getObject("columns");
    if (!columns) return bad("columns", "required (an object: field -> column header)");
    for (const auto& [field, name] : *columns) {
      const auto& fields = layoutFields();
      if (std::find(fields.begin(), fields.end(), field) == fields.end()) {
        return bad("columns." + field, "not a field a layout can name");
      }
      if (!name.isString() || trim(name.toString()).empty()) {
        return bad("columns." + field, "must be a non-empty column header");
      }
      layout.columns[field] = name.toString();
    }
    for (const char* required : {"sample_id", "analyte"}) {
      if (!layout.columns.count(required))
        return bad(std::string("columns.") + required, "required");
    }

    if (root->has("sample_kinds")) {
      Poco::JSON::Object::Ptr kinds = root->getObject("sample_kinds");
      if (!kinds) return bad("sample_kinds", "must be an object: vendor word -> kind");
      for (const auto& [word, kind] : *kinds) {
        auto it = kind.isString() ? kindNames().find(kind.toString()) : kindNames().end();
        if (it == kindNames().end()) {
          return bad("sample_kinds." + word,
                     "must be unknown, calibrator, qc, blank, double_blank or "
                     "system_suitability");
        }
        layout.sampleKinds[normalizeName(word)] = it->second;
      }
    }

    std::string decimal;
    if (Status s = str("decimal", decimal); !s) return s;
    if (decimal == "point") layout.decimal = DelimitedSettings::Decimal::kPoint;
    if (decimal == "comma") layout.decimal = DelimitedSettings::Decimal::kComma;
    if (decimal == "auto") layout.decimal = DelimitedSettings::Decimal::kAuto;
    if (!decimal.empty() && !layout.decimal) return bad("decimal", "must be point, comma or auto");

    std::string dates;
    if (Status s = str("date_format", dates); !s) return s;
    if (dates == "mdy") layout.dateOrder = DateOrder::kMdy;
    if (dates == "dmy") layout.dateOrder = DateOrder::kDmy;
    if (dates == "ymd") layout.dateOrder = DateOrder::kYmd;
    if (dates == "auto") layout.dateOrder = DateOrder::kAuto;
    if (!dates.empty() && !layout.dateOrder)
      return bad("date_format", "must be mdy, dmy, ymd or auto");

    if (root->has("listed_in_run_order")) {
      Poco::Dynamic::Var v = root->get("listed_in_run_order");
      if (!v.isBoolean()) return bad("listed_in_run_order", "must be true or false");
      layout.listedInRunOrder = v.convert<bool>();
    }

    std::string encoding;
    if (Status s = str("encoding", encoding); !s) return s;
    if (!encoding.empty()) {
      StatusOr<Encoding> e = parseEncoding("encoding", encoding);
      if (!e.isOk()) return bad("encoding", e.status().reason());
      layout.encoding = e.value();
    }
  } catch (const Poco::Exception& e) {
    return bad("(file)", e.message());
  }
  return layout;
}

StatusOr<Layout> loadLayout(const std::string& path, const std::string& configDir) {
  std::string full = path;
  if (!path.empty() && path[0] != '/' && !configDir.empty()) full = configDir + "/" + path;
  std::ifstream in(full, std::ios::binary);
  if (!in) return Status::config(full, "cannot read the layout file");
  std::ostringstream text;
  text << in.rdbuf();
  return parseLayout(full, text.str());
}

namespace {

class LayoutParse : public DelimitedParse {
 public:
  LayoutParse(std::istream& in, const DelimitedSettings& settings, const Layout& layout)
      : DelimitedParse(in, settings, layout.delimiter), layout_(layout) {}

  StatusOr<Message> finish() override {
    if (!headerSeen_) {
      return Status::invalid(lineOf(layout_.headerLine), "the layout's header line is missing");
    }
    if (message_.samples.empty()) return Status::invalid(lineOf(lastLine_), "no sample rows");
    message_.sender = "layout " + layout_.path.substr(layout_.path.find_last_of('/') + 1);
    message_.listedInRunOrder = layout_.listedInRunOrder;
    return std::move(message_);
  }

 protected:
  Status interpret(const Record& record) override {
    lastLine_ = record.line;
    if (!headerSeen_) {
      if (record.line < layout_.headerLine) return Status::ok();  // lines before the header
      return readHeader(record);
    }
    bool blank = true;
    for (size_t i = 1; i < record.fields.size() && blank; ++i) {
      blank = trim(record.fields[i].raw()).empty();
    }
    if (blank) return Status::ok();
    if (record.fields.size() != width_ + 1) {
      return Status::invalid(lineOf(record.line),
                             "row has " + std::to_string(record.fields.size() - 1) +
                                 " cells, header has " + std::to_string(width_));
    }
    observeDecimals(record);
    return readRow(record);
  }

 private:
  Status readHeader(const Record& record) {
    if (record.line != layout_.headerLine) {
      return Status::invalid(lineOf(layout_.headerLine), "the layout's header line is missing");
    }
    headerSeen_ = true;
    width_ = record.fields.size() - 1;
    std::vector<std::string> names;
    for (size_t i = 1; i <= width_; ++i) names.emplace_back(trim(record.fields[i].raw()));
    setHeader(names);
    for (const auto& [field, header] : layout_.columns) {
      std::string want = normalizeName(header);
      size_t found = 0;
      for (size_t i = 0; i < names.size() && !found; ++i) {
        if (normalizeName(names[i]) == want) found = i + 1;
      }
      if (!found) {
        return Status::invalid(lineOf(record.line), "column \"" + header +
                                                        "\" named by the layout is not in the "
                                                        "header");
      }
      col_[field] = found;
    }
    return Status::ok();
  }

  std::string text(const Record& r, const char* field) const {
    auto it = col_.find(field);
    return it == col_.end() ? "" : std::string(trim(cell(r, it->second)));
  }
  std::optional<double> num(const Record& r, const char* field) const {
    auto it = col_.find(field);
    if (it == col_.end()) return std::nullopt;
    return number(cell(r, it->second));
  }

  Status readRow(const Record& r) {
    std::string id = text(r, "sample_id");
    if (id.empty()) {
      return Status::invalid(r.location(col_.at("sample_id")), "the sample id is empty");
    }
    auto [it, added] = index_.emplace(id, message_.samples.size());
    if (added) {
      Sample s;
      s.sampleId = id;
      s.location = lineOf(r.line);
      std::string type = text(r, "sample_type");
      auto custom = layout_.sampleKinds.find(normalizeName(type));
      if (custom != layout_.sampleKinds.end()) {
        s.kind = custom->second;
      } else {
        s.kind = sampleKindFromVendor(type).value_or(SampleKind::kUnknown);
      }
      s.level = text(r, "level");
      s.dilution = num(r, "dilution");
      s.position = text(r, "position");
      s.dataFile = text(r, "data_file");
      s.injection = parseInjectionNumber(text(r, "injection"));
      std::string at = text(r, "acquired_at");
      if (!at.empty()) s.acquiredAt = parseDateTime(at, settings().dateOrder).value_or(at);
      message_.samples.push_back(std::move(s));
    }
    Result res;
    res.instrumentCode = text(r, "analyte");
    if (res.instrumentCode.empty()) {
      return Status::invalid(r.location(col_.at("analyte")), "the analyte is empty");
    }
    res.value = text(r, "value");
    res.numeric = number(res.value);
    res.units = text(r, "units");
    res.location = r.location(col_.at("analyte"));
    Peak p;
    p.retentionTime = num(r, "rt");
    p.expectedRetentionTime = num(r, "expected_rt");
    p.area = num(r, "area");
    p.height = num(r, "height");
    p.internalStandard = text(r, "is_name");
    p.internalStandardArea = num(r, "is_area");
    p.internalStandardRt = num(r, "is_rt");
    p.quantifierArea = num(r, "quantifier_area");
    p.qualifierArea = num(r, "qualifier_area");
    p.ionRatio = num(r, "ion_ratio");
    p.signalToNoise = num(r, "signal_to_noise");
    p.width = num(r, "width");
    p.asymmetry = num(r, "symmetry");
    p.manualIntegration = util::saysYes(text(r, "manual_integration"));
    p.calculatedConcentration = num(r, "calculated_concentration");
    p.finalConcentration = num(r, "final_concentration");
    // Only a calibrator point can be left out of a curve.
    p.excludedFromCurve = message_.samples[it->second].kind == SampleKind::kCalibrator &&
                          util::saysYes(text(r, "excluded_from_curve"));
    p.expectedConcentration = num(r, "expected_concentration");
    p.accuracy = num(r, "accuracy");
    res.peak = p;
    message_.samples[it->second].results.push_back(std::move(res));
    return Status::ok();
  }

  Layout layout_;
  bool headerSeen_ = false;
  size_t width_ = 0;
  int lastLine_ = 0;
  std::map<std::string, size_t> col_;              // field -> 1-based column
  std::unordered_map<std::string, size_t> index_;  // sample id -> position in message_.samples
  Message message_;
};

class LayoutFormat : public ExportFormat {
 public:
  LayoutFormat(DelimitedSettings settings, Layout layout)
      : settings_(settings), layout_(std::move(layout)) {}
  StatusOr<std::unique_ptr<ExportParse>> open(std::istream& in) const override {
    return std::unique_ptr<ExportParse>(new LayoutParse(in, settings_, layout_));
  }

 private:
  DelimitedSettings settings_;
  Layout layout_;
};

}  // namespace

ExportFormatInfo layoutFormat() {
  ExportFormatInfo info;
  info.name = "layout";
  info.description = "Generic delimited export, columns named by a JSON layout file";
  info.detect = nullptr;  // never chosen by format = auto
  info.factory = [](const ExportSettings& s) -> StatusOr<std::shared_ptr<const ExportFormat>> {
    StatusOr<DelimitedSettings> settings = parseDelimitedSettings(s);
    if (!settings.isOk()) return settings.status();
    auto key = s.keys.find("layout");
    if (key == s.keys.end() || key->second.empty()) {
      return Status::config(s.keyPrefix + "layout", "required for format layout");
    }
    StatusOr<Layout> layout = loadLayout(key->second, s.configDir);
    if (!layout.isOk()) return layout.status();
    DelimitedSettings d = settings.value();
    const Layout& l = layout.value();
    if (l.decimal) d.decimal = *l.decimal;
    if (l.dateOrder) d.dateOrder = *l.dateOrder;
    if (l.encoding) d.encoding = *l.encoding;
    return std::shared_ptr<const ExportFormat>(new LayoutFormat(d, layout.value()));
  };
  info.keys = delimitedKeys();
  info.keys.push_back("layout");
  return info;
}

}  // namespace labgate::csv
