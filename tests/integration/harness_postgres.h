// A PostgreSQL 15 server for the integration tests (issue 17), and the databases the harness gives
// each engine when the suite runs on the PostgreSQL back end (LABGATE_TEST_STORE=postgres).
//
// PostgresServer either starts a throwaway server of its own (scripts/pg-test-server: initdb in a
// temporary directory, pg_ctl start on a free loopback port, scram-sha-256 with a generated
// password in a 0600 file; as root through the `postgres` system user) and removes it at the end,
// or uses a running one given by LABGATE_TEST_PG_URL + LABGATE_TEST_PG_PASSWORD_FILE (what
// scripts/test.sh does for its PostgreSQL pass: one server for the whole run). Missing server
// programs are an error naming scripts/setup.sh, never a skip.
//
// Connections of the harness itself go through libpq (key=value connection strings); the engine
// gets a URL postgresql://USER@HOST:PORT/DB and the password file (store.url, store.password_file).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace labgate::it {

/// The parts of postgresql://USER@HOST:PORT/DB (the only URL form the harness writes or reads).
struct PostgresUrl {
  std::string user;
  std::string host;
  int port = 5432;
  std::string database;
};

/// Parses `url`; std::nullopt when it is not of the form postgresql://USER@HOST[:PORT]/DB.
std::optional<PostgresUrl> parsePostgresUrl(const std::string& url);

/// A libpq key=value connection string (values quoted) for `url` with `password`.
std::string postgresConnectionString(const PostgresUrl& url, const std::string& password);

/// The first line of a password file (without the line end); empty when it cannot be read.
std::string readPasswordFile(const std::string& path);

class PostgresServer {
 public:
  /// Starts a server of its own in a fresh directory under the system temp directory. ok() false
  /// (and error(), naming scripts/setup.sh when the programs are missing) when it cannot.
  PostgresServer();
  /// Uses the running server at `url` (a database the user may connect to; the user needs
  /// CREATEDB) with the password in `passwordFile`; starts and stops nothing.
  PostgresServer(const std::string& url, std::string passwordFile);
  /// Drops the databases createDatabase() made (on a server given by URL) or stops and removes
  /// the server (its own).
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  /// true while the server answers the test's login (started, or given and reachable) and until
  /// stop().
  bool ok() const { return usable_; }
  /// Why the server is not usable, or what the last failed call said; empty when nothing failed.
  /// Reading it from another thread while a call runs is not supported.
  const std::string& error() const { return error_; }
  /// true when this object started the server (and stops it).
  bool own() const { return own_; }
  const std::string& host() const { return url_.host; }
  int port() const { return url_.port; }
  const std::string& user() const { return url_.user; }
  /// The 0600 file holding the user's password (what store.password_file names).
  const std::string& passwordFile() const { return passwordFile_; }
  /// The URL of the server's maintenance database (postgresql://USER@HOST:PORT/DB).
  std::string url() const { return urlOf(url_.database); }
  std::string urlOf(const std::string& database) const;
  /// The libpq connection string of `database` on this server, password included.
  std::string connectionString(const std::string& database) const;

  /// Creates the empty database `name` (lower-case letters, digits and '_', at most 63) owned by
  /// user(): its URL, or std::nullopt (and error()) when it cannot.
  std::optional<std::string> createDatabase(const std::string& name);
  /// Drops `name` (closing the connections still open on it); false (and error()) on failure.
  bool dropDatabase(const std::string& name);
  /// Runs `sql` on `database`; false (and error()) when it fails.
  bool execute(const std::string& database, const std::string& sql);

  /// Stops the server this object started and removes its directory (nothing for a server given
  /// by URL): false (and error()) when the script failed. Idempotent; the destructor calls it.
  bool stop();

 private:
  bool startOwn();

  bool own_ = false;
  bool running_ = false;
  bool usable_ = false;
  PostgresUrl url_;
  std::string passwordFile_;
  std::string dir_;         // the own server's directory (scripts/pg-test-server's DIR)
  std::string captureDir_;  // stdout/stderr of the script runs
  std::vector<std::string> created_;
  std::string error_;
  std::mutex mutex_;
};

/// true when LABGATE_TEST_STORE=postgres: the engines of this run store in PostgreSQL.
bool testStoreIsPostgres();

/// The run's server: the one given by LABGATE_TEST_PG_URL + LABGATE_TEST_PG_PASSWORD_FILE when
/// both are set, else one of the test process's own, started on first use and removed when the
/// test program's tests are done (a googletest environment's TearDown: the databases made on a
/// given server are dropped then). Check ok() / error().
PostgresServer& runPostgres();

/// The database of the engine whose data.dir is `dataDir` on the run's server: created on the
/// first call for that directory, the same one afterwards. Its URL, or std::nullopt and `why`.
std::optional<std::string> testDatabaseFor(const std::string& dataDir, std::string* why);

/// The libpq connection string of the database testDatabaseFor() gave `dataDir`, or std::nullopt
/// when none was created for it.
std::optional<std::string> testDatabaseConnection(const std::string& dataDir);

}  // namespace labgate::it
