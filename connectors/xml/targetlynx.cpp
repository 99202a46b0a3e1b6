// Waters TargetLynx (MassLynx) quantitation XML: QUANDATASET -> ... -> SAMPLELISTDATA -> SAMPLE ->
// COMPOUND -> PEAK (-> ISPEAK), spec analytics.md §7.3. Every value is an attribute.
//
// Interpretation (docs/connectors/exports-xml.md):
//   SAMPLE   name -> sampleId and dataFile (MassLynx names a sample by its raw file), type
//            (Analyte/Standard/QC/Blank) -> kind, stdconc > 0 -> nominalConcentration,
//            dilutionfac > 0 -> dilution (MassLynx writes 0 when unset), vial -> position,
//            createdate + createtime -> acquiredAt, samplenumber -> injection (the sample's row
//            in the MassLynx sample list, the order of acquisition: the same number the TXT
//            summary shows in its first column; p2m2tools_quandata.xml and
//            p2m2tools_190522_97.txt are the same batch). TargetLynx has no level attribute.
//            The samples are not taken to be listed in run order (listedInRunOrder stays false):
//            the rules order them by injection.
//   COMPOUND name -> instrumentCode; stdconc > 0 -> expectedConcentration.
//   PEAK     analconc -> value, numeric, calculatedConcentration; foundrt, predrt, area, height,
//            response (-> responseRatio), signoise, pkwidth, peakasymmetryvalue, ionratio,
//            pkflags taken apart by splitTargetLynxFlags(): the integration code ("bb", "MM":
//            manual) -> integrationCode, a calibrator's "X" -> excludedFromCurve, any other
//            letter -> vendorFlags; the QC flag attributes (rtflag, signoiseflag, snloqflag,
//            ionratioflag, qcionratioflag, qcrettimeflag, qcpeakshapeflag, devflag, recovlimflag,
//            replimflag, matrixblankflag, solventblankflag, peakmissing) that are not 0 ->
//            vendorFlags as "name=value" (belowrl is not one: the rules judge the LLOQ);
//            accuracy =
//            100 + concdevperc when the compound has a nominal and a concentration, else
//            percrecovery when > 0.
//   ISPEAK   area, foundrt -> internalStandardArea/Rt. A COMPOUND whose own peak is another
//            compound's ISPEAK (same area and RT) is that compound's internal standard: it is
//            marked internalStandard and its name becomes Peak::internalStandard. A COMPOUND type
//            "IS"/"ISTD"/"Internal Standard" is an internal standard too.
#include <cstdio>
#include <cstring>

#include "connectors/xml/document.h"
#include "connectors/xml/formats.h"
#include "engine/net/export_values.h"
#include "util/flags.h"

namespace labgate::xml {
namespace {

constexpr const char* kSender = "Waters TargetLynx";

std::optional<double> number(pugi::xml_node node, const char* attribute) {
  return parseNumber(node.attribute(attribute).value());
}

std::optional<double> positive(pugi::xml_node node, const char* attribute) {
  std::optional<double> value = number(node, attribute);
  if (value && *value > 0) return value;
  return std::nullopt;
}

// "13-May-22" or "09 Jun 2022" plus "10:38:48" as YYYY-MM-DDTHH:MM:SS; otherwise as sent.
std::string dateTime(std::string_view date, std::string_view time) {
  static constexpr const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};
  date = trim(date);
  time = trim(time);
  std::string joined = std::string(date) + (time.empty() ? "" : " ") + std::string(time);
  if (date.empty()) return joined;
  size_t first = date.find_first_of("- /");
  size_t second = first == std::string_view::npos ? first : date.find_first_of("- /", first + 1);
  std::string numeric(date);
  if (second != std::string_view::npos && second - first - 1 >= 3) {
    std::string month(date.substr(first + 1, 3));
    for (char& c : month) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (int m = 0; m < 12; ++m) {
      if (month == kMonths[m]) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "%02d", m + 1);
        numeric = std::string(date.substr(0, first)) + "/" + buf + "/" +
                  std::string(date.substr(second + 1));
        break;
      }
    }
  }
  std::string text = numeric + (time.empty() ? "" : " ") + std::string(time);
  std::optional<std::string> parsed =
      parseDateTime(text, numeric == date ? DateOrder::kAuto : DateOrder::kDmy);
  return parsed ? *parsed : joined;
}

