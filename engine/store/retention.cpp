// Retention: prunable messages, archives (written, verified, recorded) and pruning (see
// retention.h). SQL on the store is portable between SQLite 3.40 and PostgreSQL 15.
#include "engine/store/retention.h"

#include <Poco/Data/LOB.h>
#include <Poco/Data/RecordSet.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DeflatingStream.h>
#include <Poco/File.h>
#include <Poco/InflatingStream.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Path.h>
#include <Poco/Timestamp.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>

#include "engine/security/posix_file.h"
#include "engine/store/audit.h"
#include "engine/store/backup.h"
#include "engine/store/backup_detail.h"
#include "engine/store/store.h"
#include "engine/store/store_impl.h"
#include "labgate/version.h"
#include "util/json_quote.h"

namespace labgate::retention {
namespace {

using backup::detail::bytesOfHex;
using backup::detail::TempFolder;
using Poco::Data::Session;
using Poco::Data::Statement;
using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;
using security::Fd;

constexpr const char* kFormat = "labgate-archive";
constexpr int kFormatVersion = 1;
constexpr size_t kChunk = size_t{1} << 20;  // body bytes per payload row, file copy buffer
constexpr size_t kMaxHeaderBytes = 64 * 1024;

// ---- the SQL conditions (alias m = messages) ----------------------------------------------------

/// Nothing of the message may wait: every outbound item delivered, no result waiting for QA.
const std::string& eligibleSql() {
  static const std::string sql =
      std::string(
          "NOT EXISTS (SELECT 1 FROM outbound o WHERE o.message_id = m.id AND o.state <> "
          "'delivered') AND NOT EXISTS (SELECT 1 FROM samples s JOIN results r ON "
          "r.sample_row_id = s.id WHERE s.message_id = m.id AND ") +
      kResultWaitingSql + ")";
  return sql;
}
constexpr const char* kHasBodySql =
    "EXISTS (SELECT 1 FROM message_bodies b WHERE b.message_id = m.id)";
constexpr const char* kHasPeaksSql =
    "EXISTS (SELECT 1 FROM samples s2 JOIN results r2 ON r2.sample_row_id = s2.id JOIN peaks p "
    "ON p.result_id = r2.id WHERE s2.message_id = m.id)";
constexpr const char* kArchivedSql =
    "EXISTS (SELECT 1 FROM archive_items a WHERE a.message_id = m.id)";

std::string contentSql(bool bodies, bool peaks) {
  if (bodies && !peaks) return kHasBodySql;
  if (peaks && !bodies) return kHasPeaksSql;
  return std::string("(") + kHasBodySql + " OR " + kHasPeaksSql + ")";
}

std::string errnoText() { return std::strerror(errno); }

std::string jsonString(const std::string& s) { return util::jsonQuote(s); }

std::string isoOfMillis(int64_t millis) {
  return Poco::DateTimeFormatter::format(Poco::Timestamp(millis * 1000), "%Y-%m-%dT%H:%M:%S.%iZ");
}

void registerSqlite() {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Data::SQLite::Connector::registerConnector(); });
}

struct MdFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Md = std::unique_ptr<EVP_MD_CTX, MdFree>;

Md newSha256() {
  Md ctx(EVP_MD_CTX_new());
  if (ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) ctx.reset();
  return ctx;
}

std::string finishHex(EVP_MD_CTX* ctx) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx, digest, &size);
  return backup::detail::hexOf(std::string(reinterpret_cast<const char*>(digest), size));
}

void removeQuietly(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

/// Appends the bytes of `in` from `offset` to its end to the open file `out`.
Status copyTail(const std::string& in, uint64_t offset, int out, const std::string& outName) {
  Fd src(::open(in.c_str(), O_RDONLY | O_CLOEXEC));
  if (src.get() < 0) return Status::io(in, "cannot open: " + errnoText());
  if (::lseek(src.get(), static_cast<off_t>(offset), SEEK_SET) < 0) {
    return Status::io(in, "cannot seek: " + errnoText());
  }
  std::string buffer(kChunk, '\0');
  for (;;) {
    ssize_t n = security::readFull(src.get(), buffer.data(), buffer.size());
    if (n < 0) return Status::io(in, "read failed: " + errnoText());
    if (n == 0) return Status::ok();
    if (!security::writeFull(out, std::string_view(buffer.data(), static_cast<size_t>(n)))) {
      return Status::io(outName, "write failed: " + errnoText());
    }
  }
}

Status syncDirectoryOf(const std::string& file) {
  const std::string dir = Poco::Path(file).makeAbsolute().parent().toString();
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
    return Status::io(dir, "cannot sync the directory: " + errnoText());
  }
  return Status::ok();
}

/// A value of a payload row as JSON: null, a number (shortest round-trip form) or a string.
std::string jsonValue(const Poco::Dynamic::Var& v) {
  if (v.isEmpty()) return "null";
  if (v.isString()) return jsonString(v.extract<std::string>());
  if (v.isInteger()) return std::to_string(v.convert<int64_t>());
  if (v.isNumeric()) {
    const double d = v.convert<double>();
    char buffer[64];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, d);
    if (ec != std::errc()) return "null";
    return std::string(buffer, end);
  }
  return jsonString(v.convert<std::string>());
}

