// The one place where the store's SQL differs between its two back ends (issue 17, ADR 0021).
//
// The store's statements are written once, in the SQL that SQLite 3.40 and PostgreSQL 15 both
// accept, with SQLite's `?` placeholders. What cannot be written portably is rewritten here for
// PostgreSQL, and only here:
//   - `?` placeholders become `$1`, `$2`, ... (POCO's PostgreSQL connector and libpq need them);
//   - `BEGIN IMMEDIATE` becomes `BEGIN` (PostgreSQL locks rows, not the database);
//   - `group_concat(` becomes `string_agg(`; `INDEXED BY name` and a unary `+` before a column
//     (SQLite's planner hints) are dropped;
//   - `CAST(... AS INTEGER)` casts to BIGINT (SQLite integers are 64-bit);
// and the migrations' DDL (ddlFor): INTEGER → BIGINT, REAL → DOUBLE PRECISION, BLOB → BYTEA,
// `INTEGER PRIMARY KEY` → an identity column, `TEXT COLLATE NOCASE` → CITEXT, and SQLite's
// `BEFORE UPDATE|DELETE ... RAISE(ABORT, msg)` triggers → one PL/pgSQL function that refuses.
//
// Statements on a POCO session are written `session << "SELECT ... ?"_sql, use(x), now;`: the
// `_sql` literal carries the text to the operators below, which rewrite it for the session's
// back end (nothing is rewritten for SQLite).
#pragma once

#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace labgate::sql {

enum class Backend { kSqlite, kPostgres };

/// The back end a POCO session talks to.
Backend backendOf(const Poco::Data::Session& session);

/// `statement` as `backend` accepts it (see the file comment). SQLite's text is returned as is.
/// `placeholdersBefore`: how many parameters the text this one is appended to has already (the
/// first `?` here becomes `$placeholdersBefore+1`).
std::string statementFor(std::string_view statement, Backend backend, int placeholdersBefore = 0);

/// One statement of a migration as `backend` accepts it: statementFor plus the DDL rewrites.
std::string ddlFor(std::string_view ddl, Backend backend);

/// What PostgreSQL needs before the first migration: the citext extension and the function the
/// append-only triggers call. Empty for SQLite.
std::vector<std::string> preludeFor(Backend backend);

/// An SQL expression for the database's current time in milliseconds since the Unix epoch (the
/// one clock that nodes sharing a database agree on).
std::string_view nowMillis(Backend backend);

/// A statement's text written in the store's portable SQL (see `_sql`).
struct Text {
  std::string_view text;
};

/// Runs `statement` rewritten for the session's back end (see statementFor).
Poco::Data::Statement operator<<(Poco::Data::Session& session, Text statement);
/// Appends `statement` rewritten for the statement's session's back end.
Poco::Data::Statement& operator<<(Poco::Data::Statement& target, Text statement);
/// The same on the statement a session's `<<` returned (`session << "a"_sql << "b"_sql`).
Poco::Data::Statement operator<<(Poco::Data::Statement&& target, Text statement);

namespace literals {
constexpr Text operator""_sql(const char* text, std::size_t size) {
  return Text{std::string_view(text, size)};
}
}  // namespace literals

}  // namespace labgate::sql

namespace labgate {
using namespace sql::literals;  // NOLINT(google-build-using-namespace): the store's SQL literals
}  // namespace labgate
