// store.url and store.password_file (issue 17): where the store lives. Empty: SQLite under the
// data directory (the default). "postgresql://USER@HOST[:PORT]/DATABASE[?sslmode=MODE]": a
// PostgreSQL database, the password read from store.password_file (a secret file: mode 0600 or
// 0400, owned by this user or root) or, without it, by libpq from PGPASSFILE / ~/.pgpass.
// A password in the URL itself is refused: URLs end up in logs and shell histories.
#pragma once

#include <string>

#include "engine/model/status.h"

namespace labgate {

/// A parsed store.url for PostgreSQL.
struct PostgresTarget {
  std::string user;
  std::string host;
  int port = 5432;
  std::string database;
  std::string sslmode;   // "" = libpq's default
  std::string password;  // from store.password_file; "" = libpq finds it (PGPASSFILE)
  /// libpq's "key=value ..." connection string (with the password: never log it).
  std::string connectionString() const;
  /// The URL without any secret, for logs, /health and error messages.
  std::string display() const;
};

/// Parses `url` (which must start with postgresql:// or postgres://) and reads `passwordFile`
/// when given. Status::config("store.url" or "store.password_file", what is wrong and what to
/// do) on a bad value.
StatusOr<PostgresTarget> parseStoreUrl(const std::string& url, const std::string& passwordFile);

}  // namespace labgate
