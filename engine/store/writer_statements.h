// WriterStatements: the SQL statements of the store's writer connection, each prepared once and
// kept for the life of the connection (issue 16). POCO Data prepares, binds and finalises a
// statement per execution; under intake load compiling the same INSERTs again took about a
// quarter of the engine's CPU, on the one writer thread that every commit waits for.
//
// On PostgreSQL (issue 17) the same statements are rewritten once (engine/store/sql_dialect.h),
// prepared on the writer's libpq connection and executed with their parameters as text.
//
// Thread-safety: none. Only the writer thread uses it (inside Store::Impl::write jobs and the
// group-commit loop), as it is the only user of the writer connection. Private to engine/store.
#pragma once

#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "engine/store/sql_dialect.h"

namespace labgate {

class WriterStatements {
 public:
  explicit WriterStatements(Poco::Data::Session& writer);
  ~WriterStatements() {
    for (auto& entry : cache_) sqlite3_finalize(entry.second);
  }
  WriterStatements(const WriterStatements&) = delete;
  WriterStatements& operator=(const WriterStatements&) = delete;

  /// Runs `sql` with `args` bound to its parameters in order (strings as TEXT, integers as
  /// INTEGER, doubles as REAL, an empty optional or nullptr as NULL), to completion. Throws the
  /// exception POCO's SQLite connector throws for the same error; the statement is reset either
  /// way. The arguments must stay alive for the call (they are bound without a copy).
  template <typename... Args>
  void run(std::string_view sql, const Args&... args) {
    if (pg_) {
      PgParams params;
      params.addAll(args...);
      pgExec(sql, params);
      return;
    }
    Use use(db_, prepared(sql));
    use.bindAll(args...);
    while (use.step()) {
    }
  }

  /// Runs a query of one column of one row: its integer value, or nullopt when there is no row or
  /// the value is NULL.
  template <typename... Args>
  std::optional<int64_t> selectInt(std::string_view sql, const Args&... args) {
    if (pg_) {
      PgParams params;
      params.addAll(args...);
      std::optional<std::string> text = pgExec(sql, params);
      if (!text) return std::nullopt;
      return std::stoll(*text);
    }
    Use use(db_, prepared(sql));
    use.bindAll(args...);
    if (!use.step() || sqlite3_column_type(use.stmt, 0) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_int64(use.stmt, 0);
  }

  /// The id of the last row inserted on the writer connection (SQLite's rowid; PostgreSQL's
  /// lastval(), the identity column's sequence).
  int64_t lastInsertRowid() {
    if (pg_) return selectInt("SELECT lastval()").value_or(0);
    return sqlite3_last_insert_rowid(db_);
  }

  /// Runs a query of one column of one row: its text, or nullopt when there is no row or NULL.
  std::optional<std::string> selectText(std::string_view sql);

  /// The back end the writer connection talks to.
  sql::Backend backend() const { return pg_ ? sql::Backend::kPostgres : sql::Backend::kSqlite; }

 private:
  /// The parameters of one PostgreSQL execution, as text (NULL: nullopt).
  struct PgParams {
    std::vector<std::optional<std::string>> values;
    template <typename... Args>
    void addAll(const Args&... args) {
      (add(args), ...);
    }
    void add(std::string_view text) { values.emplace_back(std::string(text)); }
    void add(const std::string& text) { values.emplace_back(text); }
    void add(const char* text) { values.emplace_back(std::string(text)); }
    void add(double value);
    void add(std::nullptr_t) { values.emplace_back(std::nullopt); }
    template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
    void add(T value) {
      values.emplace_back(std::to_string(static_cast<long long>(value)));
    }
    template <typename T>
    void add(const std::optional<T>& value) {
      if (value) {
        add(*value);
      } else {
        add(nullptr);
      }
    }
  };

  /// Executes `sql` (prepared once per connection) with `params` on PostgreSQL; throws
  /// Poco::Data::DataException with the server's message on an error. Returns the first column
  /// of the first row, if any.
  std::optional<std::string> pgExec(std::string_view sql, const PgParams& params);

  /// One execution: binds, steps, and resets the statement when it ends (also by an exception),
  /// so that no statement stays active into a COMMIT or ROLLBACK.
  struct Use {
    sqlite3* db;
    sqlite3_stmt* stmt;
    Use(sqlite3* d, sqlite3_stmt* s) : db(d), stmt(s) {}
    ~Use() {
      sqlite3_reset(stmt);
      sqlite3_clear_bindings(stmt);
    }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

    template <typename... Args>
    void bindAll(const Args&... args) {
      int index = 0;
      (bindOne(++index, args), ...);
    }
    /// True for a row, false when done; throws on an error.
    bool step() {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_ROW) return true;
      if (rc != SQLITE_DONE) Poco::Data::SQLite::Utility::throwException(db, rc);
      return false;
    }
    void check(int rc) const {
      if (rc != SQLITE_OK) Poco::Data::SQLite::Utility::throwException(db, rc);
    }
    void bindOne(int i, std::string_view text) {
      check(sqlite3_bind_text(stmt, i, text.data() ? text.data() : "",
                              static_cast<int>(text.size()), SQLITE_STATIC));
    }
    void bindOne(int i, const std::string& text) { bindOne(i, std::string_view(text)); }
    void bindOne(int i, const char* text) { bindOne(i, std::string_view(text)); }
    void bindOne(int i, double value) { check(sqlite3_bind_double(stmt, i, value)); }
    void bindOne(int i, std::nullptr_t) { check(sqlite3_bind_null(stmt, i)); }
    template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
    void bindOne(int i, T value) {
      check(sqlite3_bind_int64(stmt, i, static_cast<sqlite3_int64>(value)));
    }
    template <typename T>
    void bindOne(int i, const std::optional<T>& value) {
      if (value) {
        bindOne(i, *value);
      } else {
        bindOne(i, nullptr);
      }
    }
  };

  sqlite3_stmt* prepared(std::string_view sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      Poco::Data::SQLite::Utility::throwException(db_, rc, std::string(sql));
    }
    cache_.emplace(std::string(sql), stmt);
    return stmt;
  }

  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
  PGconn* pg_ = nullptr;                                     // set on PostgreSQL (db_ is then null)
  std::map<std::string, std::string, std::less<>> pgNames_;  // portable SQL → prepared name
};

}  // namespace labgate