std::string encodeHeader(const std::string& kekFingerprint, const security::WrappedKey& key,
                         const Summary& summary) {
  std::string json = std::string("{\"format\":") + jsonString(kFormat) +
                     ",\"format_version\":" + std::to_string(kFormatVersion) +
                     ",\"kek_fingerprint\":" + jsonString(kekFingerprint) +
                     ",\"data_key\":{\"id\":" + std::to_string(key.id) +
                     ",\"wrapped\":" + jsonString(backup::detail::hexOf(key.wrapped)) +
                     "},\"summary\":" + summary.toJson() + "}";
  std::string out = kArchiveMagic;
  const uint32_t length = static_cast<uint32_t>(json.size());
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((length >> shift) & 0xFF);
  return out + json;
}

struct Header {
  std::string raw;  // the exact bytes, the payload's AAD
  std::string kekFingerprint;
  security::WrappedKey dataKey;
  Summary summary;
};

std::optional<std::string> textOf(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (o.isNull() || !o->has(key)) return std::nullopt;
  Poco::Dynamic::Var v = o->get(key);
  if (!v.isString()) return std::nullopt;
  return v.extract<std::string>();
}
std::optional<int64_t> numberOf(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (o.isNull() || !o->has(key)) return std::nullopt;
  Poco::Dynamic::Var v = o->get(key);
  if (!v.isInteger()) return std::nullopt;
  return v.convert<int64_t>();
}

StatusOr<Header> readHeader(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Status::io(path, "cannot open: " + errnoText());
  std::string bytes(8, '\0');
  if (security::readFull(fd.get(), bytes.data(), 8) != 8 ||
      bytes.compare(0, 4, kArchiveMagic) != 0) {
    return Status::invalid(path, "not a LabGate archive (no LGA1 magic)");
  }
  uint32_t length = 0;
  for (int i = 4; i < 8; ++i) length = length << 8 | static_cast<unsigned char>(bytes[i]);
  if (length == 0 || length > kMaxHeaderBytes) {
    return Status::invalid(path, "archive header length out of range");
  }
  bytes.resize(8 + length);
  if (security::readFull(fd.get(), bytes.data() + 8, length) != static_cast<ssize_t>(length)) {
    return Status::invalid(path, "archive header truncated");
  }
  Poco::JSON::Object::Ptr root;
  try {
    Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(bytes.substr(8));
    if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) {
      root = parsed.extract<Poco::JSON::Object::Ptr>();
    }
  } catch (const Poco::Exception&) {
  }
  if (root.isNull()) return Status::invalid(path, "archive header is not a JSON object");
  if (textOf(root, "format") != std::string(kFormat) ||
      numberOf(root, "format_version") != kFormatVersion) {
    return Status::invalid(path, "not a labgate-archive of format version 1");
  }
  Header h;
  h.raw = bytes;
  Poco::JSON::Object::Ptr key = root->getObject("data_key");
  Poco::JSON::Object::Ptr s = root->getObject("summary");
  auto fingerprint = textOf(root, "kek_fingerprint");
  auto keyId = numberOf(key, "id");
  auto wrappedHex = textOf(key, "wrapped");
  std::optional<std::string> wrapped = wrappedHex ? bytesOfHex(*wrappedHex) : std::nullopt;
  if (!fingerprint || !keyId || *keyId < 0 || *keyId > UINT32_MAX || !wrapped || s.isNull()) {
    return Status::invalid(path, "archive header: key or summary missing or malformed");
  }
  h.kekFingerprint = *fingerprint;
  h.dataKey = {static_cast<uint32_t>(*keyId), *wrapped, *fingerprint};
  Summary& m = h.summary;
  for (auto [name, out] : {std::pair<const char*, std::string*>{"created_at", &m.createdAt},
                           {"before", &m.before},
                           {"labgated_version", &m.version},
                           {"first_received", &m.firstReceived},
                           {"last_received", &m.lastReceived},
                           {"payload_sha256", &m.payloadSha256}}) {
    auto v = textOf(s, name);
    if (!v) return Status::invalid(path, std::string("archive summary: ") + name + " missing");
    *out = *v;
  }
  for (auto [name, out] : {std::pair<const char*, int64_t*>{"messages", &m.messages},
                           {"samples", &m.samples},
                           {"bodies", &m.bodies},
                           {"body_bytes", &m.bodyBytes},
                           {"peaks", &m.peaks},
                           {"first_message", &m.firstMessage},
                           {"last_message", &m.lastMessage},
                           {"payload_bytes", &m.payloadBytes}}) {
    auto v = numberOf(s, name);
    if (!v || *v < 0) {
      return Status::invalid(path, std::string("archive summary: ") + name + " missing");
    }
    *out = *v;
  }
  return h;
}

