// The registration list (see plugins.h).
#include "server/plugins.h"

#include "connectors/astm/astm_source.h"
#include "connectors/csv/formats.h"
#include "connectors/file/file_drop_source.h"
#include "connectors/hl7/mllp_destination.h"
#include "connectors/hl7/mllp_source.h"
#include "connectors/http/upload_source.h"
#include "connectors/xml/formats.h"
#include "mappings/mapping_set.h"
#include "mappings/spreadsheet_text.h"
#include "rules/rule_set.h"

namespace labgate {

namespace {

StatusOr<std::shared_ptr<const MappingStage>> loadMappingStage(const std::string& path) {
  StatusOr<MappingSet> set = MappingSet::loadCsv(path);
  if (!set.isOk()) return set.status();
  return std::shared_ptr<const MappingStage>(
      std::make_shared<const MappingSet>(std::move(set).value()));
}

/// Mapping sets stored in the database: parsed by the same CSV reader as the files. Until the
/// spreadsheet reader that reports every problem is in, the first problem is the list.
ParsedMappings parseMappingSpreadsheet(std::string_view bytes, const std::string& source) {
  ParsedMappings out;
  MappingParse parse = MappingSet::parseSpreadsheet(bytes, source);
  out.problems = std::move(parse.problems);
  if (!parse.set) return out;
  out.text = mappings::decodeSpreadsheetText(bytes).text;
  for (const Mapping& m : parse.set->mappings()) {
    out.rows.push_back(MappingRow{m.instrumentCode, m.lisCode, m.lisName, m.units, m.decimals});
  }
  out.stage = std::make_shared<const MappingSet>(std::move(*parse.set));
  return out;
}

}  // namespace

void registerPlugins(Registry& registry) {
  // Connector kinds (connector.NAME.kind) and destination kinds (destination.NAME.kind).
  astm::registerAstmSource(registry);
  hl7::registerMllpSource(registry);
  hl7::registerMllpDestination(registry);
  file::registerFileDropSource(registry);
  http::registerUploadSource(registry);
  // Export formats (connector.NAME.format) of the file-drop and upload connectors.
  csv::registerCsvFormats(registry.exportFormats());
  xml::registerXmlFormats(registry.exportFormats());
  // Pipeline stages (connector.NAME.mappings, connector.NAME.rules).
  registry.setMappingLoader(loadMappingStage);
  registry.setMappingParser(parseMappingSpreadsheet);
  registry.setRulesLoader(rules::loadRuleSet);
}

}  // namespace labgate
