// The canonical field names of a layout file (docs/connectors/exports.md): one list for the CSV
// layouts (connectors/csv/layout.cpp, "columns") and the XML layouts (connectors/xml/layout.cpp,
// "fields"), so both accept the same names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace labgate::util {

/// Every field name, in the documented order: the sample's fields (sample_id, sample_type, level,
/// dilution, position, acquired_at, data_file) and the result's.
const std::vector<std::string>& layoutFields();

/// True for the fields that describe the sample rather than one result.
bool isSampleLayoutField(std::string_view name);

/// True when `name` is one of layoutFields().
bool isLayoutField(std::string_view name);

}  // namespace labgate::util