bool isInternalStandardType(std::string_view type) {
  std::string t = normalizeName(type);
  return t == "is" || t == "istd" || t == "internal standard" || t == "internalstandard";
}

Peak peakOf(pugi::xml_node peak, const Result& result, bool nominal, bool calibrator) {
  Peak p;
  p.retentionTime = number(peak, "foundrt");
  p.expectedRetentionTime = number(peak, "predrt");
  p.area = number(peak, "area");
  p.height = number(peak, "height");
  p.responseRatio = number(peak, "response");
  p.signalToNoise = number(peak, "signoise");
  p.width = number(peak, "pkwidth");
  p.asymmetry = number(peak, "peakasymmetryvalue");
  p.ionRatio = number(peak, "ionratio");
  TargetLynxFlags flags = splitTargetLynxFlags(peak.attribute("pkflags").value(), calibrator);
  p.integrationCode = std::move(flags.integrationCode);
  p.manualIntegration = flags.manual;
  p.excludedFromCurve = flags.excludedFromCurve;
  p.vendorFlags = std::move(flags.flags);
  static constexpr const char* kQcFlags[] = {
      "rtflag",          "signoiseflag",     "snloqflag",  "ionratioflag", "qcionratioflag",
      "qcrettimeflag",   "qcpeakshapeflag",  "devflag",    "recovlimflag", "replimflag",
      "matrixblankflag", "solventblankflag", "peakmissing"};
  for (const char* name : kQcFlags) {
    std::string_view value = trim(peak.attribute(name).value());
    std::optional<double> n = parseNumber(value);
    bool raised = n ? *n != 0 : util::flagWord(value).value_or(true);  // unknown word: raised
    if (!raised) continue;
    if (!p.vendorFlags.empty()) p.vendorFlags += ' ';
    p.vendorFlags.append(name).append("=").append(value);
  }
  p.calculatedConcentration = result.numeric;
  std::optional<double> deviation = number(peak, "concdevperc");
  if (nominal && result.numeric && deviation) {
    p.accuracy = 100.0 + *deviation;
  } else {
    p.accuracy = positive(peak, "percrecovery");
  }
  if (pugi::xml_node is = peak.child("ISPEAK")) {
    p.internalStandardArea = number(is, "area");
    p.internalStandardRt = number(is, "foundrt");
  }
  return p;
}

// Marks the compounds that are another compound's ISPEAK, and names them on that compound.
void linkInternalStandards(Sample& sample) {
  for (Result& result : sample.results) {
    if (!result.peak || !result.peak->internalStandardArea || !result.peak->internalStandardRt) {
      continue;
    }
    Result* match = nullptr;
    for (Result& other : sample.results) {
      if (&other == &result || !other.peak) continue;
      if (other.peak->area == result.peak->internalStandardArea &&
          other.peak->retentionTime == result.peak->internalStandardRt) {
        match = &other;
        break;
      }
    }
    if (match != nullptr) {
      match->internalStandard = true;
      result.peak->internalStandard = match->instrumentCode;
    }
  }
}

