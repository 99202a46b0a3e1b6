// The harness's store reader (harness_store.h): the database is read through POCO's SQLite, never
// the sqlite3 shell, so no store or "leaves no trace" check can skip for want of a tool (issue 12).
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>

#include <string>

#include "tests/integration/harness.h"

namespace labgate::it {
namespace {

/// A small database like the engine's: two tables, text, numbers, a NULL and a BLOB.
std::string makeDatabase(const TempDir& dir) {
  Poco::Data::SQLite::Connector::registerConnector();
  std::string path = dir.file("store.db");
  Poco::Data::Session session("SQLite", path);
  session << "PRAGMA journal_mode=WAL", Poco::Data::Keywords::now;
  session << "CREATE TABLE audit (id INTEGER PRIMARY KEY, action TEXT, detail TEXT)",
      Poco::Data::Keywords::now;
  session << "CREATE TABLE results (id INTEGER PRIMARY KEY, sample TEXT, value REAL, raw BLOB)",
      Poco::Data::Keywords::now;
  session << "INSERT INTO audit (action, detail) VALUES ('message.refused', 'lab1 P-6'), "
             "('message.accepted', NULL)",
      Poco::Data::Keywords::now;
  session << "INSERT INTO results (sample, value, raw) VALUES ('S-100', 5.5, "
             "X'00536D697468'), ('S-101', 0.25, NULL)",
      Poco::Data::Keywords::now;
  return path;
}

TEST(HarnessStore, ReadsRowsAsTextInTheShellsListForm) {
  TempDir dir;
  const std::string db = makeDatabase(dir);
  StoreReader store(db);
  ASSERT_TRUE(store.ok()) << store.error();
  EXPECT_EQ(store.scalar("SELECT count(*) FROM audit;"), "2");
  auto rows = store.rows("SELECT action, detail FROM audit ORDER BY id;");
  ASSERT_TRUE(rows.has_value()) << store.error();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0], (StoreRow{"message.refused", "lab1 P-6"}));
  EXPECT_EQ((*rows)[1], (StoreRow{"message.accepted", ""}));  // NULL as ""
  EXPECT_EQ(storeQuery(db, "SELECT sample, value FROM results ORDER BY id;"),
            "S-100|5.5\nS-101|0.25");
  // Several statements: the rows of all of them.
  EXPECT_EQ(storeQuery(db, "SELECT 1; SELECT 'two';"), "1\ntwo");
}

TEST(HarnessStore, FailuresAreReportedNeverAnEmptyAnswer) {
  TempDir dir;
  const std::string db = makeDatabase(dir);
  StoreReader store(db);
  EXPECT_FALSE(store.rows("SELECT * FROM no_such_table;").has_value());
  EXPECT_NE(store.error().find("no_such_table"), std::string::npos) << store.error();
  // Read-only: a write is refused.
  EXPECT_FALSE(store.rows("DELETE FROM audit;").has_value());
  EXPECT_EQ(store.scalar("SELECT count(*) FROM audit;"), "2");
  // A missing database is an error, and is not created.
  StoreReader missing(dir.file("absent.db"));
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("absent.db"), std::string::npos) << missing.error();
  EXPECT_FALSE(fileExists(dir.file("absent.db")));
  EXPECT_FALSE(storeQuery(dir.file("absent.db"), "SELECT 1;").has_value());
}

TEST(HarnessStore, FindsAValueInAnyTableAndColumnCaseInsensitively) {
  TempDir dir;
  StoreReader store(makeDatabase(dir));
  EXPECT_EQ(store.columnsContaining("p-6"), (std::vector<std::string>{"audit.detail"}));
  EXPECT_EQ(store.columnsContaining("S-10"), (std::vector<std::string>{"results.sample"}));
  // Inside a BLOB too (the bytes "Smith" after a NUL).
  EXPECT_EQ(store.columnsContaining("smith"), (std::vector<std::string>{"results.raw"}));
  EXPECT_TRUE(store.columnsContaining("Doe").empty());
}

TEST(HarnessStore, TheWriteLockKeepsOtherWritersOutUntilReleased) {
  TempDir dir;
  const std::string db = makeDatabase(dir);
  StoreWriteLock lock(db);
  ASSERT_TRUE(lock.held()) << lock.error();
  {
    Poco::Data::Session other("SQLite", db);
    other.setConnectionTimeout(1);  // wait one second for the lock, not POCO's default minute
    EXPECT_THROW((other << "BEGIN IMMEDIATE", Poco::Data::Keywords::now), Poco::Exception);
  }
  // Readers still read (WAL).
  EXPECT_EQ(StoreReader(db).scalar("SELECT count(*) FROM results;"), "2");
  lock.release();
  Poco::Data::Session other("SQLite", db);
  EXPECT_NO_THROW((other << "BEGIN IMMEDIATE", Poco::Data::Keywords::now));
  EXPECT_NO_THROW((other << "ROLLBACK", Poco::Data::Keywords::now));
}

}  // namespace
}  // namespace labgate::it