const char* kPayloadSchema[] = {
    "CREATE TABLE info (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE messages (id INTEGER PRIMARY KEY, org_id TEXT NOT NULL, connector TEXT NOT "
    "NULL, instrument TEXT NOT NULL, format TEXT NOT NULL, control_id TEXT NOT NULL, sender TEXT "
    "NOT NULL, source_name TEXT NOT NULL, received_at TEXT NOT NULL, content_sha256 TEXT NOT "
    "NULL, sample_count INTEGER NOT NULL, result_count INTEGER NOT NULL)",
    "CREATE TABLE samples (message_id INTEGER NOT NULL, sample_id TEXT NOT NULL, kind TEXT NOT "
    "NULL, acquired_at TEXT NOT NULL)",
    "CREATE TABLE peaks (message_id INTEGER NOT NULL, result_id INTEGER NOT NULL, sample_id TEXT "
    "NOT NULL, instrument_code TEXT NOT NULL, lis_code TEXT NOT NULL, peak TEXT NOT NULL)",
    "CREATE TABLE bodies (message_id INTEGER PRIMARY KEY, org_id TEXT NOT NULL, size INTEGER NOT "
    "NULL, sha256 TEXT NOT NULL)",
    "CREATE TABLE body_chunks (message_id INTEGER NOT NULL, seq INTEGER NOT NULL, data BLOB NOT "
    "NULL, PRIMARY KEY (message_id, seq))",
};

struct MessageRow {
  std::string orgId, connector, instrument, format, controlId, sender, sourceName, receivedAt,
      contentSha256;
  int64_t sampleCount = 0, resultCount = 0;
};

}  // namespace

// ---- times
// ----------------------------------------------------------------------------------------

std::optional<std::string> normaliseBound(const std::string& text) {
  std::string t = text;
  if (t.size() == 10) t += "T00:00:00Z";
  std::optional<int64_t> millis = isoToUnixMillis(t);
  if (!millis) return std::nullopt;
  return isoOfMillis(*millis);
}

std::optional<std::string> daysBefore(const std::string& nowIso, int64_t days) {
  std::optional<int64_t> millis = isoToUnixMillis(nowIso);
  if (!millis) return std::nullopt;
  return isoOfMillis(*millis - days * 86400000);
}

std::string Summary::toJson() const {
  return std::string("{\"created_at\":") + jsonString(createdAt) +
         ",\"before\":" + jsonString(before) + ",\"labgated_version\":" + jsonString(version) +
         ",\"messages\":" + std::to_string(messages) + ",\"samples\":" + std::to_string(samples) +
         ",\"bodies\":" + std::to_string(bodies) + ",\"body_bytes\":" + std::to_string(bodyBytes) +
         ",\"peaks\":" + std::to_string(peaks) +
         ",\"first_message\":" + std::to_string(firstMessage) +
         ",\"last_message\":" + std::to_string(lastMessage) +
         ",\"first_received\":" + jsonString(firstReceived) +
         ",\"last_received\":" + jsonString(lastReceived) +
         ",\"payload_sha256\":" + jsonString(payloadSha256) +
         ",\"payload_bytes\":" + std::to_string(payloadBytes) + "}";
}

// ---- selection --------------------------------------------------------------------------------

std::vector<int64_t> RetentionStore::select(const std::string& before, bool bodies, bool peaks,
                                            bool archivedOnly) {
  std::string query = "SELECT m.id FROM messages m WHERE m.received_at < ? AND " +
                      contentSql(bodies, peaks) + " AND " + eligibleSql();
  if (archivedOnly) query += std::string(" AND ") + kArchivedSql;
  query += " ORDER BY m.id";
  return store_.impl_->read([&](Session& s) {
    std::vector<int64_t> ids;
    std::string bound = before;
    s << sql::Text{query}, use(bound), into(ids), now;
    return ids;
  });
}

std::vector<int64_t> RetentionStore::prunable(const std::string& before) {
  return select(before, true, true, false);
}

// ---- archives ---------------------------------------------------------------------------------

