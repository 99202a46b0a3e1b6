// A fresh PostgreSQL database for a store unit test (issue 17). The server is the one
// LABGATE_TEST_PG_URL and LABGATE_TEST_PG_PASSWORD_FILE name (scripts/test.sh starts one for the
// whole run), else one this test process starts with scripts/pg-test-server on first use and
// stops at exit. A server that cannot start FAILS the test with what to do: it never skips.
#pragma once

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/TemporaryFile.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>

namespace labgate::testing {

/// The run's server: its URL (postgresql://USER@HOST:PORT/DB) and password file, or an error.
struct PgServer {
  std::string url;
  std::string passwordFile;
  std::string error;
  std::string ownDir;  // started here, stopped at exit

  static PgServer& get() {
    static PgServer server = start();
    return server;
  }

 private:
  static std::string run(const std::string& command, int& status) {
    std::string out;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr) {
      status = -1;
      return out;
    }
    std::array<char, 512> buffer{};
    while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) {
      out += buffer.data();
    }
    status = ::pclose(pipe);
    return out;
  }

  static PgServer start() {
    PgServer s;
    const char* url = std::getenv("LABGATE_TEST_PG_URL");
    const char* passwordFile = std::getenv("LABGATE_TEST_PG_PASSWORD_FILE");
    if (url != nullptr && passwordFile != nullptr) {
      s.url = url;
      s.passwordFile = passwordFile;
      return s;
    }
    s.ownDir = Poco::TemporaryFile::tempName("/tmp/");
    int status = 0;
    const std::string out =
        run("bash " LABGATE_SOURCE_DIR "/scripts/pg-test-server start " + s.ownDir, status);
    if (status != 0) {
      s.error = "scripts/pg-test-server could not start a PostgreSQL server: " + out;
      s.ownDir.clear();
      return s;
    }
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      for (const auto& [key, target] :
           {std::pair<std::string, std::string*>{"export LABGATE_TEST_PG_URL=", &s.url},
            {"export LABGATE_TEST_PG_PASSWORD_FILE=", &s.passwordFile}}) {
        if (line.rfind(key, 0) == 0) *target = line.substr(key.size());
      }
    }
    static std::string stopCommand =
        "bash " LABGATE_SOURCE_DIR "/scripts/pg-test-server stop " + s.ownDir + " >/dev/null 2>&1";
    std::atexit([] { (void)std::system(stopCommand.c_str()); });
    if (s.url.empty()) s.error = "scripts/pg-test-server printed no server URL: " + out;
    return s;
  }
};

class PgTestDatabase {
 public:
  /// Creates the database; nullopt (and `error`) when there is no server or it refuses.
  static std::optional<PgTestDatabase> create(std::string& error) {
    PgServer& server = PgServer::get();
    if (!server.error.empty()) {
      error = "no PostgreSQL server for the PostgreSQL variant of this test: " + server.error;
      return std::nullopt;
    }
    PgTestDatabase db;
    std::string rest = server.url.substr(server.url.find("://") + 3);
    db.user_ = rest.substr(0, rest.find('@'));
    rest = rest.substr(rest.find('@') + 1);
    db.hostPort_ = rest.substr(0, rest.find('/'));
    std::ifstream in(server.passwordFile);
    std::getline(in, db.password_);
    std::random_device random;
    db.name_ = "lgunit_" + std::to_string(random()) + "_" + std::to_string(random() % 100000);
    try {
      Poco::Data::PostgreSQL::Connector::registerConnector();
      Poco::Data::Session admin("PostgreSQL", db.connectionStringOf("postgres"));
      admin << "CREATE DATABASE " + db.name_, Poco::Data::Keywords::now;
    } catch (const Poco::Exception& e) {
      error = "cannot create a test database on " + server.url + ": " + e.displayText();
      return std::nullopt;
    }
    db.created_ = true;
    return db;
  }

  PgTestDatabase(PgTestDatabase&& other) noexcept { *this = std::move(other); }
  PgTestDatabase& operator=(PgTestDatabase&& other) noexcept {
    if (this != &other) {
      drop();
      user_ = std::move(other.user_);
      hostPort_ = std::move(other.hostPort_);
      password_ = std::move(other.password_);
      name_ = std::move(other.name_);
      created_ = other.created_;
      other.created_ = false;
    }
    return *this;
  }
  PgTestDatabase(const PgTestDatabase&) = delete;
  PgTestDatabase& operator=(const PgTestDatabase&) = delete;
  ~PgTestDatabase() { drop(); }

  /// store.url and store.password_file of the database.
  std::string url() const { return "postgresql://" + user_ + "@" + hostPort_ + "/" + name_; }
  const std::string& passwordFile() const { return PgServer::get().passwordFile; }
  /// A libpq connection string of the database, for the test's own checks.
  std::string connectionString() const { return connectionStringOf(name_); }

 private:
  PgTestDatabase() = default;
  void drop() {
    if (!created_) return;
    created_ = false;
    try {
      Poco::Data::Session admin("PostgreSQL", connectionStringOf("postgres"));
      admin << "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)", Poco::Data::Keywords::now;
    } catch (const Poco::Exception&) {
      // A database left behind on a throwaway server is harmless.
    }
  }
  std::string connectionStringOf(const std::string& database) const {
    const size_t colon = hostPort_.rfind(':');
    return "host=" + hostPort_.substr(0, colon) + " port=" + hostPort_.substr(colon + 1) +
           " user=" + user_ + " dbname=" + database + " password='" + password_ + "'";
  }
  std::string user_, hostPort_, password_, name_;
  bool created_ = false;
};

}  // namespace labgate::testing
