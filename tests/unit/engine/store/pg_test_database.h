// A fresh PostgreSQL database for a store unit test (issue 17), on the server given by
// LABGATE_TEST_PG_URL and LABGATE_TEST_PG_PASSWORD_FILE (scripts/pg-test-server prints them;
// scripts/test.sh starts one for the whole run). Without them the PostgreSQL variant of a test
// FAILS with what to do: it never skips.
#pragma once

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/Session.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <string>

namespace labgate::testing {

class PgTestDatabase {
 public:
  /// Creates the database; nullopt (and `error`) when no server is given or it refuses.
  static std::optional<PgTestDatabase> create(std::string& error) {
    const char* url = std::getenv("LABGATE_TEST_PG_URL");
    const char* passwordFile = std::getenv("LABGATE_TEST_PG_PASSWORD_FILE");
    if (url == nullptr || passwordFile == nullptr) {
      error =
          "no PostgreSQL server for the PostgreSQL variant of this test: start one with "
          "`scripts/pg-test-server start /tmp/lgpg` and export the two lines it prints "
          "(LABGATE_TEST_PG_URL, LABGATE_TEST_PG_PASSWORD_FILE); scripts/test.sh does this";
      return std::nullopt;
    }
    PgTestDatabase db;
    db.passwordFile_ = passwordFile;
    std::string rest = std::string(url).substr(std::string("postgresql://").size());
    db.user_ = rest.substr(0, rest.find('@'));
    rest = rest.substr(rest.find('@') + 1);
    db.hostPort_ = rest.substr(0, rest.find('/'));
    std::ifstream in(passwordFile);
    std::getline(in, db.password_);
    std::random_device random;
    db.name_ = "lgunit_" + std::to_string(random()) + std::to_string(random() % 100000);
    try {
      Poco::Data::PostgreSQL::Connector::registerConnector();
      Poco::Data::Session admin("PostgreSQL", db.connectionStringOf("postgres"));
      admin << "CREATE DATABASE " + db.name_, Poco::Data::Keywords::now;
    } catch (const Poco::Exception& e) {
      error = "cannot create a test database on " + std::string(url) + ": " + e.displayText();
      return std::nullopt;
    }
    db.created_ = true;
    return db;
  }

  PgTestDatabase(PgTestDatabase&& other) noexcept { *this = std::move(other); }
  PgTestDatabase& operator=(PgTestDatabase&& other) noexcept {
    user_ = other.user_;
    hostPort_ = other.hostPort_;
    password_ = other.password_;
    passwordFile_ = other.passwordFile_;
    name_ = other.name_;
    created_ = other.created_;
    other.created_ = false;
    return *this;
  }
  ~PgTestDatabase() {
    if (!created_) return;
    try {
      Poco::Data::Session admin("PostgreSQL", connectionStringOf("postgres"));
      admin << "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)", Poco::Data::Keywords::now;
    } catch (const Poco::Exception&) {
      // A database left behind on a throwaway server is harmless.
    }
  }

  /// store.url and store.password_file of the database.
  std::string url() const { return "postgresql://" + user_ + "@" + hostPort_ + "/" + name_; }
  const std::string& passwordFile() const { return passwordFile_; }
  /// A libpq connection string of the database, for the test's own checks.
  std::string connectionString() const { return connectionStringOf(name_); }

 private:
  PgTestDatabase() = default;
  std::string connectionStringOf(const std::string& database) const {
    const size_t colon = hostPort_.rfind(':');
    return "host=" + hostPort_.substr(0, colon) + " port=" + hostPort_.substr(colon + 1) +
           " user=" + user_ + " dbname=" + database + " password='" + password_ + "'";
  }
  std::string user_, hostPort_, password_, passwordFile_, name_;
  bool created_ = false;
};

}  // namespace labgate::testing
