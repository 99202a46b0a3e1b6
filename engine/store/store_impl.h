// Store::Impl: the SQLite machinery behind Store (one writer thread doing group commit, one reader
// session), in a private header so that the other repositories of engine/store (AccountStore)
// write through the same writer and audit chain. Not part of the public API: include it only from
// engine/store/*.cpp.
#pragma once

#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Nullable.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/security/keyring.h"
#include "engine/store/audit.h"
#include "engine/store/schema.h"
#include "engine/store/sql_dialect.h"
#include "engine/store/store.h"
#include "engine/store/wal_checkpointer.h"
#include "engine/store/writer_statements.h"

namespace labgate {

/// Thrown inside a write job to roll the job back and answer `status` instead of an I/O error
/// (account and signature stores).
class Refused : public std::runtime_error {
 public:
  explicit Refused(Status status)
      : std::runtime_error(status.toString()), status_(std::move(status)) {}
  const Status& status() const { return status_; }

 private:
  Status status_;
};

/// Where the store's connections go: the SQLite file, or a PostgreSQL database (issue 17).
struct StoreConnection {
  sql::Backend backend = sql::Backend::kSqlite;
  std::string connectionString;  // the SQLite file, or libpq's "key=value ..." string
  const char* connector() const {
    return backend == sql::Backend::kPostgres ? "PostgreSQL" : "SQLite";
  }
};

inline void configureConnection(Poco::Data::Session& session) {
  using Poco::Data::Keywords::now;
  if (sql::backendOf(session) == sql::Backend::kPostgres) {
    // The server's defaults, without its NOTICEs ("already exists, skipping") on stderr.
    session << "SET client_min_messages = warning", now;
    return;
  }
  // synchronous is per connection (POCO-NOTES trap 9): set it on every session.
  session << "PRAGMA journal_mode=WAL"_sql, now;
  session << "PRAGMA synchronous=FULL"_sql, now;
  session << "PRAGMA foreign_keys=ON"_sql, now;
  session << "PRAGMA busy_timeout=10000"_sql, now;
}

/// Runs a select built with `range(0, 1)` row by row, calling `take()` after each row has been
/// read into the statement's into() targets.
template <typename Take>
void eachRow(Poco::Data::Statement& select, Take&& take) {
  while (!select.done()) {
    if (select.execute() == 0) {
      break;
    }
    take();
  }
}

/// The SQL condition of a result (alias `r`) waiting for a QA decision: held or rejected by the
/// rules and not decided by QA yet (BatchResult::waiting()). The review queue, the dashboard's
/// backlog and the /metrics gauge count with it, so that they agree.
constexpr const char* kResultWaitingSql =
    "r.disposition IN ('hold', 'reject') AND r.qa_state IN ('', 'reviewed')";

/// A nullable REAL column as an optional.
inline std::optional<double> optionalOf(const Poco::Nullable<double>& v) {
  if (v.isNull()) {
    return std::nullopt;
  }
  return v.value();
}

/// The samples of message `messageId` with their results, peaks and findings (one disposition per
/// result, in order), inside the caller's write, on the writer's prepared statements. The
/// whole-message commit and the windowed export commit (export_commit.cpp) both store them here.
void insertSamples(WriterStatements& sql, const std::string& orgId, int64_t messageId,
                   const std::vector<Sample>& samples,
                   const std::vector<Disposition>& dispositions);

/// The outbound items of message `messageId`, queued, inside the caller's write.
void insertOutbound(WriterStatements& sql, const std::string& orgId, int64_t messageId,
                    const std::vector<OutboundDraft>& drafts);

/// The batch's own rows of message `messageId` (batch findings, calibration curves, QC history,
/// metrics and the QC trends' state), inside the caller's write. The whole-message commit and the
/// windowed export commit (export_commit.cpp) both write them here, so they store a batch alike.
void insertBatchRows(Poco::Data::Session& s, const InboundCommit& c, int64_t messageId);

/// The "message.accepted" audit event of message `messageId`, with its counts.
AuditEvent acceptedEvent(const InboundCommit& c, int64_t messageId, int64_t samples,
                         int64_t results, int64_t outbound);

/// The lowest and highest id of `orgId`'s messages received within [from, to] (either may be
/// empty = open), or {0, 0} when there is none: bounds a newest-first walk over a time filter
/// exactly (engine/store/signatures.cpp; the batch and the sample searches use it).
std::pair<int64_t, int64_t> messageIdRange(Poco::Data::Session& s, const std::string& orgId,
                                           const std::string& from, const std::string& to);

/// What a user's sealed TOTP secret is bound to (users are never renamed).
inline std::string totpSecretAad(const std::string& orgId, const std::string& username) {
  return "totp-secret:" + orgId + ":" + username;
}

class Store::Impl {
 public:
  using Session = Poco::Data::Session;
  using Statement = Poco::Data::Statement;
  using Work = std::function<void(Session&)>;

