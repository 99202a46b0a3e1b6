// Generic XML exports described by a JSON layout file (connector key `layout`): XPath selects the
// sample elements, the result elements under each sample, and each canonical field under a sample
// or result. The layout is read, checked and compiled once, when the connector starts
// (docs/connectors/exports-xml.md has the file's keys and an example).
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "connectors/xml/document.h"
#include "connectors/xml/formats.h"
#include "engine/net/export_values.h"
#include "util/flags.h"
#include "util/json_object.h"
#include "util/layout_fields.h"

namespace labgate::xml {
namespace {

const std::set<std::string> kTopLevel = {"version",     "sample",       "result",
                                         "fields",      "sample_kinds", "decimal",
                                         "date_format", "sender",       "listed_in_run_order"};

struct Layout {
  pugi::xpath_query sample;
  pugi::xpath_query result;
  std::map<std::string, pugi::xpath_query> fields;
  std::map<std::string, SampleKind> kinds;  // normalizeName(vendor word) -> kind
  bool decimalComma = false;
  DateOrder dateOrder = DateOrder::kAuto;
  std::string sender = "xml-layout";
  bool listedInRunOrder = false;  // the lab declares its samples are listed in run order
};

// Reads and checks a layout file; `fail(reason)` makes the Status::config naming file and key.
class LayoutReader {
 public:
  LayoutReader(std::string key, std::string file) : key_(std::move(key)), file_(std::move(file)) {}

  StatusOr<std::shared_ptr<const Layout>> read() {
    std::ifstream in(file_, std::ios::binary);
    if (!in) return fail("cannot be read");
    std::stringstream text;
    text << in.rdbuf();
    Poco::JSON::Object::Ptr root;
    try {
      Poco::JSON::Parser parser;
      root = parser.parse(text.str()).extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception& e) {
      return fail("not a JSON object: " + e.message());
    } catch (const std::exception& e) {
      return fail(std::string("not a JSON object: ") + e.what());
    }
    if (root.isNull()) return fail("not a JSON object");
    auto layout = std::make_shared<Layout>();
    if (std::optional<std::string> unknown = util::unknownKey(*root, kTopLevel, "")) {
      return fail(*unknown);
    }
    if (!root->has("version") || root->getValue<std::string>("version") != "1") {
      return fail("version: must be 1");
    }
    if (Status s = compile(root, "sample", layout->sample, true); !s) return s;
    if (Status s = compile(root, "result", layout->result, true); !s) return s;
    if (Status s = readFields(root, *layout); !s) return s;
    if (Status s = readKinds(root, *layout); !s) return s;
    std::string decimal = optionalString(root, "decimal", "point");
    if (decimal != "point" && decimal != "comma") return fail("decimal: must be point or comma");
    layout->decimalComma = decimal == "comma";
    std::string order = optionalString(root, "date_format", "auto");
    static const std::map<std::string, DateOrder> kOrders = {{"auto", DateOrder::kAuto},
                                                             {"mdy", DateOrder::kMdy},
                                                             {"dmy", DateOrder::kDmy},
                                                             {"ymd", DateOrder::kYmd}};
    if (!kOrders.count(order)) return fail("date_format: must be mdy, dmy, ymd or auto");
    layout->dateOrder = kOrders.at(order);
    layout->sender = optionalString(root, "sender", layout->sender);
    if (root->has("listed_in_run_order")) {
      Poco::Dynamic::Var ordered = root->get("listed_in_run_order");
      if (!ordered.isBoolean()) return fail("listed_in_run_order: must be true or false");
      layout->listedInRunOrder = ordered.convert<bool>();
    }
    if (!error_.isOk()) return error_;
    return std::shared_ptr<const Layout>(std::move(layout));
  }

 private:
  Status fail(const std::string& reason) {
    return Status::config(key_, "layout file " + file_ + ": " + reason);
  }

  std::string optionalString(const Poco::JSON::Object::Ptr& object, const std::string& name,
                             const std::string& fallback) {
    if (!object->has(name)) return fallback;
    Poco::Dynamic::Var value = object->get(name);
    if (!value.isString()) {
      if (error_.isOk()) error_ = fail(name + ": must be a string");
      return fallback;
    }
    return value.toString();
  }

  Status compileXPath(const std::string& name, const std::string& expression,
                      pugi::xpath_query& query, bool nodeSet) {
    if (expression.empty()) return fail(name + ": empty XPath");
    try {
      pugi::xpath_query compiled(expression.c_str());
      if (!compiled) {
        return fail(name + ": XPath does not compile: " + compiled.result().description());
      }
      if (nodeSet && compiled.return_type() != pugi::xpath_type_node_set) {
        return fail(name + ": XPath must select elements");
      }
      query = std::move(compiled);
    } catch (const pugi::xpath_exception& e) {
      return fail(name + ": XPath does not compile: " + e.what() + " at offset " +
                  std::to_string(e.result().offset));
    }
    return Status::ok();
  }