StatusOr<Written> RetentionStore::writeArchive(
    const std::string& before, const security::KeyEncryptionKey& kek, const std::string& out,
    const std::string& workDir, const std::string& actor,
    const std::function<void(const std::string&)>& progress) {
  auto tell = [&](const std::string& line) {
    if (progress) progress(line);
  };
  if (Poco::File(out).exists()) {
    return Status::rejected(out, "exists already: an archive is never overwritten");
  }
  if (Poco::File(out + ".partial").exists()) {
    // An earlier run stopped before the rename: the file was never recorded nor pruned by.
    tell("removing " + out + ".partial left by an interrupted run");
    removeQuietly(out + ".partial");
  }
  const std::vector<int64_t> ids = prunable(before);
  Written written;
  written.path = out;
  if (ids.empty()) return written;
  tell(std::to_string(ids.size()) + " message(s) received before " + before +
       " may be pruned: archiving them");

  StatusOr<std::shared_ptr<TempFolder>> work = TempFolder::make(workDir, "archive-work-");
  if (!work.isOk()) return work.status();
  const std::string payload = work.value()->file("payload.db");
  Summary& sum = written.summary;
  sum.createdAt = isoNow();
  sum.before = before;
  sum.version = kVersion;
  registerSqlite();
  Store::Impl& impl = *store_.impl_;
  try {
    Session p("SQLite", payload);
    p << "PRAGMA journal_mode=OFF", now;
    p << "PRAGMA synchronous=OFF", now;
    for (const char* sql : kPayloadSchema) p << sql, now;
    p << "BEGIN", now;
    for (int64_t id : ids) {
      MessageRow m;
      int64_t messageId = id;
      bool found = impl.read([&](Session& s) {
        Statement select(s);
        select << "SELECT org_id, connector, instrument, format, control_id, sender, "
                  "source_name, received_at, content_sha256, sample_count, result_count FROM "
                  "messages WHERE id = ?"_sql,
            use(messageId), into(m.orgId), into(m.connector), into(m.instrument), into(m.format),
            into(m.controlId), into(m.sender), into(m.sourceName), into(m.receivedAt),
            into(m.contentSha256), into(m.sampleCount), into(m.resultCount);
        return select.execute() > 0;
      });
      if (!found) continue;
      p << "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", use(messageId),
          use(m.orgId), use(m.connector), use(m.instrument), use(m.format), use(m.controlId),
          use(m.sender), use(m.sourceName), use(m.receivedAt), use(m.contentSha256),
          use(m.sampleCount), use(m.resultCount), now;
      ++sum.messages;
      if (sum.firstMessage == 0) {
        sum.firstMessage = messageId;
        sum.firstReceived = m.receivedAt;
      }
      sum.lastMessage = messageId;
      if (m.receivedAt > sum.lastReceived) sum.lastReceived = m.receivedAt;
      if (m.receivedAt < sum.firstReceived) sum.firstReceived = m.receivedAt;

      // Samples: what identifies the content (sample ids hold no PHI: the gate screened them).
      std::vector<std::string> sampleIds, kinds, acquired;
      impl.read([&](Session& s) {
        s << "SELECT sample_id, kind, acquired_at FROM samples WHERE message_id = ? ORDER BY id"_sql,
            use(messageId), into(sampleIds), into(kinds), into(acquired), now;
      });
      if (!sampleIds.empty()) {
        // Vectors bound: one prepared statement, executed per row.
        std::vector<int64_t> owners(sampleIds.size(), messageId);
        p << "INSERT INTO samples VALUES (?, ?, ?, ?)", use(owners), use(sampleIds), use(kinds),
            use(acquired), now;
      }
      sum.samples += static_cast<int64_t>(sampleIds.size());

      // Peaks: every column of the row, as JSON, whatever the schema version adds.
      struct Peak {
        int64_t resultId = 0;
        std::string sampleId, instrumentCode, lisCode, json;
      };
      std::vector<Peak> peaks = impl.read([&](Session& s) {
        std::vector<Peak> rows;
        Statement select(s);
        select << "SELECT r.id AS result_id_, s.sample_id AS sample_id_, r.instrument_code AS "
                  "instrument_code_, r.lis_code AS lis_code_, p.* FROM samples s JOIN results r "
                  "ON r.sample_row_id = s.id JOIN peaks p ON p.result_id = r.id WHERE "
                  "s.message_id = ? ORDER BY r.id"_sql,
            use(messageId), now;
        Poco::Data::RecordSet rs(select);
        const size_t columns = rs.columnCount();
        for (size_t row = 0; row < rs.rowCount(); ++row) {
          Peak peak;
          peak.resultId = rs.value(0, row).convert<int64_t>();
          peak.sampleId = rs.value(1, row).convert<std::string>();
          peak.instrumentCode = rs.value(2, row).convert<std::string>();
          peak.lisCode = rs.value(3, row).convert<std::string>();
          peak.json = "{";
          for (size_t c = 4; c < columns; ++c) {
            peak.json += (c > 4 ? "," : "") + jsonString(rs.columnName(c)) + ":" +
                         jsonValue(rs.value(c, row));
          }
          peak.json += "}";
          rows.push_back(std::move(peak));
        }
        return rows;
      });
      if (!peaks.empty()) {
        std::vector<int64_t> owners(peaks.size(), messageId), resultIds;
        std::vector<std::string> sampleCol, instrumentCol, lisCol, jsonCol;
        for (Peak& peak : peaks) {
          resultIds.push_back(peak.resultId);
          sampleCol.push_back(std::move(peak.sampleId));
          instrumentCol.push_back(std::move(peak.instrumentCode));
          lisCol.push_back(std::move(peak.lisCode));
          jsonCol.push_back(std::move(peak.json));
        }
        p << "INSERT INTO peaks VALUES (?, ?, ?, ?, ?, ?)", use(owners), use(resultIds),
            use(sampleCol), use(instrumentCol), use(lisCol), use(jsonCol), now;
      }
      sum.peaks += static_cast<int64_t>(peaks.size());

      // The received bytes, decrypted, in chunks of 1 MiB (memory stays bounded).
      Md sha = newSha256();
      if (!sha) return Status::io("archive", "SHA-256 unavailable");
      std::string pending;
      int64_t seq = 0, size = 0;
      bool hasBody = false;
      auto flush = [&]() {
        Poco::Data::BLOB blob(reinterpret_cast<const unsigned char*>(pending.data()),
                              pending.size());
        p << "INSERT INTO body_chunks VALUES (?, ?, ?)", use(messageId), use(seq), use(blob), now;
        ++seq;
        pending.clear();
      };
      Status body = store_.readRawBody(
          m.orgId, messageId, [&](int64_t) { hasBody = true; },
          [&](std::string_view piece) {
            EVP_DigestUpdate(sha.get(), piece.data(), piece.size());
            size += static_cast<int64_t>(piece.size());
            while (!piece.empty()) {
              const size_t take = std::min(piece.size(), kChunk - pending.size());
              pending.append(piece.substr(0, take));
              piece.remove_prefix(take);
              if (pending.size() == kChunk) flush();
            }
            return true;
          });
      if (body.code() == Status::Code::kNotFound) continue;
      if (!body.isOk()) {
        return Status::invalid("message:" + std::to_string(messageId),
                               "its stored body cannot be read for the archive (" +
                                   body.toString() + "): nothing was archived or pruned");
      }
      if (!pending.empty() || seq == 0) flush();
      if (hasBody) {
        std::string digest = finishHex(sha.get());
        p << "INSERT INTO bodies VALUES (?, ?, ?, ?)", use(messageId), use(m.orgId), use(size),
            use(digest), now;
        ++sum.bodies;
        sum.bodyBytes += size;
      }
    }
    std::vector<std::pair<std::string, std::string>> info = {
        {"format", kFormat},     {"created_at", sum.createdAt},
        {"before", sum.before},  {"labgated_version", sum.version},
        {"store", "labgate.db"}, {"what", "delivered message bodies and peak data"}};
    for (auto& [k, v] : info) p << "INSERT INTO info VALUES (?, ?)", use(k), use(v), now;
    p << "COMMIT", now;
  } catch (const Poco::Exception& e) {
    return Status::io(payload, "cannot build the archive: " + e.displayText());
  }
  tell("collected " + std::to_string(sum.messages) + " message(s), " + std::to_string(sum.bodies) +
       " body/bodies (" + std::to_string(sum.bodyBytes) + " bytes), " + std::to_string(sum.peaks) +
       " peak row(s)");

  StatusOr<std::string> payloadSha = backup::fileSha256(payload);
  if (!payloadSha.isOk()) return payloadSha.status();
  sum.payloadSha256 = payloadSha.value();
  sum.payloadBytes = static_cast<int64_t>(Poco::File(payload).getSize());

  // Seal under a data key of the archive's own, wrapped by the key file's KEK; the header is the
  // AAD of every chunk.
  security::Keyring ring(kek);
  const security::WrappedKey dataKey = ring.newDataKey(1);
  const std::string header = encodeHeader(kek.fingerprint, dataKey, sum);
  const std::string sealed = work.value()->file("payload.sealed");
  {
    // zlib-compressed, then sealed: peak rows (JSON) compress several times.
    std::ifstream plain(payload, std::ios::binary);
    Poco::DeflatingInputStream deflated(plain, Poco::DeflatingStreamBuf::STREAM_ZLIB, 6);
    if (Status s = ring.sealStream(deflated, sealed, header); !s.isOk()) return s;
  }
  removeQuietly(payload);

  // The file: written as .partial, fsynced, renamed; nothing in the store changed yet.
  const std::string partial = out + ".partial";
  {
    Fd fd(::open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.get() < 0) {
      return Status::io(
          out, "cannot write the archive: " + errnoText() + " (nothing was archived or pruned)");
    }
    Status copied = security::writeFull(fd.get(), header)
                        ? copyTail(sealed, 0, fd.get(), partial)
                        : Status::io(partial, "write failed: " + errnoText());
    if (copied.isOk() && ::fsync(fd.get()) != 0) {
      copied = Status::io(partial, "fsync failed: " + errnoText());
    }
    if (!copied.isOk()) {
      removeQuietly(partial);
      return Status::io(out, "cannot write the archive: " + copied.toString() +
                                 " (nothing was archived or pruned)");
    }
  }
  if (::rename(partial.c_str(), out.c_str()) != 0) {
    const std::string why = errnoText();
    removeQuietly(partial);
    return Status::io(out, "cannot rename the archive into place: " + why);
  }
  if (Status s = syncDirectoryOf(out); !s.isOk()) {
    removeQuietly(out);
    return s;
  }
  tell("wrote and fsynced " + out + "; decrypting it again to check it");

  StatusOr<Verified> verified = verifyArchive(out, kek, workDir);
  if (!verified.isOk()) {
    removeQuietly(out);
    return Status::io(out, "the archive written does not verify (" + verified.status().toString() +
                               "): removed, nothing pruned");
  }
  written.sha256 = verified.value().fileSha256;
  written.bytes = verified.value().fileBytes;

  // The ledger row and the messages it covers, with the audit event, in one transaction.
  const std::string fileName = Poco::Path(out).getFileName();
  int64_t ledgerId = 0;
  Status recorded = impl.write([&](Session& s) {
    s << "SELECT COALESCE(MAX(id), 0) + 1 FROM archives"_sql, into(ledgerId), now;
    std::string at = sum.createdAt, by = actor, bound = before, name = fileName,
                sha = written.sha256;
    s << "INSERT INTO archives (id, created_at, created_by, before_at, file_name, file_sha256, "
         "file_bytes, messages, bodies, body_bytes, peaks, first_message, last_message) VALUES "
         "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"_sql,
        use(ledgerId), use(at), use(by), use(bound), use(name), use(sha), use(written.bytes),
        use(sum.messages), use(sum.bodies), use(sum.bodyBytes), use(sum.peaks),
        use(sum.firstMessage), use(sum.lastMessage), now;
    for (int64_t id : ids) {
      int64_t messageId = id;
      s << "INSERT INTO archive_items (archive_id, message_id) VALUES (?, ?)"_sql, use(ledgerId),
          use(messageId), now;
    }
    impl.appendAudit(
        s, {"default", actor, "retention.archived", "archive:" + std::to_string(ledgerId),
            "{\"file_sha256\":" + jsonString(written.sha256) + ",\"file_bytes\":" +
                std::to_string(written.bytes) + ",\"before\":" + jsonString(before) +
                ",\"messages\":" + std::to_string(sum.messages) + ",\"bodies\":" +
                std::to_string(sum.bodies) + ",\"body_bytes\":" + std::to_string(sum.bodyBytes) +
                ",\"peaks\":" + std::to_string(sum.peaks) + "}"});
  });
  if (!recorded.isOk()) {
    removeQuietly(out);
    return Status::io("archives", "the archive could not be recorded (" + recorded.toString() +
                                      "): file removed, nothing pruned");
  }
  written.ledgerId = ledgerId;
  return written;
}

