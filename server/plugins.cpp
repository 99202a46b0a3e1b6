// The registration list (see plugins.h).
#include "server/plugins.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "connectors/astm/astm_source.h"
#include "connectors/csv/formats.h"
#include "connectors/file/file_drop_source.h"
#include "connectors/hl7/mllp_destination.h"
#include "connectors/hl7/mllp_source.h"
#include "connectors/http/upload_source.h"
#include "connectors/xml/formats.h"
#include "mappings/mapping_set.h"
#include "rules/rule_set.h"

namespace labgate {

namespace {

StatusOr<std::shared_ptr<const MappingStage>> loadMappingStage(const std::string& path) {
  StatusOr<MappingSet> set = MappingSet::loadCsv(path);
  if (!set.isOk()) return set.status();
  return std::shared_ptr<const MappingStage>(
      std::make_shared<const MappingSet>(std::move(set).value()));
}

/// The 1-based position of column `name` in the header row of `text` (0 when not found): the
/// first line that is neither blank nor a comment, split on commas.
int headerColumn(std::string_view text, const std::string& name) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    const size_t first = line.find_first_not_of(" \t\r\xEF\xBB\xBF");
    if (first == std::string_view::npos || line[first] == '#') continue;
    int column = 1;
    size_t from = 0;
    for (;;) {
      const size_t comma = line.find(',', from);
      std::string cell(
          line.substr(from, comma == std::string_view::npos ? line.size() - from : comma - from));
      const size_t b = cell.find_first_not_of(" \t\r\"\xEF\xBB\xBF");
      const size_t e = cell.find_last_not_of(" \t\r\"");
      cell = b == std::string::npos ? std::string() : cell.substr(b, e - b + 1);
      std::transform(cell.begin(), cell.end(), cell.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (cell == name) return column;
      if (comma == std::string_view::npos) return 0;
      from = comma + 1;
      ++column;
    }
  }
  return 0;
}

/// Mapping sets stored in the database: parsed by the same CSV reader as the files. Until the
/// spreadsheet reader that reports every problem is in, the first problem is the list.
ParsedMappings parseMappingSpreadsheet(std::string_view bytes, const std::string& source) {
  ParsedMappings out;
  out.text = std::string(bytes);
  StatusOr<MappingSet> set = MappingSet::parseCsv(bytes, source);
  if (!set.isOk()) {
    MappingProblemInfo problem;
    const std::string& location = set.status().location();
    const size_t colon = location.rfind(':');
    if (colon != std::string::npos) {
      problem.line = std::atoi(location.c_str() + colon + 1);
    }
    problem.message = set.status().reason();
    const std::string prefix = "column ";
    const size_t nameEnd = problem.message.find(':');
    if (problem.message.rfind(prefix, 0) == 0 && nameEnd != std::string::npos) {
      problem.columnName = problem.message.substr(prefix.size(), nameEnd - prefix.size());
      problem.column = headerColumn(bytes, problem.columnName);
    }
    out.problems.push_back(std::move(problem));
    return out;
  }
  for (const Mapping& m : set.value().mappings()) {
    out.rows.push_back(MappingRow{m.instrumentCode, m.lisCode, m.lisName, m.units, m.decimals});
  }
  out.stage = std::make_shared<const MappingSet>(std::move(set).value());
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
