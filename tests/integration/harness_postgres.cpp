#include "tests/integration/harness_postgres.h"

#include <Poco/Environment.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <random>
#include <sstream>

#include "tests/integration/harness.h"

namespace labgate::it {

namespace {

/// libpq quoting of a key=value value: single quotes, backslash before ' and \.
std::string quotedValue(const std::string& value) {
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "'";
}

bool validDatabaseName(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (unsigned char c : name) {
    if (!(std::islower(c) || std::isdigit(c) || c == '_')) return false;
  }
  return std::isdigit(static_cast<unsigned char>(name.front())) == 0;
}

std::string randomHex(size_t digits) {
  static std::mutex mutex;
  static std::mt19937_64 random{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mutex);
  static const char* hex = "0123456789abcdef";
  std::string text;
  for (size_t i = 0; i < digits; ++i) text += hex[random() % 16];
  return text;
}

/// Runs `sql` on a fresh connection; the server's message (first line) on failure.
std::optional<std::string> runOnce(const std::string& conninfo, const std::string& sql) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  std::optional<std::string> failure;
  if (PQstatus(conn) != CONNECTION_OK) {
    failure = std::string("cannot connect: ") + PQerrorMessage(conn);
  } else {
    PGresult* result = PQexec(conn, sql.c_str());
    const auto status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      failure = PQresultErrorMessage(result);
    }
    PQclear(result);
  }
  PQfinish(conn);
  if (failure) {
    while (!failure->empty() && std::isspace(static_cast<unsigned char>(failure->back()))) {
      failure->pop_back();
    }
  }
  return failure;
}

}  // namespace

std::optional<PostgresUrl> parsePostgresUrl(const std::string& url) {
  std::string rest;
  for (const char* scheme : {"postgresql://", "postgres://"}) {
    const std::string prefix = scheme;
    if (url.rfind(prefix, 0) == 0) rest = url.substr(prefix.size());
  }
  const auto at = rest.find('@');
  const auto slash = rest.find('/', at == std::string::npos ? 0 : at);
  if (at == std::string::npos || at == 0 || slash == std::string::npos) return std::nullopt;
  PostgresUrl parsed;
  parsed.user = rest.substr(0, at);
  std::string hostPort = rest.substr(at + 1, slash - at - 1);
  parsed.database = rest.substr(slash + 1);
  const auto query = parsed.database.find('?');
  if (query != std::string::npos) parsed.database.erase(query);
  const auto colon = hostPort.rfind(':');
  if (colon != std::string::npos) {
    const std::string port = hostPort.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos) {
      return std::nullopt;
    }
    parsed.port = std::stoi(port);
    hostPort.erase(colon);
  }
  parsed.host = hostPort;
  if (parsed.host.empty() || parsed.database.empty() ||
      parsed.user.find(':') != std::string::npos) {
    return std::nullopt;  // a password in the URL is refused: it belongs in the password file
  }
  return parsed;
}

std::string postgresConnectionString(const PostgresUrl& url, const std::string& password) {
  return "host=" + quotedValue(url.host) + " port=" + std::to_string(url.port) +
         " user=" + quotedValue(url.user) + " dbname=" + quotedValue(url.database) +
         " password=" + quotedValue(password) + " connect_timeout=10 application_name=labgate-it";
}