// ---- pruning ----------------------------------------------------------------------------------

namespace {

std::string bodiesDirOf(const Store& store) {
  return Poco::Path(store.path()).makeAbsolute().parent().append("bodies").toString();
}

}  // namespace

/// Prunes `ids` in write jobs of `batch` messages (see RetentionStore::pruneArchive).
StatusOr<Pruned> RetentionStore::pruneIds(const std::vector<int64_t>& ids, const Job& job,
                                          size_t batch) {
  Store::Impl& impl = *store_.impl_;
  const std::string bodiesDir = bodiesDirOf(store_);
  Pruned total;
  const std::string eligible =
      "SELECT COUNT(*) FROM messages m WHERE m.id = ? AND " + eligibleSql();
  for (size_t start = 0; start < ids.size(); start += std::max<size_t>(batch, 1)) {
    const size_t end = std::min(ids.size(), start + std::max<size_t>(batch, 1));
    Pruned part;
    std::vector<std::string> files;
    Status status = impl.write([&](Session& s) {
      part = Pruned{};
      files.clear();
      const std::string at = isoNow();
      for (size_t i = start; i < end; ++i) {
        int64_t id = ids[i];
        int64_t ok = 0;
        s << sql::Text{eligible}, use(id), into(ok), now;  // checked again under the write lock
        if (ok == 0) {
          ++part.skipped;
          continue;
        }
        bool any = false;
        if (job.peaks) {
          int64_t peaks = 0;
          s << "SELECT COUNT(*) FROM peaks WHERE result_id IN (SELECT r.id FROM samples s JOIN "
               "results r ON r.sample_row_id = s.id WHERE s.message_id = ?)"_sql,
              use(id), into(peaks), now;
          if (peaks > 0) {
            s << "DELETE FROM peaks WHERE result_id IN (SELECT r.id FROM samples s JOIN results "
                 "r ON r.sample_row_id = s.id WHERE s.message_id = ?)"_sql,
                use(id), now;
            part.peaks += peaks;
            any = true;
          }
        }
        if (job.bodies) {
          std::vector<std::string> file;
          std::vector<int64_t> size;
          s << "SELECT file, size FROM message_bodies WHERE message_id = ?"_sql, use(id),
              into(file), into(size), now;
          if (!file.empty()) {
            s << "DELETE FROM message_bodies WHERE message_id = ?"_sql, use(id), now;
            ++part.bodies;
            part.bodyBytes += size[0];
            if (!file[0].empty()) files.push_back(file[0]);
            any = true;
          }
        }
        if (any) {
          ++part.messages;
          // When: re-evaluation and people can tell a batch whose peaks are gone.
          std::string bodyAt = job.bodies ? at : "", peaksAt = job.peaks ? at : "";
          s << "INSERT INTO retention_pruned (message_id, org_id, body_pruned_at, "
               "peaks_pruned_at) SELECT id, org_id, ?, ? FROM messages WHERE id = ? ON CONFLICT "
               "(message_id) DO UPDATE SET body_pruned_at = CASE WHEN excluded.body_pruned_at "
               "<> '' THEN excluded.body_pruned_at ELSE retention_pruned.body_pruned_at END, "
               "peaks_pruned_at = CASE WHEN excluded.peaks_pruned_at <> '' THEN "
               "excluded.peaks_pruned_at ELSE retention_pruned.peaks_pruned_at END"_sql,
              use(bodyAt), use(peaksAt), use(id), now;
        }
        // The archives covering it are done with it once neither a body nor a peak is left.
        std::string stamp = at;
        s << "UPDATE archive_items SET pruned_at = ? WHERE message_id = ? AND pruned_at = '' AND "
             "NOT EXISTS (SELECT 1 FROM message_bodies WHERE message_id = ?) AND NOT EXISTS "
             "(SELECT 1 FROM samples s JOIN results r ON r.sample_row_id = s.id JOIN peaks p ON "
             "p.result_id = r.id WHERE s.message_id = ?)"_sql,
            use(stamp), use(id), use(id), use(id), now;
      }
      if (part.messages == 0) return;
      impl.appendAudit(
          s, {"default", job.actor, "retention.pruned",
              job.archiveId ? "archive:" + std::to_string(job.archiveId) : "retention",
              "{\"reason\":" + jsonString(job.reason) + ",\"archive_sha256\":" +
                  jsonString(job.archiveSha256) + ",\"messages\":" + std::to_string(part.messages) +
                  ",\"bodies\":" + std::to_string(part.bodies) + ",\"body_bytes\":" +
                  std::to_string(part.bodyBytes) + ",\"peaks\":" + std::to_string(part.peaks) +
                  ",\"skipped\":" + std::to_string(part.skipped) + "}"});
    });
    if (!status.isOk()) return status;
    // The sealed export files of the bodies just deleted: the rows are gone, so are they (a crash
    // here leaves them to the store's sweep of unreferenced files at the next start).
    for (const std::string& name : files) {
      if (backup::detail::isBodyFileName(name)) {
        removeQuietly(Poco::Path(bodiesDir).append(name).toString());
      }
    }
    total.messages += part.messages;
    total.bodies += part.bodies;
    total.bodyBytes += part.bodyBytes;
    total.peaks += part.peaks;
    total.skipped += part.skipped;
  }
  return total;
}

