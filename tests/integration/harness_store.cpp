#include "tests/integration/harness_store.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <stdexcept>

#include "tests/integration/harness_postgres.h"

namespace labgate::it {

namespace {

std::string lowered(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string quotedIdentifier(const std::string& name) {
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

bool isFile(const std::string& path) {
  try {
    return Poco::File(path).isFile();
  } catch (const Poco::Exception&) {
    return false;
  }
}

void registerSqlite() {
  static std::once_flag registered;
  std::call_once(registered, [] { Poco::Data::SQLite::Connector::registerConnector(); });
}

// LABGATE_TEST_STORE=postgres: DATA_DIR/labgate.db names the database the harness created for
// DATA_DIR; its libpq connection string, or std::nullopt and `why`.
std::optional<std::string> postgresFor(const std::string& dbPath, std::string* why) {
  const std::string suffix = "/labgate.db";
  if (dbPath.size() <= suffix.size() ||
      dbPath.compare(dbPath.size() - suffix.size(), suffix.size(), suffix) != 0) {
    *why = "LABGATE_TEST_STORE=postgres: " + dbPath + " is not DATA_DIR/labgate.db";
    return std::nullopt;
  }
  const std::string dataDir = dbPath.substr(0, dbPath.size() - suffix.size());
  auto conninfo = testDatabaseConnection(dataDir);
  if (!conninfo) {
    *why = "LABGATE_TEST_STORE=postgres: no PostgreSQL database was made for data.dir " + dataDir +
           " (the harness makes one when it writes an engine's config)";
  }
  return conninfo;
}

/// A connection to the PostgreSQL database of `dbPath`, or nullptr and `why`.
PGconn* connectPostgres(const std::string& dbPath, std::string* why) {
  auto conninfo = postgresFor(dbPath, why);
  if (!conninfo) return nullptr;
  PGconn* conn = PQconnectdb(conninfo->c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    *why = "cannot connect to the PostgreSQL database of " + dbPath + ": " + PQerrorMessage(conn);
    PQfinish(conn);
    return nullptr;
  }
  return conn;
}

std::string trimmed(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

/// Runs `sql` (one or several statements) on `conn`: the rows of every statement in order, or
/// std::nullopt and `why` (the first failure; the remaining results are drained).
std::optional<std::vector<StoreRow>> postgresQuery(PGconn* conn, const std::string& sql,
                                                   std::string* why) {
  if (PQsendQuery(conn, sql.c_str()) == 0) {
    *why = "PostgreSQL refused the query: " + trimmed(PQerrorMessage(conn));
    return std::nullopt;
  }
  std::vector<StoreRow> rows;
  bool failed = false;
  while (PGresult* result = PQgetResult(conn)) {
    const auto status = PQresultStatus(result);
    if (status == PGRES_TUPLES_OK) {
      const int columns = PQnfields(result);
      for (int r = 0; r < PQntuples(result); ++r) {
        StoreRow row;
        row.reserve(static_cast<size_t>(columns));
        for (int c = 0; c < columns; ++c) {
          row.emplace_back(PQgetisnull(result, r, c) != 0
                               ? std::string()
                               : std::string(PQgetvalue(result, r, c),
                                             static_cast<size_t>(PQgetlength(result, r, c))));
        }
        rows.push_back(std::move(row));
      }
    } else if (status != PGRES_COMMAND_OK && status != PGRES_EMPTY_QUERY && !failed) {
      failed = true;
      *why = "PostgreSQL: " + trimmed(PQresultErrorMessage(result));
    }
    PQclear(result);
  }
  if (failed) return std::nullopt;
  return rows;
}

/// PostgreSQL literal quoting of a text value (standard_conforming_strings is on since 9.1).
std::string quotedLiteral(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += '\'';
    quoted += c;
  }
  return quoted + "'";
}

}  // namespace

StoreReader::StoreReader(const std::string& dbPath) : path_(dbPath) {
  if (testStoreIsPostgres()) {
    pg_ = connectPostgres(dbPath, &error_);
    return;
  }
  registerSqlite();
  if (!isFile(dbPath)) {
    error_ = "no database file at " + dbPath;
    return;
  }
  try {
    // POCO opens with SQLITE_OPEN_URI: mode=ro makes the connection read-only and never creates.
    session_ = std::make_unique<Poco::Data::Session>("SQLite", "file:" + dbPath + "?mode=ro");
    db_ = Poco::Data::SQLite::Utility::dbHandle(*session_);
    if (db_ != nullptr) sqlite3_busy_timeout(db_, 10000);
  } catch (const Poco::Exception& e) {
    error_ = "cannot open " + dbPath + " read-only: " + e.displayText();
    session_.reset();
    db_ = nullptr;
  }
}

StoreReader::~StoreReader() {
  if (pg_ != nullptr) PQfinish(pg_);
}

std::optional<std::vector<StoreRow>> StoreReader::postgresRows(const std::string& sql) {
  std::string why;
  auto result = postgresQuery(pg_, sql, &why);
  if (!result) error_ = why + " (the database of " + path_ + ")";
  return result;
}

std::vector<std::string> StoreReader::postgresColumnsContaining(const std::string& needle) {
  std::vector<std::string> hits;
  auto tables = postgresRows(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
      "AND table_type = 'BASE TABLE' ORDER BY table_name");
  if (!tables) {
    hits.push_back("<unreadable: " + error_ + ">");
    return hits;
  }
  for (const auto& table : *tables) {
    const std::string& name = table.at(0);
    auto columns = postgresRows(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = " +
        quotedLiteral(name) + " ORDER BY ordinal_position");
    if (!columns || columns->empty()) {
      hits.push_back(name + ".<unreadable: " + error_ + ">");
      continue;
    }
    // Every column as text; bytea as its escape form, so text inside binary values is found too.
    std::string select;
    for (const auto& column : *columns) {
      if (!select.empty()) select += ", ";
      const std::string id = quotedIdentifier(column.at(0));
      select += column.at(1) == "bytea" ? "encode(" + id + ", 'escape')" : id + "::text";
    }
    auto data = postgresRows("SELECT " + select + " FROM " + quotedIdentifier(name));
    if (!data) {
      hits.push_back(name + ".<unreadable: " + error_ + ">");
      continue;
    }
    std::vector<bool> hit(columns->size(), false);
    for (const auto& row : *data) {
      for (size_t i = 0; i < row.size() && i < hit.size(); ++i) {
        if (!hit[i] && lowered(row[i]).find(needle) != std::string::npos) hit[i] = true;
      }
    }
    for (size_t i = 0; i < hit.size(); ++i) {
      if (hit[i]) hits.push_back(name + "." + columns->at(i).at(0));
    }
  }
  return hits;
}

std::optional<std::vector<StoreRow>> StoreReader::rows(const std::string& sql) {
  if (pg_ != nullptr) return postgresRows(sql);
  if (db_ == nullptr) return std::nullopt;
  std::vector<StoreRow> result;
  const char* next = sql.c_str();
  while (next != nullptr && *next != '\0') {
    sqlite3_stmt* statement = nullptr;
    const char* tail = nullptr;
    if (sqlite3_prepare_v2(db_, next, -1, &statement, &tail) != SQLITE_OK) {
      error_ = std::string("SQL refused on ") + path_ + ": " + sqlite3_errmsg(db_);
      sqlite3_finalize(statement);
      return std::nullopt;
    }
    next = tail;
    if (statement == nullptr) continue;  // only white space or a comment was left
    int step = SQLITE_ROW;
    while ((step = sqlite3_step(statement)) == SQLITE_ROW) {
      const int columns = sqlite3_column_count(statement);
      StoreRow row;
      row.reserve(static_cast<size_t>(columns));
      for (int i = 0; i < columns; ++i) {
        const auto* text = sqlite3_column_text(statement, i);
        const int bytes = sqlite3_column_bytes(statement, i);
        row.emplace_back(text == nullptr ? std::string()
                                         : std::string(reinterpret_cast<const char*>(text),
                                                       static_cast<size_t>(bytes)));
      }
      result.push_back(std::move(row));
    }
    if (step != SQLITE_DONE) {
      error_ = std::string("reading ") + path_ + " failed: " + sqlite3_errmsg(db_);
      sqlite3_finalize(statement);
      return std::nullopt;
    }
    sqlite3_finalize(statement);
  }
  return result;
}

std::optional<std::string> StoreReader::scalar(const std::string& sql) {
  auto result = rows(sql);
  if (!result || result->empty() || result->front().empty()) return std::nullopt;
  return result->front().front();
}

std::vector<std::string> StoreReader::columnsContaining(const std::string& value) {
  std::vector<std::string> hits;
  if (value.empty()) return hits;
  const std::string needle = lowered(value);
  if (pg_ != nullptr) return postgresColumnsContaining(needle);
  if (db_ == nullptr) return hits;
  auto tables = rows("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name;");
  if (!tables) {
    hits.push_back("<unreadable: " + error_ + ">");
    return hits;
  }
  for (const auto& table : *tables) {
    const std::string& name = table.at(0);
    auto columns = rows("SELECT name FROM pragma_table_info(" + quotedIdentifier(name) + ");");
    if (!columns) {
      hits.push_back(name + ".<unreadable: " + error_ + ">");
      continue;
    }
    std::vector<bool> hit(columns->size(), false);
    auto data = rows("SELECT * FROM " + quotedIdentifier(name) + ";");
    if (!data) {
      hits.push_back(name + ".<unreadable: " + error_ + ">");
      continue;
    }
    for (const auto& row : *data) {
      for (size_t i = 0; i < row.size() && i < hit.size(); ++i) {
        if (!hit[i] && lowered(row[i]).find(needle) != std::string::npos) hit[i] = true;
      }
    }
    for (size_t i = 0; i < hit.size(); ++i) {
      if (hit[i]) hits.push_back(name + "." + columns->at(i).at(0));
    }
  }
  return hits;
}

StoreWriteLock::StoreWriteLock(const std::string& dbPath) {
  if (testStoreIsPostgres()) {
    pg_ = connectPostgres(dbPath, &error_);
    if (pg_ == nullptr) return;
    std::string why;
    auto tables = postgresQuery(pg_,
                                "SELECT quote_ident(table_name) FROM information_schema.tables "
                                "WHERE table_schema = current_schema() AND table_type = 'BASE "
                                "TABLE'",
                                &why);
    if (!tables || tables->empty()) {
      error_ = "no tables to lock in the database of " + dbPath + (why.empty() ? "" : ": " + why);
      return;
    }
    std::string names;
    for (const auto& table : *tables) names += (names.empty() ? "" : ", ") + table.at(0);
    if (postgresQuery(
            pg_,
            "BEGIN; SET LOCAL lock_timeout = '10s'; LOCK TABLE " + names + " IN EXCLUSIVE MODE",
            &why)) {
      held_ = true;
    } else {
      error_ = "locking the tables of the database of " + dbPath + " failed: " + why;
      postgresQuery(pg_, "ROLLBACK", &why);
    }
    return;
  }
  registerSqlite();
  if (!isFile(dbPath)) {
    error_ = "no database file at " + dbPath;
    return;
  }
  try {
    session_ = std::make_unique<Poco::Data::Session>("SQLite", "file:" + dbPath + "?mode=rw");
    db_ = Poco::Data::SQLite::Utility::dbHandle(*session_);
  } catch (const Poco::Exception& e) {
    error_ = "cannot open " + dbPath + " for writing: " + e.displayText();
    return;
  }
  if (db_ == nullptr) {
    error_ = "no SQLite handle for " + dbPath;
    return;
  }
  sqlite3_busy_timeout(db_, 10000);
  char* message = nullptr;
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE;", nullptr, nullptr, &message) == SQLITE_OK) {
    held_ = true;
  } else {
    error_ = "BEGIN IMMEDIATE on " + dbPath + " failed: " + (message ? message : "?");
  }
  sqlite3_free(message);
}

StoreWriteLock::~StoreWriteLock() { release(); }

void StoreWriteLock::release() {
  if (pg_ != nullptr) {
    std::string why;
    if (held_) postgresQuery(pg_, "ROLLBACK", &why);
    held_ = false;
    PQfinish(pg_);
    pg_ = nullptr;
    return;
  }
  if (held_) {
    sqlite3_exec(db_, "ROLLBACK;", nullptr, nullptr, nullptr);
    held_ = false;
  }
  db_ = nullptr;
  session_.reset();
}

std::optional<std::string> storeQuery(const std::string& db, const std::string& sql) {
  StoreReader reader(db);
  auto result = reader.rows(sql);
  if (!result) return std::nullopt;
  std::string text;
  for (size_t r = 0; r < result->size(); ++r) {
    if (r > 0) text += '\n';
    const auto& row = (*result)[r];
    for (size_t c = 0; c < row.size(); ++c) {
      if (c > 0) text += '|';
      text += row[c];
    }
  }
  return text;
}

void storeExecute(const std::string& db, const std::vector<std::string>& statements) {
  std::string why;
  if (testStoreIsPostgres()) {
    PGconn* conn = connectPostgres(db, &why);
    if (conn == nullptr) throw std::runtime_error(why);
    for (size_t i = 0; i < statements.size(); ++i) {
      if (!postgresQuery(conn, statements[i], &why)) {
        PQfinish(conn);
        throw std::runtime_error("statement " + std::to_string(i + 1) + " failed: " + why);
      }
    }
    PQfinish(conn);
    return;
  }
  if (!isFile(db)) throw std::runtime_error("no database file at " + db);
  sqlite3* handle = nullptr;
  if (sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    why = "cannot open " + db + " for writing: " + sqlite3_errmsg(handle);
    sqlite3_close(handle);
    throw std::runtime_error(why);
  }
  sqlite3_busy_timeout(handle, 10000);
  for (size_t i = 0; i < statements.size(); ++i) {
    char* message = nullptr;
    if (sqlite3_exec(handle, statements[i].c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      why = "statement " + std::to_string(i + 1) + " on " + db +
            " failed: " + (message ? message : sqlite3_errmsg(handle));
      sqlite3_free(message);
      sqlite3_close(handle);
      throw std::runtime_error(why);
    }
  }
  sqlite3_close(handle);
}

}  // namespace labgate::it