  explicit Impl(StoreConnection connection)
      : connection_(std::move(connection)),
        writer_(connection_.connector(), connection_.connectionString),
        reader_(connection_.connector(), connection_.connectionString) {
    configureConnection(writer_);
    configureConnection(reader_);
    statements = std::make_unique<WriterStatements>(writer_);
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    // Before the sessions close (they are declared after `statements`, so they would go first).
    checkpointer_.reset();
    statements.reset();
  }

  Status migrate() {
    using Poco::Data::Keywords::bind;
    using Poco::Data::Keywords::into;
    using Poco::Data::Keywords::now;
    using Poco::Data::Keywords::use;
    const sql::Backend backend = connection_.backend;
    const bool postgres = backend == sql::Backend::kPostgres;
    try {
      // Nodes starting together on one PostgreSQL database migrate one after the other.
      if (postgres) writer_ << "SELECT pg_advisory_lock(?)"_sql, bind(kMigrationLock), now;
      for (const std::string& prelude : sql::preludeFor(backend)) writer_ << prelude, now;
      writer_ << sql::ddlFor("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
                             backend),
          now;
      int version = 0;
      writer_ << "SELECT COALESCE(MAX(version), 0) FROM schema_version"_sql, into(version), now;
      const auto& migrations = schemaMigrations();
      for (size_t i = static_cast<size_t>(version); i < migrations.size(); ++i) {
        writer_ << "BEGIN IMMEDIATE"_sql, now;
        try {
          // POCO prepares one statement at a time; split the migration on ';' at line ends,
          // keeping trigger bodies (which contain '; END;') whole.
          for (const auto& ddl : splitSql(migrations[i])) writer_ << sql::ddlFor(ddl, backend), now;
          int next = static_cast<int>(i + 1);
          writer_ << "INSERT INTO schema_version (version) VALUES (?)"_sql, use(next), now;
          writer_ << "COMMIT"_sql, now;
        } catch (...) {
          writer_ << "ROLLBACK"_sql, now;
          throw;
        }
      }
      if (postgres) writer_ << "SELECT pg_advisory_unlock(?)"_sql, bind(kMigrationLock), now;
      lastHash_ = loadLastHash();
    } catch (const Poco::Exception& e) {
      return Status::io("database", "schema migration failed: " + e.displayText());
    }
    try {
      if (postgres) {
        thread_ = std::thread([this] { writerLoop(); });
        return Status::ok();
      }
      // Checkpoints off the writer thread (engine/store/wal_checkpointer.h), at SQLite's default
      // WAL size.
      Session checkpoints(connection_.connector(), connection_.connectionString);
      configureConnection(checkpoints);
      checkpointer_ = std::make_unique<WalCheckpointer>(writer_, checkpoints, 1000);
    } catch (const Poco::Exception& e) {
      return Status::io("database", "cannot open the checkpoint connection: " + e.displayText());
    }
    thread_ = std::thread([this] { writerLoop(); });
    return Status::ok();
  }

  /// Runs `work` inside the next group transaction and waits until it is durable.
  Status write(Work work) {
    Job job{std::move(work), {}};
    auto done = job.done.get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return Status::unavailable("database", "the store is closing");
      jobs_.push_back(&job);
    }
    wake_.notify_one();
    return done.get();
  }

  template <typename F>
  auto read(F&& f) {
    std::lock_guard<std::mutex> lock(readerMutex_);
    return f(reader_);
  }