StatusOr<Pruned> RetentionStore::pruneArchive(int64_t ledgerId, const std::string& actor,
                                              size_t batch) {
  Store::Impl& impl = *store_.impl_;
  std::string sha;
  std::vector<int64_t> ids;
  const bool known = impl.read([&](Session& s) {
    int64_t id = ledgerId;
    std::vector<std::string> digests;
    s << "SELECT file_sha256 FROM archives WHERE id = ?"_sql, use(id), into(digests), now;
    if (digests.empty()) return false;
    sha = digests[0];
    s << "SELECT message_id FROM archive_items WHERE archive_id = ? AND pruned_at = '' ORDER BY "
         "message_id"_sql,
        use(id), into(ids), now;
    return true;
  });
  if (!known) return Status::notFound("archive:" + std::to_string(ledgerId), "not in the ledger");
  return pruneIds(ids, {actor, "archive", sha, ledgerId, true, true}, batch);
}

StatusOr<Pruned> RetentionStore::pruneScheduled(const Policy& policy, const std::string& nowIso,
                                                size_t batch) {
  Pruned total;
  auto run = [&](int64_t days, bool bodies) -> Status {
    if (days <= 0) return Status::ok();
    std::optional<std::string> cutoff = daysBefore(nowIso, days);
    if (!cutoff) return Status::invalid("retention", "not a time: " + nowIso);
    std::vector<int64_t> ids = select(*cutoff, bodies, !bodies, policy.archiveRequired);
    Job job{"engine", "period", policy.archiveRequired ? "archived" : "", 0, bodies, !bodies};
    StatusOr<Pruned> pruned = pruneIds(ids, job, batch);
    if (!pruned.isOk()) return pruned.status();
    total.messages += pruned.value().messages;
    total.bodies += pruned.value().bodies;
    total.bodyBytes += pruned.value().bodyBytes;
    total.peaks += pruned.value().peaks;
    total.skipped += pruned.value().skipped;
    return Status::ok();
  };
  if (Status s = run(policy.bodyDays, true); !s.isOk()) return s;
  if (Status s = run(policy.peakDays, false); !s.isOk()) return s;
  return total;
}