  Status compile(const Poco::JSON::Object::Ptr& object, const std::string& name,
                 pugi::xpath_query& query, bool nodeSet) {
    if (!object->has(name)) return fail(name + ": required");
    Poco::Dynamic::Var value = object->get(name);
    if (!value.isString()) return fail(name + ": must be an XPath string");
    return compileXPath(name, value.toString(), query, nodeSet);
  }

  Status readFields(const Poco::JSON::Object::Ptr& root, Layout& layout) {
    Poco::JSON::Object::Ptr fields = root->getObject("fields");
    if (fields.isNull()) return fail("fields: required (an object)");
    for (const auto& [name, value] : *fields) {
      if (!util::isLayoutField(name)) {
        return fail("fields." + name + ": not a known field");
      }
      if (!value.isString()) return fail("fields." + name + ": must be an XPath string");
      pugi::xpath_query query;
      if (Status s = compileXPath("fields." + name, value.toString(), query, false); !s) return s;
      layout.fields.emplace(name, std::move(query));
    }
    if (!layout.fields.count("sample_id")) return fail("fields.sample_id: required");
    if (!layout.fields.count("analyte")) return fail("fields.analyte: required");
    return Status::ok();
  }

  Status readKinds(const Poco::JSON::Object::Ptr& root, Layout& layout) {
    if (!root->has("sample_kinds")) return Status::ok();
    Poco::JSON::Object::Ptr kinds = root->getObject("sample_kinds");
    if (kinds.isNull()) return fail("sample_kinds: must be an object");
    static const std::map<std::string, SampleKind> kKinds = {
        {"unknown", SampleKind::kUnknown},
        {"calibrator", SampleKind::kCalibrator},
        {"qc", SampleKind::kQc},
        {"blank", SampleKind::kBlank},
        {"double_blank", SampleKind::kDoubleBlank},
        {"system_suitability", SampleKind::kSystemSuitability}};
    for (const auto& [word, value] : *kinds) {
      auto it = value.isString() ? kKinds.find(value.toString()) : kKinds.end();
      if (it == kKinds.end()) {
        return fail("sample_kinds." + word +
                    ": must be unknown, calibrator, qc, blank, double_blank or "
                    "system_suitability");
      }
      layout.kinds[normalizeName(word)] = it->second;
    }
    return Status::ok();
  }

  std::string key_;
  std::string file_;
  Status error_;
};

class LayoutParse : public XmlParse {
 public:
  explicit LayoutParse(std::shared_ptr<const Layout> layout) : layout_(std::move(layout)) {}

  StatusOr<Message> finish() override {
    if (Status screened = checkScreened(); !screened) return screened;
    Message message;
    message.sender = layout_->sender;
    message.listedInRunOrder = layout_->listedInRunOrder;
    for (pugi::xpath_node found : layout_->sample.evaluate_node_set(document())) {
      if (!found.node()) continue;  // an attribute selected as a sample
      StatusOr<Sample> sample = sampleOf(found.node());
      if (!sample.isOk()) return sample.status();
      message.samples.push_back(std::move(sample.value()));
    }
    if (message.samples.empty()) {
      return Status::invalid(locationOf(document().document_element()),
                             "no element matches the layout's sample XPath");
    }
    return message;
  }

 private:
  std::string field(const char* name, pugi::xml_node node) const {
    auto it = layout_->fields.find(name);
    if (it == layout_->fields.end()) return "";
    return std::string(trim(it->second.evaluate_string(node)));
  }
  std::optional<double> number(const char* name, pugi::xml_node node) const {
    return parseNumber(field(name, node), layout_->decimalComma);
  }

  StatusOr<Sample> sampleOf(pugi::xml_node node) const {
    Sample sample;
    sample.location = locationOf(node);
    sample.sampleId = field("sample_id", node);
    if (sample.sampleId.empty()) return Status::invalid(sample.location, "sample has no sample_id");
    std::string type = field("sample_type", node);
    auto mapped = layout_->kinds.find(normalizeName(type));
    std::optional<SampleKind> kind = mapped != layout_->kinds.end()
                                         ? std::optional<SampleKind>(mapped->second)
                                         : sampleKindFromVendor(type);
    if (!kind) {
      return Status::invalid(sample.location,
                             "sample_type is not a known word (add it to the layout's "
                             "sample_kinds)");
    }
    sample.kind = *kind;
    sample.level = field("level", node);
    sample.dilution = number("dilution", node);
    sample.position = field("position", node);
    std::string acquired = field("acquired_at", node);
    std::optional<std::string> parsed = parseDateTime(acquired, layout_->dateOrder);
    sample.acquiredAt = parsed ? *parsed : acquired;
    sample.dataFile = field("data_file", node);
    sample.injection = parseInjectionNumber(field("injection", node));
    for (pugi::xpath_node found : layout_->result.evaluate_node_set(node)) {
      if (!found.node()) continue;
      StatusOr<Result> result = resultOf(found.node(), sample.kind == SampleKind::kCalibrator);
      if (!result.isOk()) return result.status();
      sample.results.push_back(std::move(result.value()));
    }
    return sample;
  }