  /// Appends an audit event inside the current write job (on the writer session), extending the
  /// chain.
  void appendAudit(Session& /*writer*/, const AuditEvent& event) {
    std::string at = isoNow();
    std::string hash = auditChainHash(lastHash_, auditCanonicalForm(at, event));
    statements->run(
        "INSERT INTO audit (org_id, at, actor, action, subject, detail, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        event.orgId, at, event.actor, event.action, event.subject, event.detail, lastHash_, hash);
    lastHash_ = hash;
  }

  /// The writer connection's prepared statements: for use inside write jobs only.
  std::unique_ptr<WriterStatements> statements;

  // ---- encryption at rest (engine/store/encryption.cpp) ----------------------------------------
  /// Null without security.key_file. Set before the writer starts, never changed after.
  std::shared_ptr<security::Keyring> keyring;
  /// Inside a write job: stores the sealed received bytes of `commit` for message `messageId`.
  void insertBody(Session& session, const InboundCommit& commit, int64_t messageId);
  /// A column value as stored: "enc1:" + hex of the value sealed under `aad`; unchanged without a
  /// keyring or when empty.
  std::string sealColumn(const std::string& plain, const std::string& aad) const;
  /// The clear value of a stored column: a sealed one opened ("" when it does not open), a value
  /// stored before a key was configured unchanged.
  std::string openColumn(const std::string& stored, const std::string& aad) const;

  // ---- accounts (engine/store/accounts.cpp) -----------------------------------------------------
  /// Moved forward by AccountStore after every committed write that can change who a credential
  /// authenticates as (AccountStore::generation(), ADR 0020). Here, not in AccountStore, so that
  /// every AccountStore over this store sees the writes of the others.
  std::atomic<uint64_t> accountsGeneration{1};

  std::string loadLastHash() {
    return statements->selectText("SELECT hash FROM audit ORDER BY id DESC LIMIT 1")
        .value_or(std::string(kAuditGenesisHash));
  }

  /// The back end this store runs on.
  sql::Backend backend() const { return connection_.backend; }

 private:
  struct Job {
    Work work;
    std::promise<Status> done;
  };

  static std::vector<std::string> splitSql(std::string_view script) {
    std::vector<std::string> out;
    std::string current;
    size_t start = 0;
    while (start < script.size()) {
      size_t end = script.find('\n', start);
      if (end == std::string_view::npos) end = script.size();
      std::string_view line = script.substr(start, end - start);
      current.append(line).append("\n");
      bool endsStatement = !line.empty() && line.back() == ';';
      bool inTrigger = current.find("CREATE TRIGGER") != std::string::npos;
      if (endsStatement && (!inTrigger || line.find("END;") != std::string_view::npos)) {
        out.push_back(current);
        current.clear();
      }
      start = end + 1;
    }
    if (current.find_first_not_of(" \n\t") != std::string::npos) out.push_back(current);
    return out;
  }

  void writerLoop() {
    for (;;) {
      std::vector<Job*> batch;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty() && stopping_) return;
        batch.assign(jobs_.begin(), jobs_.end());
        jobs_.clear();
      }
      runBatch(batch);
    }
  }

  void runBatch(const std::vector<Job*>& batch) {
    std::vector<Status> results(batch.size());
    try {
      statements->run("BEGIN IMMEDIATE");
      if (connection_.backend == sql::Backend::kPostgres) {
        // One audit chain across every node (issue 17): the group's transactions are serialised
        // cluster-wide, and the chain continues from the hash another node may have appended.
        statements->run("SELECT pg_advisory_xact_lock(?)", kWriteLock);
        lastHash_ = loadLastHash();
      }
    } catch (const Poco::Exception& e) {
      for (auto* job : batch)
        job->done.set_value(Status::io("database", "begin failed: " + e.displayText()));
      return;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      std::string hashBefore = lastHash_;
      try {
        statements->run("SAVEPOINT job");
        batch[i]->work(writer_);
        statements->run("RELEASE SAVEPOINT job");
      } catch (const std::exception& e) {
        lastHash_ = hashBefore;
        results[i] = Status::io("database", describe(e));
        try {
          statements->run("ROLLBACK TO SAVEPOINT job");
          statements->run("RELEASE SAVEPOINT job");
        } catch (...) {
          // The transaction is gone; COMMIT below fails and reports it for every job.
        }
      }
    }
    try {
      statements->run("COMMIT");
    } catch (const Poco::Exception& e) {
      try {
        statements->run("ROLLBACK");
      } catch (...) {
      }
      lastHash_ = loadLastHash();
      for (auto& r : results) r = Status::io("database", "commit failed: " + e.displayText());
    }
    for (size_t i = 0; i < batch.size(); ++i) batch[i]->done.set_value(results[i]);
  }

  static std::string describe(const std::exception& e) {
    if (auto* p = dynamic_cast<const Poco::Exception*>(&e)) return p->displayText();
    return e.what();
  }

  /// pg_advisory_lock keys: schema migrations, and every write transaction (ADR 0021).
  static constexpr int64_t kMigrationLock = 0x4c414247'0001;  // "LABG" 1
  static constexpr int64_t kWriteLock = 0x4c414247'0002;      // "LABG" 2

  StoreConnection connection_;
  Session writer_;
  Session reader_;
  std::unique_ptr<WalCheckpointer> checkpointer_;  // set by migrate(), before the writer starts
  std::mutex readerMutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job*> jobs_;
  bool stopping_ = false;
  std::thread thread_;
  std::string lastHash_;  // touched only by the writer thread (and migrate, before it starts)
};

}  // namespace labgate
