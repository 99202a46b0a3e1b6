// The database schema as an ordered list of migrations. Migration N brings the schema from
// version N-1 to N; the store applies the ones a database has not seen, at start-up, in one
// transaction each. Never edit a released migration: add a new one.
#pragma once

#include <string_view>
#include <vector>

namespace labgate {

const std::vector<std::string_view>& schemaMigrations();

}  // namespace labgate