std::string readPasswordFile(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// ---------------------------------------------------------------------------------------------
// PostgresServer

PostgresServer::PostgresServer() : own_(true) { startOwn(); }

PostgresServer::PostgresServer(const std::string& url, std::string passwordFile)
    : passwordFile_(std::move(passwordFile)) {
  auto parsed = parsePostgresUrl(url);
  if (!parsed) {
    error_ = "LABGATE_TEST_PG_URL is not of the form postgresql://USER@HOST:PORT/DB: " + url;
    return;
  }
  url_ = *parsed;
  if (!fileExists(passwordFile_)) {
    error_ = "the PostgreSQL password file " + passwordFile_ +
             " (LABGATE_TEST_PG_PASSWORD_FILE) does not exist";
    return;
  }
  if (auto failure = runOnce(connectionString(url_.database), "SELECT 1")) {
    error_ = "the PostgreSQL server at " + url + " refused the test's connection: " + *failure;
    return;
  }
  usable_ = true;
}

PostgresServer::~PostgresServer() {
  if (!own_) {
    const auto created = created_;
    for (const auto& name : created) dropDatabase(name);
  }
  stop();
}

bool PostgresServer::startOwn() {
  std::ostringstream name;
  name << "labgate-pg-" << ::getpid() << "-" << randomHex(8);
  Poco::Path dir(Poco::Path::temp());
  dir.pushDirectory(name.str());
  dir_ = dir.toString();
  if (!dir_.empty() && dir_.back() == '/') dir_.pop_back();
  captureDir_ = dir_ + "-runs";
  Poco::File(captureDir_).createDirectories();
  const std::string script = sourceDir() + "/scripts/pg-test-server";
  ProgramRun run;
  for (int attempt = 0; attempt < 3; ++attempt) {
    run = runProgram("/bin/bash", {script, "start", dir_, "--port", std::to_string(freePort())},
                     120000ms, captureDir_);
    if (run.finished && run.exitCode == 0) break;
    // A port taken meanwhile by another process: try once more on another (the script removes
    // nothing of a failed start, so stop clears the directory first).
    runProgram("/bin/bash", {script, "stop", dir_}, 60000ms, captureDir_);
  }
  if (!run.finished || run.exitCode != 0) {
    error_ = "could not start a PostgreSQL test server with " + script + " (exit " +
             std::to_string(run.exitCode) + "): " + run.err;
    return false;
  }
  running_ = true;
  std::string url;
  std::istringstream lines(run.out);
  for (std::string line; std::getline(lines, line);) {
    const std::string urlKey = "export LABGATE_TEST_PG_URL=";
    const std::string fileKey = "export LABGATE_TEST_PG_PASSWORD_FILE=";
    if (line.rfind(urlKey, 0) == 0) url = line.substr(urlKey.size());
    if (line.rfind(fileKey, 0) == 0) passwordFile_ = line.substr(fileKey.size());
  }
  auto parsed = parsePostgresUrl(url);
  if (!parsed || passwordFile_.empty()) {
    error_ = "scripts/pg-test-server start printed no usable environment lines";
    return false;
  }
  url_ = *parsed;
  if (auto failure = runOnce(connectionString(url_.database), "SELECT 1")) {
    error_ = "the PostgreSQL test server refused the test's connection: " + *failure;
    return false;
  }
  usable_ = true;
  return true;
}

bool PostgresServer::stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  usable_ = false;
  if (!own_) return true;
  bool stopped = true;
  if (running_ || fileExists(dir_)) {
    ProgramRun run = runProgram(
        "/bin/bash", {sourceDir() + "/scripts/pg-test-server", "stop", dir_}, 60000ms, captureDir_);
    if (!run.finished || run.exitCode != 0) {
      error_ = "scripts/pg-test-server stop " + dir_ + " failed: " + run.err;
      stopped = false;
    }
    running_ = false;
  }
  if (!captureDir_.empty() && !Poco::Environment::has("LABGATE_KEEP_TEST_DIRS")) {
    try {
      Poco::File(captureDir_).remove(true);
    } catch (const Poco::Exception&) {
    }
  }
  return stopped;
}

std::string PostgresServer::urlOf(const std::string& database) const {
  return "postgresql://" + url_.user + "@" + url_.host + ":" + std::to_string(url_.port) + "/" +
         database;
}

std::string PostgresServer::connectionString(const std::string& database) const {
  PostgresUrl target = url_;
  target.database = database;
  return postgresConnectionString(target, readPasswordFile(passwordFile_));
}

