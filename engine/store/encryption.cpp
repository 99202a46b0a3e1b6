// Encryption at rest in the store (docs/adr/0008-encryption-at-rest.md): the data keys (table
// data_keys, wrapped by the KEK of security.key_file), the sealed received bytes of messages
// (table message_bodies: a blob, or for an export a sealed file under <data.dir>/bodies), sealed
// column values (users.totp_secret), and the background re-encryption under a new data key.
//
// Thread-safety: setUpEncryption runs once in Store::open; everything else may be called from any
// thread. The re-encryption runs on its own thread and writes through the group-commit writer,
// one batch per write job; it is joined when the Store goes.
#include <Poco/Data/LOB.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>
#include <openssl/crypto.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "engine/log/log.h"
#include "engine/security/crypto.h"
#include "engine/security/keyring.h"
#include "engine/store/store.h"
#include "engine/store/store_impl.h"

using namespace Poco::Data::Keywords;
using Poco::Data::Session;
using Poco::Data::Statement;

namespace labgate {
namespace {

namespace fs = std::filesystem;
using security::Keyring;

Poco::Logger& logger() { return Poco::Logger::get("store"); }

/// Overwrites a string that held received bytes or a secret.
void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
}

constexpr const char* kColumnPrefix = "enc1:";
constexpr int64_t kBlobBatch = 64;  // bodies re-sealed per write job
constexpr int64_t kFileBatch = 8;   // export files re-sealed (outside the writer) per write job

std::string bodyAad(const std::string& orgId, int64_t messageId) {
  return "message-body:" + orgId + ":" + std::to_string(messageId);
}

std::string fileAad(const std::string& orgId, const std::string& name) {
  return "message-file:" + orgId + ":" + name;
}

std::string hexOf(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0x0F]);
  }
  return out;
}