std::vector<LedgerEntry> RetentionStore::ledger() {
  return store_.impl_->read([&](Session& s) {
    std::vector<LedgerEntry> out;
    Statement select(s);
    LedgerEntry e;
    select << "SELECT a.id, a.created_at, a.created_by, a.before_at, a.file_name, a.file_sha256, "
              "a.file_bytes, a.messages, a.bodies, a.body_bytes, a.peaks, (SELECT COUNT(*) FROM "
              "archive_items i WHERE i.archive_id = a.id AND i.pruned_at = '') FROM archives a "
              "ORDER BY a.id"_sql,
        into(e.id), into(e.createdAt), into(e.createdBy), into(e.before), into(e.fileName),
        into(e.fileSha256), into(e.fileBytes), into(e.messages), into(e.bodies), into(e.bodyBytes),
        into(e.peaks), into(e.pending), Poco::Data::Keywords::range(0, 1);
    eachRow(select, [&] { out.push_back(e); });
    return out;
  });
}

// ---- verification -----------------------------------------------------------------------------

StatusOr<Verified> verifyArchive(const std::string& file, const security::KeyEncryptionKey& kek,
                                 const std::string& workDir) {
  StatusOr<Header> header = readHeader(file);
  if (!header.isOk()) return header.status();
  const Header& h = header.value();
  if (h.kekFingerprint != kek.fingerprint) {
    return Status::config("--key-file", "the archive was encrypted under key " + h.kekFingerprint +
                                            ", not under this key file's " + kek.fingerprint);
  }
  security::Keyring ring(kek);
  if (Status added = ring.addDataKey(h.dataKey); !added.isOk()) {
    return Status::invalid(file,
                           "its data key does not open with the key file: the header was "
                           "changed or damaged");
  }
  StatusOr<std::shared_ptr<TempFolder>> work = TempFolder::make(workDir, "archive-work-");
  if (!work.isOk()) return work.status();
  const std::string sealed = work.value()->file("payload.sealed");
  const std::string payload = work.value()->file("payload.db");
  {
    Fd fd(::open(sealed.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.get() < 0) return Status::io(sealed, "cannot write: " + errnoText());
    if (Status s = copyTail(file, h.raw.size(), fd.get(), sealed); !s.isOk()) return s;
  }
  Status opened = Status::ok();
  try {
    std::ofstream plain(payload, std::ios::binary | std::ios::trunc);
    Poco::InflatingOutputStream inflater(plain, Poco::InflatingStreamBuf::STREAM_ZLIB);
    opened = ring.openFileTo(sealed, h.raw, [&](std::string_view piece) {
      inflater.write(piece.data(), static_cast<std::streamsize>(piece.size()));
      return inflater.good();
    });
    if (opened.isOk()) inflater.close();
    plain.close();
    if (opened.isOk() && !plain) opened = Status::io(payload, "cannot write the decrypted content");
  } catch (const Poco::Exception& e) {
    opened = Status::invalid(file, "the decrypted content does not inflate: " + e.displayText());
  }
  if (!opened.isOk()) {
    return Status::invalid(file,
                           "does not authenticate: the file was changed, truncated or "
                           "damaged after it was written (" +
                               opened.toString() + ")");
  }
  removeQuietly(sealed);
  Verified v;
  v.summary = h.summary;
  v.kekFingerprint = h.kekFingerprint;
  StatusOr<std::string> payloadSha = backup::fileSha256(payload);
  if (!payloadSha.isOk()) return payloadSha.status();
  const int64_t payloadBytes = static_cast<int64_t>(Poco::File(payload).getSize());
  if (payloadSha.value() != h.summary.payloadSha256 || payloadBytes != h.summary.payloadBytes) {
    return Status::invalid(file, "the decrypted content's SHA-256 or size is not the summary's");
  }
  registerSqlite();
  try {
    Session p("SQLite", payload);
    int64_t messages = 0, samples = 0, bodies = 0, bodyBytes = 0, peaks = 0;
    p << "SELECT COUNT(*) FROM messages", into(messages), now;
    p << "SELECT COUNT(*) FROM samples", into(samples), now;
    p << "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM bodies", into(bodies), into(bodyBytes), now;
    p << "SELECT COUNT(*) FROM peaks", into(peaks), now;
    const Summary& s = h.summary;
    if (messages != s.messages || samples != s.samples || bodies != s.bodies ||
        bodyBytes != s.bodyBytes || peaks != s.peaks) {
      return Status::invalid(file, "the counts do not match the summary (messages " +
                                       std::to_string(messages) + "/" + std::to_string(s.messages) +
                                       ", bodies " + std::to_string(bodies) + "/" +
                                       std::to_string(s.bodies) + ", peaks " +
                                       std::to_string(peaks) + "/" + std::to_string(s.peaks) + ")");
    }
    // Every body's bytes against its recorded size and SHA-256.
    std::vector<int64_t> ids, sizes;
    std::vector<std::string> digests;
    p << "SELECT message_id, size, sha256 FROM bodies ORDER BY message_id", into(ids), into(sizes),
        into(digests), now;
    for (size_t i = 0; i < ids.size(); ++i) {
      Md sha = newSha256();
      if (!sha) return Status::io("archive", "SHA-256 unavailable");
      int64_t size = 0;
      Statement chunks(p);
      Poco::Data::BLOB data;
      int64_t id = ids[i];
      chunks << "SELECT data FROM body_chunks WHERE message_id = ? ORDER BY seq", use(id),
          into(data), Poco::Data::Keywords::range(0, 1);
      labgate::eachRow(chunks, [&] {
        EVP_DigestUpdate(sha.get(), data.rawContent(), data.size());
        size += static_cast<int64_t>(data.size());
      });
      if (size != sizes[i] || finishHex(sha.get()) != digests[i]) {
        return Status::invalid(
            file, "the body of message " + std::to_string(id) + " does not match its SHA-256");
      }
    }
    p << "SELECT DISTINCT instrument FROM messages ORDER BY instrument", into(v.instruments), now;
    p << "SELECT DISTINCT org_id FROM messages ORDER BY org_id", into(v.orgs), now;
  } catch (const Poco::Exception& e) {
    return Status::invalid(file, "the decrypted content is not an archive: " + e.displayText());
  }
  StatusOr<std::string> fileSha = backup::fileSha256(file);
  if (!fileSha.isOk()) return fileSha.status();
  v.fileSha256 = fileSha.value();
  v.fileBytes = static_cast<int64_t>(Poco::File(file).getSize());
  return v;
}

}  // namespace labgate::retention