class TargetLynxParse : public XmlParse {
 public:
  StatusOr<Message> finish() override {
    if (Status screened = checkScreened(); !screened) return screened;
    pugi::xml_node root = document().document_element();
    if (std::strcmp(root.name(), "QUANDATASET") != 0) {
      return Status::invalid(locationOf(root), "the root element is not QUANDATASET");
    }
    Message message;
    message.sender = kSender;
    message.version = trim(root.attribute("version").value());
    if (pugi::xml_node file = root.child("XMLFILE")) {
      message.sentAt =
          dateTime(file.attribute("modifieddate").value(), file.attribute("modifiedtime").value());
    }
    for (pugi::xpath_node found : root.select_nodes(".//SAMPLE")) {
      StatusOr<Sample> sample = sampleOf(found.node());
      if (!sample.isOk()) return sample.status();
      message.samples.push_back(std::move(sample.value()));
    }
    if (message.samples.empty()) return Status::invalid(locationOf(root), "no SAMPLE elements");
    message.listedInRunOrder = false;  // ordered by samplenumber in the rules, see the top
    return message;
  }

 private:
  StatusOr<Sample> sampleOf(pugi::xml_node node) const {
    Sample sample;
    sample.location = locationOf(node);
    sample.sampleId = trim(node.attribute("name").value());
    if (sample.sampleId.empty()) return Status::invalid(sample.location, "SAMPLE has no name");
    sample.dataFile = sample.sampleId;
    std::optional<SampleKind> kind = sampleKindFromVendor(node.attribute("type").value());
    if (!kind) {
      return Status::invalid(sample.location,
                             "SAMPLE type is not one of Analyte, Standard, QC, Blank");
    }
    sample.kind = *kind;
    sample.nominalConcentration = positive(node, "stdconc");
    sample.dilution = positive(node, "dilutionfac");
    sample.position = trim(node.attribute("vial").value());
    sample.injection = parseInjectionNumber(node.attribute("samplenumber").value());
    sample.acquiredAt =
        dateTime(node.attribute("createdate").value(), node.attribute("createtime").value());
    for (pugi::xml_node compound : node.children("COMPOUND")) {
      Result result;
      result.location = locationOf(compound);
      result.instrumentCode = trim(compound.attribute("name").value());
      if (result.instrumentCode.empty()) {
        return Status::invalid(result.location, "COMPOUND has no name");
      }
      result.internalStandard = isInternalStandardType(compound.attribute("type").value());
      std::optional<double> nominal = positive(compound, "stdconc");
      if (pugi::xml_node peak = compound.child("PEAK")) {
        result.value = trim(peak.attribute("analconc").value());
        result.numeric = parseNumber(result.value);
        result.peak =
            peakOf(peak, result, nominal.has_value(), sample.kind == SampleKind::kCalibrator);
        result.peak->expectedConcentration = nominal;
      }
      sample.results.push_back(std::move(result));
    }
    linkInternalStandards(sample);
    return sample;
  }
};

class TargetLynxFormat : public ExportFormat {
 public:
  explicit TargetLynxFormat(std::shared_ptr<const XmlSchema> schema) : schema_(std::move(schema)) {}

  StatusOr<std::unique_ptr<ExportParse>> open(std::istream& in) const override {
    auto parse = std::make_unique<TargetLynxParse>();
    if (Status loaded = parse->load(in, schema_.get()); !loaded) return loaded;
    return std::unique_ptr<ExportParse>(std::move(parse));
  }

 private:
  std::shared_ptr<const XmlSchema> schema_;
};

}  // namespace

ExportFormatInfo targetlynxXmlFormat() {
  ExportFormatInfo info;
  info.name = "targetlynx-xml";
  info.description = "Waters TargetLynx (MassLynx) quantitation XML (QUANDATASET)";
  info.detect = [](std::string_view head) {
    return scanProlog(asciiHead(head)).root == "QUANDATASET";
  };
  info.factory = [](const ExportSettings& s) -> StatusOr<std::shared_ptr<const ExportFormat>> {
    StatusOr<std::shared_ptr<const XmlSchema>> schema = schemaFromSettings(s);
    if (!schema.isOk()) return schema.status();
    return std::shared_ptr<const ExportFormat>(std::make_shared<TargetLynxFormat>(schema.value()));
  };
  info.keys = {"xml.schema"};
  return info;
}

}  // namespace labgate::xml
