// Reads the engine's SQLite database from a test through POCO's SQLite connector (never the sqlite3
// shell, so no store check depends on a tool being installed): read-only, never creating the file.
//
// With LABGATE_TEST_STORE=postgres (issue 17) the same calls, given DATA_DIR/labgate.db, read the
// PostgreSQL database the harness created for that data.dir (harness_postgres.h) through libpq:
// every column as PostgreSQL's text form (NULL as the empty string). Under SQLite nothing changes.
#pragma once

#include <Poco/Data/Session.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;
struct pg_conn;

namespace labgate::it {

/// One row of a query: every column as the text SQLite gives it (NULL as the empty string).
using StoreRow = std::vector<std::string>;

/// A read-only connection to a labgate.db. The engine may run meanwhile (WAL readers do not block
/// it); a busy database is retried for up to 10 seconds.
class StoreReader {
 public:
  /// Opens `dbPath` read-only; a missing file is an error (ok() false), not a new database.
  explicit StoreReader(const std::string& dbPath);
  ~StoreReader();  // closes the connection
  StoreReader(const StoreReader&) = delete;
  StoreReader& operator=(const StoreReader&) = delete;

  bool ok() const { return db_ != nullptr || pg_ != nullptr; }
  /// What went wrong last (opening or a query), with the path; empty when nothing did.
  const std::string& error() const { return error_; }

  /// Runs `sql` (one statement or several separated by ';'): the rows of all of them in order, or
  /// std::nullopt (and error()) when the database cannot be read or the SQL fails.
  std::optional<std::vector<StoreRow>> rows(const std::string& sql);
  /// The first column of the first row of `sql`, or std::nullopt when there is none or it fails.
  std::optional<std::string> scalar(const std::string& sql);
  /// Every "table.column" (over all tables of the database) holding a value that contains `value`,
  /// compared case-insensitively on the bytes; the leaves-no-trace check for PHI.
  std::vector<std::string> columnsContaining(const std::string& value);

 private:
  std::optional<std::vector<StoreRow>> postgresRows(const std::string& sql);
  std::vector<std::string> postgresColumnsContaining(const std::string& needle);

  std::string path_;
  std::unique_ptr<Poco::Data::Session> session_;
  sqlite3* db_ = nullptr;
  pg_conn* pg_ = nullptr;  // the PostgreSQL connection (LABGATE_TEST_STORE=postgres)
  std::string error_;
};

/// Holds the database's write lock (BEGIN IMMEDIATE on a read-write connection of the test
/// process) from construction until release() or destruction, so a test can make the engine wait
/// inside a commit. held() false (and error()) when the lock could not be taken within 10 seconds.
/// On PostgreSQL: a transaction holding every table of the schema IN EXCLUSIVE MODE (readers go
/// on, every write waits).
class StoreWriteLock {
 public:
  explicit StoreWriteLock(const std::string& dbPath);
  ~StoreWriteLock();
  StoreWriteLock(const StoreWriteLock&) = delete;
  StoreWriteLock& operator=(const StoreWriteLock&) = delete;

  bool held() const { return held_; }
  const std::string& error() const { return error_; }
  /// Rolls the empty transaction back and closes the connection; the engine's commit goes on.
  void release();

 private:
  std::unique_ptr<Poco::Data::Session> session_;
  sqlite3* db_ = nullptr;
  pg_conn* pg_ = nullptr;
  bool held_ = false;
  std::string error_;
};

/// The rows of `sql` in the sqlite3 shell's list form (columns joined by '|', rows by '\n', no
/// final newline), read through StoreReader; std::nullopt when the database is missing or the SQL
/// fails.
std::optional<std::string> storeQuery(const std::string& db, const std::string& sql);

/// Runs each of `statements` on the stopped (or running) engine's database through a writing
/// connection of the test (SQLite: busy timeout 10 s; PostgreSQL: the data.dir's database).
/// Throws std::runtime_error naming the statement's position and the database's message when one
/// fails (the statements before it stay done).
void storeExecute(const std::string& db, const std::vector<std::string>& statements);

}  // namespace labgate::it