std::optional<std::string> PostgresServer::createDatabase(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!validDatabaseName(name)) {
    error_ = "not a test database name (lower-case letters, digits, '_'): " + name;
    return std::nullopt;
  }
  if (auto failure = runOnce(connectionString(url_.database),
                             "CREATE DATABASE \"" + name + "\" OWNER \"" + url_.user +
                                 "\" ENCODING 'UTF8' TEMPLATE template0")) {
    error_ = "CREATE DATABASE " + name + " on " + url() + " failed: " + *failure;
    return std::nullopt;
  }
  created_.push_back(name);
  return urlOf(name);
}

bool PostgresServer::dropDatabase(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!validDatabaseName(name)) {
    error_ = "not a test database name: " + name;
    return false;
  }
  if (auto failure = runOnce(connectionString(url_.database),
                             "DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)")) {
    error_ = "DROP DATABASE " + name + " failed: " + *failure;
    return false;
  }
  created_.erase(std::remove(created_.begin(), created_.end(), name), created_.end());
  return true;
}

bool PostgresServer::execute(const std::string& database, const std::string& sql) {
  if (auto failure = runOnce(connectionString(database), sql)) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = "on database " + database + ": " + *failure;
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The run's server and the engines' databases

bool testStoreIsPostgres() {
  return Poco::Environment::get("LABGATE_TEST_STORE", "sqlite") == "postgres";
}

namespace {

std::mutex runServerMutex;
std::unique_ptr<PostgresServer> runServer;

/// Stops the run's own server (or drops the databases made on a given one) once every test of the
/// program ran, while everything the script runner needs still exists.
class RunPostgresCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    std::lock_guard<std::mutex> lock(runServerMutex);
    runServer.reset();
  }
};

[[maybe_unused]] ::testing::Environment* const kRunPostgresCleanup =
    ::testing::AddGlobalTestEnvironment(new RunPostgresCleanup);  // googletest owns it

}  // namespace

PostgresServer& runPostgres() {
  auto& server = runServer;
  std::lock_guard<std::mutex> lock(runServerMutex);
  if (!server) {
    const std::string url = Poco::Environment::get("LABGATE_TEST_PG_URL", "");
    const std::string passwordFile = Poco::Environment::get("LABGATE_TEST_PG_PASSWORD_FILE", "");
    if (!url.empty() && !passwordFile.empty()) {
      server = std::make_unique<PostgresServer>(url, passwordFile);
    } else {
      server = std::make_unique<PostgresServer>();
    }
  }
  return *server;
}

namespace {

struct TestDatabases {
  std::mutex mutex;
  std::map<std::string, std::string> byDataDir;  // data.dir → database name
};

TestDatabases& testDatabases() {
  static TestDatabases databases;
  return databases;
}

}  // namespace

std::optional<std::string> testDatabaseFor(const std::string& dataDir, std::string* why) {
  auto& databases = testDatabases();
  std::lock_guard<std::mutex> lock(databases.mutex);
  PostgresServer& server = runPostgres();
  if (!server.ok()) {
    if (why)
      *why = "LABGATE_TEST_STORE=postgres, but there is no PostgreSQL server: " + server.error();
    return std::nullopt;
  }
  auto found = databases.byDataDir.find(dataDir);
  if (found != databases.byDataDir.end()) return server.urlOf(found->second);
  const std::string name = "lg_" + std::to_string(::getpid()) + "_" +
                           std::to_string(databases.byDataDir.size()) + "_" + randomHex(6);
  auto url = server.createDatabase(name);
  if (!url) {
    if (why) *why = server.error();
    return std::nullopt;
  }
  databases.byDataDir.emplace(dataDir, name);
  return url;
}

std::optional<std::string> testDatabaseConnection(const std::string& dataDir) {
  auto& databases = testDatabases();
  std::lock_guard<std::mutex> lock(databases.mutex);
  auto found = databases.byDataDir.find(dataDir);
  if (found == databases.byDataDir.end()) return std::nullopt;
  return runPostgres().connectionString(found->second);
}

}  // namespace labgate::it