  StatusOr<Result> resultOf(pugi::xml_node node, bool calibrator) const {
    Result result;
    result.location = locationOf(node);
    result.instrumentCode = field("analyte", node);
    if (result.instrumentCode.empty()) {
      return Status::invalid(result.location, "result has no analyte");
    }
    result.value = field("value", node);
    result.numeric = parseNumber(result.value, layout_->decimalComma);
    result.units = field("units", node);
    Peak peak;
    peak.retentionTime = number("rt", node);
    peak.expectedRetentionTime = number("expected_rt", node);
    peak.area = number("area", node);
    peak.height = number("height", node);
    peak.internalStandard = field("is_name", node);
    peak.internalStandardArea = number("is_area", node);
    peak.internalStandardRt = number("is_rt", node);
    peak.quantifierArea = number("quantifier_area", node);
    peak.qualifierArea = number("qualifier_area", node);
    peak.ionRatio = number("ion_ratio", node);
    peak.signalToNoise = number("signal_to_noise", node);
    peak.width = number("width", node);
    peak.asymmetry = number("symmetry", node);
    std::string manual = field("manual_integration", node);
    peak.manualIntegration = util::saysYes(manual);
    peak.calculatedConcentration = number("calculated_concentration", node);
    peak.finalConcentration = number("final_concentration", node);
    std::string excluded = field("excluded_from_curve", node);
    // Only a calibrator point can be left out of a curve.
    peak.excludedFromCurve = calibrator && util::saysYes(excluded);
    peak.expectedConcentration = number("expected_concentration", node);
    peak.accuracy = number("accuracy", node);
    bool any = peak.retentionTime || peak.expectedRetentionTime || peak.area || peak.height ||
               !peak.internalStandard.empty() || peak.internalStandardArea ||
               peak.internalStandardRt || peak.quantifierArea || peak.qualifierArea ||
               peak.ionRatio || peak.signalToNoise || peak.width || peak.asymmetry ||
               !manual.empty() || peak.calculatedConcentration || peak.expectedConcentration ||
               peak.accuracy || peak.finalConcentration || peak.excludedFromCurve;
    if (any) result.peak = std::move(peak);
    return result;
  }

  std::shared_ptr<const Layout> layout_;
};

class LayoutFormat : public ExportFormat {
 public:
  LayoutFormat(std::shared_ptr<const Layout> layout, std::shared_ptr<const XmlSchema> schema)
      : layout_(std::move(layout)), schema_(std::move(schema)) {}

  StatusOr<std::unique_ptr<ExportParse>> open(std::istream& in) const override {
    auto parse = std::make_unique<LayoutParse>(layout_);
    if (Status loaded = parse->load(in, schema_.get()); !loaded) return loaded;
    return std::unique_ptr<ExportParse>(std::move(parse));
  }

 private:
  std::shared_ptr<const Layout> layout_;
  std::shared_ptr<const XmlSchema> schema_;
};

}  // namespace

ExportFormatInfo xmlLayoutFormat() {
  ExportFormatInfo info;
  info.name = "xml-layout";
  info.description = "Generic XML export described by a JSON layout file (XPath)";
  info.factory = [](const ExportSettings& s) -> StatusOr<std::shared_ptr<const ExportFormat>> {
    std::string key = s.keyPrefix + "layout";
    auto it = s.keys.find("layout");
    if (it == s.keys.end() || it->second.empty()) {
      return Status::config(key, "required: the JSON layout file for format xml-layout");
    }
    std::filesystem::path path(it->second);
    if (path.is_relative() && !s.configDir.empty()) path = s.configDir / path;
    StatusOr<std::shared_ptr<const Layout>> layout = LayoutReader(key, path.string()).read();
    if (!layout.isOk()) return layout.status();
    StatusOr<std::shared_ptr<const XmlSchema>> schema = schemaFromSettings(s);
    if (!schema.isOk()) return schema.status();
    return std::shared_ptr<const ExportFormat>(
        std::make_shared<LayoutFormat>(layout.value(), schema.value()));
  };
  info.keys = {"layout", "xml.schema"};
  return info;
}

}  // namespace labgate::xml