std::optional<std::string> unhex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out(text.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = value(text[2 * i]), lo = value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

/// The data key a stored column value is sealed with; nullopt for a clear (or empty) value.
std::optional<uint32_t> columnKeyId(const std::string& stored) {
  if (stored.rfind(kColumnPrefix, 0) != 0) return std::nullopt;
  std::optional<std::string> sealed = unhex(std::string_view(stored).substr(5));
  if (!sealed) return std::nullopt;
  return Keyring::sealedKeyId(*sealed);
}

Poco::Data::BLOB blobOf(const std::string& bytes) {
  return Poco::Data::BLOB(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

std::string stringOf(const Poco::Data::BLOB& blob) {
  if (blob.size() == 0) return std::string();
  return std::string(reinterpret_cast<const char*>(blob.rawContent()), blob.size());
}

std::string idsJson(const std::vector<uint32_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out + "]";
}

struct KeyRow {
  int64_t id = 0;
  std::string wrapped;
  std::string fingerprint;
  std::string retiredAt;
};

std::vector<KeyRow> readKeyRows(Session& s) {
  std::vector<KeyRow> out;
  KeyRow row;
  Poco::Data::BLOB wrapped;
  Statement select(s);
  select << "SELECT id, wrapped, kek_fingerprint, retired_at FROM data_keys ORDER BY id"_sql,
      into(row.id), into(wrapped), into(row.fingerprint), into(row.retiredAt), range(0, 1);
  while (!select.done()) {
    if (select.execute() == 0) break;
    row.wrapped = stringOf(wrapped);
    out.push_back(row);
  }
  return out;
}

security::WrappedKey wrappedOf(const KeyRow& row) {
  return security::WrappedKey{static_cast<uint32_t>(row.id), row.wrapped, row.fingerprint};
}

}  // namespace

// ---- Store::Encryption
// ----------------------------------------------------------------------------

class Store::Encryption {
 public:
  Encryption(Store& store, std::string bodiesDir)
      : impl_(*store.impl_), bodiesDir_(std::move(bodiesDir)) {}
  ~Encryption() {
    stopping_ = true;
    if (job_.joinable()) job_.join();
  }

  Status setUp();
  const std::string& bodiesDir() const { return bodiesDir_; }
  std::string bodyPath(const std::string& name) const { return bodiesDir_ + "/" + name; }

  StatusOr<ReencryptProgress> start(const AuditEvent& requestedBy);
  ReencryptProgress progress() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return progress_;
  }

 private:
  Status createDataKey(uint32_t id, const AuditEvent& by, Session* within);
  void run(uint32_t keyId, AuditEvent by);
  Status resealBlobs(uint32_t keyId, int64_t& failed);
  Status resealFiles(uint32_t keyId, int64_t& failed);
  Status resealColumns(uint32_t keyId);
  StatusOr<std::vector<uint32_t>> retireEmptyKeys(uint32_t keyId, const AuditEvent& by,
                                                  int64_t failed);
  void advance(int64_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    progress_.done += n;
  }
  void sweepOrphans();

  Store::Impl& impl_;
  std::string bodiesDir_;
  mutable std::mutex mutex_;  // progress_, job_
  ReencryptProgress progress_;
  std::thread job_;
  std::atomic<bool> stopping_{false};
};

Status Store::Encryption::setUp() {
  const std::shared_ptr<Keyring>& keyring = impl_.keyring;
  std::vector<KeyRow> rows = impl_.read([](Session& s) { return readKeyRows(s); });
  std::vector<KeyRow> active;
  int64_t maxId = 0;
  for (const KeyRow& row : rows) {
    maxId = std::max(maxId, row.id);
    if (row.retiredAt.empty()) active.push_back(row);
  }
  const std::string key = "security.key_file";
  // Without a keyring nothing is sealed or opened; whether the engine may run so is its call
  // (Store::encryptionKekFingerprint), not the store's: the console's read-only commands may.
  if (!keyring) return Status::ok();
  std::vector<KeyRow> toRewrap;
  const std::optional<std::string> previous = keyring->previousKekFingerprint();
  for (const KeyRow& row : active) {
    Status added = keyring->addDataKey(wrappedOf(row));
    if (added.code() == Status::Code::kConfig) return Status::config(key, added.reason());
    if (!added.isOk()) {
      return Status::config(
          key, "data key " + std::to_string(row.id) + " does not unwrap under key-encryption key " +
                   row.fingerprint + ": the key file or the database was altered");
    }
    if (previous && row.fingerprint == *previous) toRewrap.push_back(row);
  }
  if (!toRewrap.empty()) {
    std::vector<uint32_t> ids;
    Status rewrapped = impl_.write([&](Session& s) {
      for (const KeyRow& row : toRewrap) {
        std::optional<security::WrappedKey> w = keyring->rewrap(static_cast<uint32_t>(row.id));
        if (!w) throw std::logic_error("a data key just added is missing");
        Poco::Data::BLOB blob = blobOf(w->wrapped);
        int64_t id = row.id;
        s << "UPDATE data_keys SET wrapped = ?, kek_fingerprint = ? WHERE id = ?"_sql, use(blob),
            bind(w->kekFingerprint), use(id), now;
        ids.push_back(w->id);
      }
      impl_.appendAudit(s, {"default", "engine", "key.rewrapped", "data_keys",
                            "{\"keys\":" + idsJson(ids) + ",\"from\":\"" + *previous +
                                "\",\"to\":\"" + keyring->kekFingerprint() + "\"}"});
    });
    if (!rewrapped.isOk()) return rewrapped;
    logNotice(logger(), "re-wrapped {} data key(s) from key-encryption key {} to {}", ids.size(),
              *previous, keyring->kekFingerprint());
  } else if (previous) {
    logNotice(logger(),
              "security.previous_key_file ({}) wraps no data key any more: it may be removed from "
              "the configuration",
              *previous);
  }
  if (active.empty()) {
    Status created =
        createDataKey(static_cast<uint32_t>(maxId + 1), {"default", "engine", "", "", ""}, nullptr);
    if (!created.isOk()) return created;
  }
  // TOTP secrets stored before a key was configured are sealed now.
  Status sealed = impl_.write([&](Session& s) {
    std::vector<int64_t> ids;
    std::vector<std::string> orgs, names, secrets;
    s << "SELECT id, org_id, username, totp_secret FROM users WHERE totp_secret != '' AND "
         "totp_secret NOT LIKE 'enc1:%'"_sql,
        into(ids), into(orgs), into(names), into(secrets), now;
    for (size_t i = 0; i < ids.size(); ++i) {
      std::string stored = impl_.sealColumn(secrets[i], totpSecretAad(orgs[i], names[i]));
      s << "UPDATE users SET totp_secret = ? WHERE id = ?"_sql, use(stored), use(ids[i]), now;
    }
    if (!ids.empty()) {
      impl_.appendAudit(s, {"default", "engine", "users.totp_encrypted", "users",
                            "{\"users\":" + std::to_string(ids.size()) + "}"});
    }
  });
  if (!sealed.isOk()) return sealed;
  sweepOrphans();
  return Status::ok();
}

Status Store::Encryption::createDataKey(uint32_t id, const AuditEvent& by, Session* within) {
  auto insert = [&](Session& s) {
    security::WrappedKey w = impl_.keyring->newDataKey(id);
    Poco::Data::BLOB blob = blobOf(w.wrapped);
    int64_t keyId = id;
    std::string at = isoNow();
    s << "INSERT INTO data_keys (id, wrapped, kek_fingerprint, created_at) VALUES (?, ?, ?, ?)"_sql,
        use(keyId), use(blob), bind(w.kekFingerprint), use(at), now;
    impl_.appendAudit(
        s, {by.orgId, by.actor, "key.created", "data_key:" + std::to_string(id),
            "{\"key_id\":" + std::to_string(id) + ",\"kek\":\"" + w.kekFingerprint + "\"}"});
  };
  if (within) {
    insert(*within);
    return Status::ok();
  }
  Status status = impl_.write(insert);
  // A key whose row was not stored must seal nothing: the content would not open after a restart.
  if (!status.isOk()) impl_.keyring->forgetDataKey(id);
  return status;
}

void Store::Encryption::sweepOrphans() {
  // A sealed export file whose commit never happened (a crash between sealing and commit, or a
  // re-sealing that did not finish) is referenced by no row.
  std::error_code ec;
  if (!fs::is_directory(bodiesDir_, ec)) return;
  std::set<std::string> referenced;
  impl_.read([&](Session& s) {
    std::vector<std::string> files;
    s << "SELECT file FROM message_bodies WHERE file != ''"_sql, into(files), now;
    referenced.insert(files.begin(), files.end());
  });
  size_t removed = 0;
  for (const auto& entry : fs::directory_iterator(bodiesDir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file(ec) && !referenced.count(name) && fs::remove(entry.path(), ec)) {
      ++removed;
    }
  }
  if (removed > 0)
    logNotice(logger(), "removed {} unreferenced sealed file(s) from bodies/", removed);
}

StatusOr<ReencryptProgress> Store::Encryption::start(const AuditEvent& by) {
  if (!impl_.keyring) {
    return Status::unavailable("security.key_file",
                               "content is not encrypted at rest: set security.key_file");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (progress_.state == "running") {
    return Status::rejected("reencrypt", "a re-encryption is running");
  }
  if (job_.joinable()) job_.join();
  int64_t maxId = 0, total = 0;
  uint32_t keyId = 0;
  Status started = impl_.write([&](Session& s) {
    s << "SELECT COALESCE(MAX(id), 0) FROM data_keys"_sql, into(maxId), now;
    keyId = static_cast<uint32_t>(maxId + 1);
    int64_t bodies = 0, secrets = 0;
    s << "SELECT COUNT(*) FROM message_bodies"_sql, into(bodies), now;
    s << "SELECT COUNT(*) FROM users WHERE totp_secret != ''"_sql, into(secrets), now;
    total = bodies + secrets;
    // Within a transaction a failure throws (and rolls back all of it): the Status is always OK.
    (void)createDataKey(keyId, by, &s);
    impl_.appendAudit(
        s, {by.orgId, by.actor, "reencrypt.started", "data_key:" + std::to_string(keyId),
            "{\"key_id\":" + std::to_string(keyId) + ",\"total\":" + std::to_string(total) + "}"});
  });
  if (!started.isOk()) {
    if (keyId != 0) impl_.keyring->forgetDataKey(keyId);
    return started;
  }
  progress_ = ReencryptProgress{};
  progress_.state = "running";
  progress_.total = total;
  progress_.keyId = keyId;
  job_ = std::thread([this, keyId, by] { run(keyId, by); });
  return progress_;
}

void Store::Encryption::run(uint32_t keyId, AuditEvent by) {
  int64_t failed = 0;
  Status status = resealBlobs(keyId, failed);
  if (status.isOk()) status = resealFiles(keyId, failed);
  if (status.isOk()) status = resealColumns(keyId);
  std::vector<uint32_t> retired;
  if (status.isOk()) {
    StatusOr<std::vector<uint32_t>> done = retireEmptyKeys(keyId, by, failed);
    if (done.isOk()) {
      retired = done.value();
    } else {
      status = done.status();
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  progress_.retired = retired;
  if (!status.isOk()) {
    progress_.state = "failed";
    progress_.error = status.toString();
    logError(logger(), "re-encryption under data key {} stopped: {}", keyId, status.toString());
  } else if (failed > 0) {
    progress_.state = "failed";
    progress_.error = std::to_string(failed) +
                      " stored item(s) did not verify and were left as "
                      "they are";
    logError(logger(), "re-encryption under data key {}: {}", keyId, progress_.error);
  } else {
    progress_.state = "done";
    logNotice(logger(), "re-encryption under data key {} done: {} item(s), {} key(s) retired",
              keyId, static_cast<Poco::Int64>(progress_.done), retired.size());
  }
}

Status Store::Encryption::resealBlobs(uint32_t keyId, int64_t& failed) {
  // Each batch reads, re-seals and updates inside one write job: a body never changes after its
  // commit, and the job sees the rows as they are.
  int64_t after = 0;
  for (;;) {
    if (stopping_) return Status::unavailable("reencrypt", "the store is closing");
    int64_t count = 0;
    Status status = impl_.write([&](Session& s) {
      std::vector<int64_t> ids;
      std::vector<std::string> orgs;
      std::vector<Poco::Data::BLOB> blobs;
      int64_t key = keyId, from = after, limit = kBlobBatch;
      s << "SELECT message_id, org_id, sealed FROM message_bodies WHERE key_id != ? AND file = '' "
           "AND message_id > ? ORDER BY message_id LIMIT ?"_sql,
          use(key), use(from), use(limit), into(ids), into(orgs), into(blobs), now;
      count = static_cast<int64_t>(ids.size());
      int64_t resealed = 0;
      for (size_t i = 0; i < ids.size(); ++i) {
        after = ids[i];
        const std::string aad = bodyAad(orgs[i], ids[i]);
        std::optional<std::string> plain = impl_.keyring->open(stringOf(blobs[i]), aad);
        if (!plain) {
          ++failed;
          logError(logger(), "re-encryption: the stored body of message {} does not verify",
                   static_cast<Poco::Int64>(ids[i]));
          continue;
        }
        Poco::Data::BLOB blob = blobOf(impl_.keyring->seal(*plain, aad));
        wipe(*plain);
        s << "UPDATE message_bodies SET sealed = ?, key_id = ? WHERE message_id = ?"_sql, use(blob),
            use(key), use(ids[i]), now;
        ++resealed;
      }
      advance(resealed);
    });
    if (!status.isOk()) return status;
    if (count < kBlobBatch) return Status::ok();
  }
}

Status Store::Encryption::resealFiles(uint32_t keyId, int64_t& failed) {
  // Files are re-sealed outside the writer (they may be large): into "<name>.tmp", renamed over
  // the original, then the row is updated. A crash between the two leaves a file under the new
  // key and a row naming the old one: readable (the file names its key), re-sealed next time.
  int64_t after = 0;
  for (;;) {
    if (stopping_) return Status::unavailable("reencrypt", "the store is closing");
    std::vector<int64_t> ids;
    std::vector<std::string> orgs, files;
    int64_t key = keyId, from = after, limit = kFileBatch;
    impl_.read([&](Session& s) {
      s << "SELECT message_id, org_id, file FROM message_bodies WHERE key_id != ? AND file != '' "
           "AND message_id > ? ORDER BY message_id LIMIT ?"_sql,
          use(key), use(from), use(limit), into(ids), into(orgs), into(files), now;
    });
    std::vector<int64_t> moved;
    for (size_t i = 0; i < ids.size(); ++i) {
      after = ids[i];
      const std::string path = bodyPath(files[i]);
      Status resealed = impl_.keyring->resealFile(path, path + ".tmp", fileAad(orgs[i], files[i]));
      std::error_code ec;
      if (resealed.isOk()) fs::rename(path + ".tmp", path, ec);
      if (!resealed.isOk() || ec) {
        ++failed;
        logError(logger(), "re-encryption: the stored file of message {}: {}",
                 static_cast<Poco::Int64>(ids[i]),
                 resealed.isOk() ? ec.message() : resealed.toString());
        continue;
      }
      moved.push_back(ids[i]);
    }
    if (!moved.empty()) {
      Status status = impl_.write([&](Session& s) {
        for (int64_t id : moved) {
          s << "UPDATE message_bodies SET key_id = ? WHERE message_id = ?"_sql, use(key), use(id),
              now;
        }
      });
      if (!status.isOk()) return status;
      advance(static_cast<int64_t>(moved.size()));
    }
    if (static_cast<int64_t>(ids.size()) < kFileBatch) return Status::ok();
  }
}

Status Store::Encryption::resealColumns(uint32_t keyId) {
  return impl_.write([&](Session& s) {
    std::vector<int64_t> ids;
    std::vector<std::string> orgs, names, secrets;
    s << "SELECT id, org_id, username, totp_secret FROM users WHERE totp_secret != ''"_sql,
        into(ids), into(orgs), into(names), into(secrets), now;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (columnKeyId(secrets[i]) == std::optional<uint32_t>(keyId)) continue;
      const std::string aad = totpSecretAad(orgs[i], names[i]);
      std::string plain = impl_.openColumn(secrets[i], aad);
      if (plain.empty()) continue;  // does not open: left as it is (logged by openColumn)
      std::string stored = impl_.sealColumn(plain, aad);
      wipe(plain);
      s << "UPDATE users SET totp_secret = ? WHERE id = ?"_sql, use(stored), use(ids[i]), now;
    }
    advance(static_cast<int64_t>(ids.size()));
  });
}

StatusOr<std::vector<uint32_t>> Store::Encryption::retireEmptyKeys(uint32_t keyId,
                                                                   const AuditEvent& by,
                                                                   int64_t failed) {
  std::vector<uint32_t> retired;
  int64_t done = progress().done;
  Status status = impl_.write([&](Session& s) {
    retired.clear();
    std::vector<int64_t> live;
    s << "SELECT id FROM data_keys WHERE retired_at = '' ORDER BY id"_sql, into(live), now;
    std::set<uint32_t> inUse;
    std::vector<int64_t> bodyKeys;
    s << "SELECT DISTINCT key_id FROM message_bodies"_sql, into(bodyKeys), now;
    for (int64_t k : bodyKeys) inUse.insert(static_cast<uint32_t>(k));
    std::vector<std::string> secrets;
    s << "SELECT totp_secret FROM users WHERE totp_secret LIKE 'enc1:%'"_sql, into(secrets), now;
    for (const std::string& stored : secrets) {
      if (std::optional<uint32_t> k = columnKeyId(stored)) inUse.insert(*k);
    }
    std::string at = isoNow();
    for (int64_t id : live) {
      if (static_cast<uint32_t>(id) == keyId || inUse.count(static_cast<uint32_t>(id))) continue;
      s << "UPDATE data_keys SET retired_at = ? WHERE id = ?"_sql, use(at), use(id), now;
      retired.push_back(static_cast<uint32_t>(id));
    }
    impl_.appendAudit(
        s,
        {by.orgId, by.actor, "reencrypt.finished", "data_key:" + std::to_string(keyId),
         "{\"key_id\":" + std::to_string(keyId) + ",\"resealed\":" + std::to_string(done) +
             ",\"failed\":" + std::to_string(failed) + ",\"retired\":" + idsJson(retired) + "}"});
  });
  if (!status.isOk()) return status;
  return retired;
}

// ---- Store::Impl helpers
// ----------------------------------------------------------------------------

void Store::Impl::insertBody(Session& s, const InboundCommit& c, int64_t messageId) {
  if (!keyring) return;
  int64_t id = messageId;
  if (c.bodyFile) {
    int64_t keyId = c.bodyFile->keyId, size = c.bodyFile->size;
    // A re-encryption may have retired the key while this file was being sealed: it holds
    // content again.
    s << "UPDATE data_keys SET retired_at = '' WHERE id = ? AND retired_at != ''"_sql, use(keyId),
        now;
    s << "INSERT INTO message_bodies (message_id, org_id, key_id, size, file) VALUES (?, ?, ?, ?, "
         "?)"_sql,
        use(id), bind(c.orgId), use(keyId), use(size), bind(c.bodyFile->name), now;
  } else if (!c.rawBody.empty()) {
    std::string sealed = keyring->seal(c.rawBody, bodyAad(c.orgId, messageId));
    int64_t keyId = Keyring::sealedKeyId(sealed).value_or(0);
    int64_t size = static_cast<int64_t>(c.rawBody.size());
    Poco::Data::BLOB blob = blobOf(sealed);
    s << "INSERT INTO message_bodies (message_id, org_id, key_id, size, sealed) VALUES (?, ?, ?, "
         "?, ?)"_sql,
        use(id), bind(c.orgId), use(keyId), use(size), use(blob), now;
  }
}

std::string Store::Impl::sealColumn(const std::string& plain, const std::string& aad) const {
  if (!keyring || plain.empty()) return plain;
  return kColumnPrefix + hexOf(keyring->seal(plain, aad));
}

std::string Store::Impl::openColumn(const std::string& stored, const std::string& aad) const {
  if (stored.rfind(kColumnPrefix, 0) != 0) return stored;
  std::optional<std::string> sealed = unhex(std::string_view(stored).substr(5));
  std::optional<std::string> plain;
  if (sealed && keyring) plain = keyring->open(*sealed, aad);
  if (!plain) {
    logError(logger(), "a sealed column value does not open ({})", aad.substr(0, aad.find(':')));
    return "";
  }
  return *plain;
}

// ---- Store
// ----------------------------------------------------------------------------------------

Status Store::setUpEncryption() {
  const std::string dataDir = Poco::Path(path_).parent().toString();
  encryption_ =
      std::make_shared<Encryption>(*this, Poco::Path(dataDir).append("bodies").toString());
  return encryption_->setUp();
}

bool Store::encryptsAtRest() const { return impl_->keyring != nullptr; }

std::optional<std::string> Store::encryptionKekFingerprint() {
  return impl_->read([](Session& s) -> std::optional<std::string> {
    std::string fingerprint;
    Statement select(s);
    select << "SELECT kek_fingerprint FROM data_keys WHERE retired_at = '' ORDER BY id DESC "
              "LIMIT 1"_sql,
        into(fingerprint);
    if (select.execute() == 0) return std::nullopt;
    return fingerprint;
  });
}

StatusOr<SealedBodyFile> Store::sealBodyFile(const std::string& orgId, std::istream& in) {
  if (!impl_->keyring) {
    return Status::unavailable("security.key_file", "content is not encrypted at rest");
  }
  std::error_code ec;
  fs::create_directories(encryption_->bodiesDir(), ec);
  if (ec) return Status::io(encryption_->bodiesDir(), "cannot create: " + ec.message());
  fs::permissions(encryption_->bodiesDir(), fs::perms::owner_all, fs::perm_options::replace, ec);
  SealedBodyFile out;
  out.name = "export-" + hexOf(security::randomBytes(12)) + ".sealed";
  in.clear();
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0);
  if (!in || size < 0) return Status::io("export", "the received file cannot be read again");
  out.size = static_cast<int64_t>(size);
  const std::string path = encryption_->bodyPath(out.name);
  Status sealed = impl_->keyring->sealStream(in, path, fileAad(orgId, out.name));
  if (!sealed.isOk()) return sealed;
  std::optional<uint32_t> keyId = Keyring::sealedFileKeyId(path);
  if (!keyId) return Status::io(path, "the sealed file cannot be read back");
  out.keyId = *keyId;
  return out;
}

void Store::finishBodyFile(const InboundCommit& commit, bool stored) {
  if (!commit.bodyFile || stored || !encryption_) return;
  std::error_code ec;
  fs::remove(encryption_->bodyPath(commit.bodyFile->name), ec);
}

Status Store::readRawBody(const std::string& orgId, int64_t messageId,
                          const std::function<void(int64_t)>& start,
                          const std::function<bool(std::string_view)>& sink) {
  struct Row {
    int64_t size = 0;
    std::string file;
    Poco::Data::BLOB sealed;
  };
  std::optional<Row> row = impl_->read([&](Session& s) -> std::optional<Row> {
    Row r;
    std::string org = orgId;
    int64_t id = messageId;
    Statement select(s);
    // zeroblob() is SQLite's only: the blob is read in a second query, where it is not NULL
    // (a body without a file has one).
    select << "SELECT size, file FROM message_bodies WHERE message_id = ? AND org_id = ?"_sql,
        use(id), use(org), into(r.size), into(r.file);
    if (select.execute() == 0) return std::nullopt;
    if (r.file.empty()) {
      s << "SELECT sealed FROM message_bodies WHERE message_id = ? AND org_id = ?"_sql, use(id),
          use(org), into(r.sealed), now;
    }
    return r;
  });
  const std::string where = "message:" + std::to_string(messageId);
  if (!row || !impl_->keyring) return Status::notFound(where, "no received bytes are stored");
  if (row->file.empty()) {
    std::optional<std::string> plain =
        impl_->keyring->open(stringOf(row->sealed), bodyAad(orgId, messageId));
    if (!plain) return Status::invalid(where, "the stored body does not verify");
    start(static_cast<int64_t>(plain->size()));
    sink(*plain);
    wipe(*plain);
    return Status::ok();
  }
  const std::string path = encryption_->bodyPath(row->file);
  if (!Keyring::sealedFileKeyId(path)) {
    return Status::io(path, "the sealed file of " + where + " is missing or unreadable");
  }
  start(row->size);
  return impl_->keyring->openFileTo(path, fileAad(orgId, row->file), sink);
}

StatusOr<ReencryptProgress> Store::startReencrypt(const AuditEvent& requestedBy) {
  return encryption_->start(requestedBy);
}

ReencryptProgress Store::reencryptProgress() const { return encryption_->progress(); }

}  // namespace labgate
