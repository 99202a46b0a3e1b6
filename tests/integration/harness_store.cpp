#include "tests/integration/harness_store.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <mutex>

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

}  // namespace

StoreReader::StoreReader(const std::string& dbPath) : path_(dbPath) {
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

StoreReader::~StoreReader() = default;

std::optional<std::vector<StoreRow>> StoreReader::rows(const std::string& sql) {
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
  if (db_ == nullptr || value.empty()) return hits;
  const std::string needle = lowered(value);
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

}  // namespace labgate::it
