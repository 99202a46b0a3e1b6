// WriterStatements: see writer_statements.h. The PostgreSQL half lives here (libpq).
#include "engine/store/writer_statements.h"

#include <Poco/Data/DataException.h>
#include <Poco/Data/PostgreSQL/SessionImpl.h>

#include <cstdio>

namespace labgate {

WriterStatements::WriterStatements(Poco::Data::Session& writer) {
  if (sql::backendOf(writer) == sql::Backend::kPostgres) {
    auto* impl = dynamic_cast<Poco::Data::PostgreSQL::SessionImpl*>(writer.impl());
    if (impl == nullptr) throw Poco::Data::DataException("not a PostgreSQL session");
    pg_ = impl->handle();
  } else {
    db_ = Poco::Data::SQLite::Utility::dbHandle(writer);
  }
}

void WriterStatements::PgParams::add(double value) {
  // Shortest text that reads back as the same double.
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  values.emplace_back(std::string(text));
}

std::optional<std::string> WriterStatements::selectText(std::string_view sql) {
  if (pg_) return pgExec(sql, PgParams{});
  Use use(db_, prepared(sql));
  if (!use.step() || sqlite3_column_type(use.stmt, 0) == SQLITE_NULL) return std::nullopt;
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(use.stmt, 0));
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(use.stmt, 0)));
}

namespace {

/// Owns a PGresult.
struct PgResult {
  PGresult* result;
  explicit PgResult(PGresult* r) : result(r) {}
  ~PgResult() { PQclear(result); }
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
};

[[noreturn]] void throwPg(PGconn* pg, const PGresult* result, std::string_view sql) {
  std::string message = result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(pg);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  throw Poco::Data::DataException(message + " [" + std::string(sql.substr(0, 120)) + "]");
}

bool isTransactionControl(std::string_view sql) {
  for (std::string_view word : {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}) {
    if (sql.substr(0, word.size()) == word) return true;
  }
  return false;
}

}  // namespace

std::optional<std::string> WriterStatements::pgExec(std::string_view sql, const PgParams& params) {
  std::vector<const char*> values;
  values.reserve(params.values.size());
  for (const auto& v : params.values) values.push_back(v ? v->c_str() : nullptr);

  PGresult* raw = nullptr;
  if (params.values.empty() && isTransactionControl(sql)) {
    const std::string text = sql::statementFor(sql, sql::Backend::kPostgres);
    raw = PQexec(pg_, text.c_str());
  } else {
    auto it = pgNames_.find(sql);
    if (it == pgNames_.end()) {
      const std::string name = "labgate_w" + std::to_string(pgNames_.size() + 1);
      const std::string text = sql::statementFor(sql, sql::Backend::kPostgres);
      PgResult prepared(PQprepare(pg_, name.c_str(), text.c_str(), 0, nullptr));
      if (PQresultStatus(prepared.result) != PGRES_COMMAND_OK) throwPg(pg_, prepared.result, sql);
      it = pgNames_.emplace(std::string(sql), name).first;
    }
    raw = PQexecPrepared(pg_, it->second.c_str(), static_cast<int>(values.size()), values.data(),
                         nullptr, nullptr, 0);
  }
  PgResult result(raw);
  const ExecStatusType status = PQresultStatus(result.result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throwPg(pg_, result.result, sql);
  if (status != PGRES_TUPLES_OK || PQntuples(result.result) == 0 ||
      PQgetisnull(result.result, 0, 0) != 0) {
    return std::nullopt;
  }
  return std::string(PQgetvalue(result.result, 0, 0),
                     static_cast<size_t>(PQgetlength(result.result, 0, 0)));
}

}  // namespace labgate
