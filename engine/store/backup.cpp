// Backup files, the I/O half: snapshots described, backups written, decrypted, verified and
// restored, backup directories listed (see backup.h). backup_format.cpp has the format.
#include "engine/store/backup.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DirectoryIterator.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/Timestamp.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

#include "engine/security/posix_file.h"
#include "engine/security/signing_key.h"
#include "engine/store/audit.h"
#include "engine/store/backup_detail.h"
#include "engine/store/schema.h"
#include "engine/store/sql_dialect.h"
#include "engine/store/store.h"
#include "labgate/version.h"

namespace labgate::backup {
namespace {

using detail::hexOf;
using detail::isBodyFileName;
using detail::TempFolder;
using security::Fd;
using security::readFull;
using security::writeFull;

constexpr size_t kCopyChunk = size_t{1} << 20;
constexpr uint32_t kDataKeyId = 1;  // a backup has one data key of its own

// ---- small helpers ----------------------------------------------------------------------------

std::string errnoText() { return std::strerror(errno); }

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

/// Reads `length` bytes of `in` from `offset` (to its end when `length` < 0), feeding them to the
/// open file `out` (when >= 0) and to a SHA-256 whose hex goes to `sha` (when not null), and to
/// `written` (when not null: the running digest of everything written to `out`). A short file is
/// Status::invalid.
Status pipeRange(const std::string& in, uint64_t offset, int64_t length, int out,
                 const std::string& outName, std::string* sha, EVP_MD_CTX* written = nullptr) {
  Fd src(::open(in.c_str(), O_RDONLY | O_CLOEXEC));
  if (src.get() < 0) return Status::io(in, "cannot open: " + errnoText());
  if (::lseek(src.get(), static_cast<off_t>(offset), SEEK_SET) < 0) {
    return Status::io(in, "cannot seek: " + errnoText());
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return Status::io(in, "SHA-256 unavailable");
  }
  std::string buffer(kCopyChunk, '\0');
  int64_t left = length;
  while (length < 0 || left > 0) {
    size_t want =
        length < 0 ? buffer.size() : static_cast<size_t>(std::min<int64_t>(left, kCopyChunk));
    ssize_t n = readFull(src.get(), buffer.data(), want);
    if (n < 0) return Status::io(in, "read failed: " + errnoText());
    if (n == 0) {
      if (length < 0) break;
      return Status::invalid(in, "truncated");
    }
    if (out >= 0 && !writeFull(out, std::string_view(buffer.data(), static_cast<size_t>(n)))) {
      return Status::io(outName, "write failed: " + errnoText());
    }
    EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(n));
    if (written) EVP_DigestUpdate(written, buffer.data(), static_cast<size_t>(n));
    left -= n;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &size);
  if (sha) *sha = hexOf(std::string(reinterpret_cast<const char*>(digest), size));
  return Status::ok();
}

using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

/// A SHA-256 context, null when OpenSSL cannot make one.
MdCtx newSha256() {
  MdCtx ctx(EVP_MD_CTX_new());
  if (ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) ctx.reset();
  return ctx;
}

/// The hex digest of `ctx` (finished).
std::string finishHex(EVP_MD_CTX* ctx) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx, digest, &size);
  return hexOf(std::string(reinterpret_cast<const char*>(digest), size));
}

FileStamp stampFrom(const struct stat& st) {
  FileStamp stamp;
  stamp.device = static_cast<uint64_t>(st.st_dev);
  stamp.inode = static_cast<uint64_t>(st.st_ino);
  stamp.bytes = static_cast<int64_t>(st.st_size);
  stamp.mtimeNs = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  stamp.ctimeNs = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  return stamp;
}

Status syncDirectory(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
    return Status::io(dir, "cannot sync the directory: " + errnoText());
  }
  return Status::ok();
}

void removeQuietly(const std::string& path) {
  try {
    Poco::File f(path);
    if (f.exists()) f.remove(true);
  } catch (const Poco::Exception&) {
    // Best effort: a left-over temporary file is named so that nothing mistakes it for a backup.
  }
}

/// Hex SHA-256 and size of a file.
Status digestFile(const std::string& path, std::string& hex, int64_t& bytes) {
  Status s = pipeRange(path, 0, -1, -1, "", &hex);
  if (!s.isOk()) return s;
  try {
    bytes = static_cast<int64_t>(Poco::File(path).getSize());
  } catch (const Poco::Exception& e) {
    return Status::io(path, e.displayText());
  }
  return Status::ok();
}

void registerSqlite() {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Data::SQLite::Connector::registerConnector(); });
}

std::string isoSeconds(int64_t unixSeconds) {
  return Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(unixSeconds),
                                         "%Y-%m-%dT%H:%M:%SZ");
}

}  // namespace

std::optional<FileStamp> stampOf(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return stampFrom(st);
}

StatusOr<std::string> fileSha256(const std::string& path, FileStamp* stamp) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (fd.get() < 0) return Status::io(path, "cannot open: " + errnoText());
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Status::io(path, "cannot stat: " + errnoText());
  if (!S_ISREG(st.st_mode)) return Status::invalid(path, "not a regular file");
  if (stamp) *stamp = stampFrom(st);
  MdCtx ctx = newSha256();
  if (!ctx) return Status::io(path, "SHA-256 unavailable");
  std::string buffer(kCopyChunk, '\0');
  for (;;) {
    const ssize_t n = readFull(fd.get(), buffer.data(), buffer.size());
    if (n < 0) return Status::io(path, "read failed: " + errnoText());
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(n));
  }
  return finishHex(ctx.get());
}

StatusOr<Header> readHeader(const std::string& path, std::string* raw) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Status::io(path, "cannot open: " + errnoText());
  std::string bytes(8, '\0');
  if (readFull(fd.get(), bytes.data(), 8) != 8) {
    return Status::invalid(path, "not a LabGate backup (too short)");
  }
  if (bytes.compare(0, 4, kMagic) != 0) {
    return Status::invalid(path, "not a LabGate backup (no LGB1 magic)");
  }
  uint32_t length = 0;
  for (int i = 4; i < 8; ++i) length = length << 8 | static_cast<unsigned char>(bytes[i]);
  if (length == 0 || length > detail::kMaxHeaderBytes) {
    return Status::invalid(path, "backup header length out of range");
  }
  bytes.resize(8 + length);
  if (readFull(fd.get(), bytes.data() + 8, length) != static_cast<ssize_t>(length)) {
    return Status::invalid(path, "backup header truncated");
  }
  StatusOr<Header> header = decodeHeader(bytes);
  if (!header.isOk()) return Status::invalid(path, header.status().toString());
  if (raw) *raw = bytes;
  return header;
}

// ---- the database inside ----------------------------------------------------------------------

StatusOr<Manifest> describeDatabase(const std::string& dbPath) {
  using Poco::Data::Keywords::into;
  using Poco::Data::Keywords::now;
  Manifest m;
  Status digested = digestFile(dbPath, m.databaseSha256, m.databaseBytes);
  if (!digested.isOk()) return digested;
  registerSqlite();
  try {
    Poco::Data::Session s("SQLite", dbPath);
    s << "PRAGMA busy_timeout=10000"_sql, now;
    s << "SELECT COALESCE(MAX(version), 0) FROM schema_version"_sql, into(m.schemaVersion), now;
    s << "SELECT COUNT(*) FROM messages"_sql, into(m.messages), now;
    s << "SELECT COUNT(*) FROM results"_sql, into(m.results), now;
    s << "SELECT COUNT(*) FROM audit"_sql, into(m.audit), now;
    m.auditHead = kAuditGenesisHash;
    Poco::Data::Statement head(s);
    head << "SELECT hash FROM audit ORDER BY id DESC LIMIT 1"_sql, into(m.auditHead);
    head.execute();
  } catch (const Poco::Exception& e) {
    return Status::invalid(dbPath, "not a LabGate database: " + e.displayText());
  }
  StatusOr<std::vector<std::string>> files = bodyFilesOf(dbPath);
  if (!files.isOk()) return files.status();
  m.bodyFiles = static_cast<int64_t>(files.value().size());
  return m;
}

StatusOr<std::vector<std::string>> bodyFilesOf(const std::string& dbPath) {
  using Poco::Data::Keywords::into;
  using Poco::Data::Keywords::now;
  registerSqlite();
  std::vector<std::string> files;
  try {
    Poco::Data::Session s("SQLite", dbPath);
    int64_t tables = 0;
    s << "SELECT COUNT(*) FROM pragma_table_info('message_bodies') WHERE name = 'file'"_sql,
        into(tables), now;
    if (tables > 0) {
      s << "SELECT DISTINCT file FROM message_bodies WHERE file != '' ORDER BY file"_sql,
          into(files), now;
    }
  } catch (const Poco::Exception& e) {
    return Status::invalid(dbPath, "not a LabGate database: " + e.displayText());
  }
  for (const auto& f : files) {
    if (!isBodyFileName(f)) return Status::invalid(dbPath, "a body file name is not a plain name");
  }
  return files;
}

Status checkDatabase(const std::string& dbPath, const Manifest& manifest,
                     const security::KeyEncryptionKey& kek) {
  using Poco::Data::Keywords::into;
  using Poco::Data::Keywords::now;
  const int64_t known = static_cast<int64_t>(schemaMigrations().size());
  if (manifest.schemaVersion > known) {
    return Status::invalid(dbPath, "made by a newer labgated (schema " +
                                       std::to_string(manifest.schemaVersion) +
                                       "; this program knows up to " + std::to_string(known) + ")");
  }
  StatusOr<Manifest> found = describeDatabase(dbPath);
  if (!found.isOk()) return found.status();
  if (!found.value().sameContent(manifest)) {
    const Manifest& f = found.value();
    return Status::invalid(
        dbPath, "does not match its manifest (messages " + std::to_string(f.messages) + "/" +
                    std::to_string(manifest.messages) + ", results " + std::to_string(f.results) +
                    "/" + std::to_string(manifest.results) + ", audit events " +
                    std::to_string(f.audit) + "/" + std::to_string(manifest.audit) + ")");
  }
  try {
    Poco::Data::Session s("SQLite", dbPath);
    std::vector<std::string> problems;
    s << "PRAGMA integrity_check"_sql, into(problems), now;
    if (problems.size() != 1 || problems[0] != "ok") {
      return Status::invalid(dbPath, "PRAGMA integrity_check failed (" +
                                         std::to_string(problems.size()) + " problem(s))");
    }
  } catch (const Poco::Exception& e) {
    return Status::invalid(dbPath, "integrity check failed: " + e.displayText());
  }
  Poco::Path path(dbPath);
  if (path.getFileName() != "labgate.db") {
    return Status::invalid(dbPath, "the copy to check must be named labgate.db");
  }
  StatusOr<std::shared_ptr<Store>> store =
      Store::open(path.parent().toString(), std::make_shared<security::Keyring>(kek));
  if (!store.isOk()) return store.status();
  Status chain = store.value()->verifyAuditChain();
  if (!chain.isOk()) return Status::invalid(dbPath, "audit chain: " + chain.toString());
  return Status::ok();
}

// ---- writing, decrypting, verifying -----------------------------------------------------------

Status writeBackupFile(const std::string& snapshot, const Manifest& manifest,
                       const std::vector<std::string>& files, const std::string& bodiesDir,
                       const security::KeyEncryptionKey& kek, const std::string& out,
                       const std::string& workDir, std::string* sha256,
                       const std::string& signingKeySealed) {
  StatusOr<std::shared_ptr<TempFolder>> folder = TempFolder::make(workDir, "seal-");
  if (!folder.isOk()) return folder.status();
  security::Keyring ring(kek);
  Header header;
  header.kekFingerprint = kek.fingerprint;
  header.dataKey = ring.newDataKey(kDataKeyId);
  header.manifest = manifest;
  header.signingKeySealed = signingKeySealed;
  if (signingKeySealed.empty() != manifest.signingKey.empty()) {
    return Status::invalid(out, "a signing key is carried with its fingerprint or not at all");
  }
  for (const auto& name : files) {
    BodyFile f{name, 0, ""};
    Status s = digestFile(Poco::Path(bodiesDir).append(name).toString(), f.sha256, f.bytes);
    if (!s.isOk()) return Status::io(name, "body file: " + s.toString());
    header.files.push_back(std::move(f));
  }
  const std::string raw = encodeHeader(header);
  const std::string sealed = folder.value()->file("database.sealed");
  Status status = ring.sealFile(snapshot, sealed, raw);
  if (!status.isOk()) return status;

  Fd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) return Status::io(out, "cannot create: " + errnoText());
  auto fail = [&](Status s) {
    ::unlink(out.c_str());
    return s;
  };
  MdCtx written = newSha256();  // every byte of `out`, as written
  if (!written) return fail(Status::io(out, "SHA-256 unavailable"));
  if (!writeFull(fd.get(), raw)) {
    return fail(Status::io(out, "write failed: " + errnoText()));
  }
  EVP_DigestUpdate(written.get(), raw.data(), raw.size());
  for (const BodyFile& f : header.files) {
    std::string sha;
    status = pipeRange(Poco::Path(bodiesDir).append(f.name).toString(), 0, f.bytes, fd.get(), out,
                       &sha, written.get());
    if (!status.isOk()) return fail(status);
    if (sha != f.sha256) return fail(Status::io(f.name, "body file changed while copied"));
  }
  status = pipeRange(sealed, 0, -1, fd.get(), out, nullptr, written.get());
  if (!status.isOk()) return fail(status);
  if (::fsync(fd.get()) != 0 || !fd.closeChecked()) {
    return fail(Status::io(out, "write failed: " + errnoText()));
  }
  if (sha256) *sha256 = finishHex(written.get());
  return Status::ok();
}

StatusOr<Manifest> decryptBackup(const std::string& file, const security::KeyEncryptionKey& kek,
                                 const std::string& plainOut, const std::string& workDir,
                                 const std::string& bodiesOut, std::string* signingKeySealed) {
  std::string raw;
  StatusOr<Header> header = readHeader(file, &raw);
  if (!header.isOk()) return header.status();
  const Header& h = header.value();
  if (h.kekFingerprint != kek.fingerprint) {
    return Status::config(file, "made with key-encryption key " + h.kekFingerprint +
                                    "; the key file given holds key " + kek.fingerprint);
  }
  security::Keyring ring(kek);
  Status added = ring.addDataKey(h.dataKey);
  if (!added.isOk()) {
    return Status::invalid(file, "its data key does not unwrap under key " + kek.fingerprint +
                                     " (the header was changed, or the key file is not the one "
                                     "it was made with)");
  }
  // The signing key: it opens with this key file and is the key the manifest names.
  if (!h.signingKeySealed.empty()) {
    StatusOr<std::string> fingerprint =
        security::sealedSigningKeyFingerprint(h.signingKeySealed, kek);
    if (!fingerprint.isOk()) {
      return Status::invalid(file, "the signing key it carries: " + fingerprint.status().reason());
    }
    if (fingerprint.value() != h.manifest.signingKey) {
      return Status::invalid(file, "the signing key it carries is " + fingerprint.value() +
                                       ", not " + h.manifest.signingKey + " as its manifest says");
    }
  }
  if (signingKeySealed) *signingKeySealed = h.signingKeySealed;
  // The body files: checked against the header (and written out when asked).
  uint64_t offset = raw.size();
  for (const BodyFile& f : h.files) {
    std::string sha;
    std::string target = bodiesOut.empty() ? "" : Poco::Path(bodiesOut).append(f.name).toString();
    Fd out(target.empty() ? -1
                          : ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!target.empty() && out.get() < 0)
      return Status::io(target, "cannot create: " + errnoText());
    Status piped = pipeRange(file, offset, f.bytes, out.get(), target, &sha);
    if (!piped.isOk())
      return piped.code() == Status::Code::kIo
                 ? piped
                 : Status::invalid(file, "truncated in body file " + f.name);
    if (sha != f.sha256) {
      return Status::invalid(file, "body file " + f.name + " does not match its SHA-256");
    }
    if (out.get() >= 0 && (::fsync(out.get()) != 0 || !out.closeChecked())) {
      return Status::io(target, "write failed: " + errnoText());
    }
    offset += static_cast<uint64_t>(f.bytes);
  }
  StatusOr<std::shared_ptr<TempFolder>> folder = TempFolder::make(workDir, "open-");
  if (!folder.isOk()) return folder.status();
  const std::string sealed = folder.value()->file("database.sealed");
  {
    Fd fd(::open(sealed.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.get() < 0) return Status::io(sealed, "cannot create: " + errnoText());
    Status copied = pipeRange(file, offset, -1, fd.get(), sealed, nullptr);
    if (!copied.isOk()) return copied;
    if (!fd.closeChecked()) return Status::io(sealed, "write failed: " + errnoText());
  }
  Status opened = ring.openFile(sealed, plainOut, raw);
  if (!opened.isOk()) {
    ::unlink(plainOut.c_str());
    if (opened.code() == Status::Code::kIo) return opened;
    return Status::invalid(file, "does not decrypt (damaged or changed): " + opened.reason());
  }
  std::string sha;
  int64_t bytes = 0;
  Status digested = digestFile(plainOut, sha, bytes);
  if (!digested.isOk()) return digested;
  if (sha != h.manifest.databaseSha256 || bytes != h.manifest.databaseBytes) {
    ::unlink(plainOut.c_str());
    return Status::invalid(file, "the decrypted database does not match the manifest's SHA-256");
  }
  return h.manifest;
}

StatusOr<Manifest> verifyBackup(const std::string& file, const security::KeyEncryptionKey& kek,
                                const std::string& workDir) {
  StatusOr<std::shared_ptr<TempFolder>> folder = TempFolder::make(workDir, "verify-");
  if (!folder.isOk()) return folder.status();
  const std::string plain = folder.value()->file("labgate.db");
  StatusOr<Manifest> manifest = decryptBackup(file, kek, plain, folder.value()->path());
  if (!manifest.isOk()) return manifest;
  Status checked = checkDatabase(plain, manifest.value(), kek);
  if (!checked.isOk()) return checked;
  return manifest;
}

StatusOr<Created> createBackup(Store& store, const security::KeyEncryptionKey& kek,
                               const std::string& dir, const std::string& bodiesDir,
                               const std::string& workDir, int64_t unixSeconds,
                               const std::string& signingKeyFile) {
  if (store.shared()) {
    return Status::unavailable(
        "backup",
        "labgate backup copies the SQLite store, and this store is on PostgreSQL "
        "(store.url): back it up with pg_dump or pg_basebackup (docs/deployment.md)");
  }
  Created created;
  // The signing key first: a backup that should carry it and cannot is not taken.
  std::string signingKeySealed;
  std::string signingKey;
  if (!signingKeyFile.empty()) {
    std::ifstream in(signingKeyFile, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in || text.str().empty()) {
      return Status::io(signingKeyFile, "cannot read the signing key to carry in the backup");
    }
    signingKeySealed = text.str();
    while (!signingKeySealed.empty() &&
           std::isspace(static_cast<unsigned char>(signingKeySealed.back()))) {
      signingKeySealed.pop_back();
    }
    StatusOr<std::string> fingerprint =
        security::sealedSigningKeyFingerprint(signingKeySealed, kek);
    if (!fingerprint.isOk()) return Status::invalid(signingKeyFile, fingerprint.status().reason());
    signingKey = fingerprint.value();
  }
  created.name = fileNameFor(unixSeconds);
  created.path = Poco::Path(dir).append(created.name).toString();
  const std::string partial = created.path + ".partial";
  const std::string made = security::createPrivateDirectories(dir);
  if (!made.empty()) return Status::io(dir, "cannot create the backup directory: " + made);
  try {
    if (Poco::File(created.path).exists()) {
      return Status::io(created.path, "a backup of this name exists already");
    }
  } catch (const Poco::Exception& e) {
    return Status::io(dir, "cannot create the backup directory: " + e.displayText());
  }
  removeQuietly(partial);  // left by a crash in the middle of an earlier attempt
  {
    StatusOr<std::shared_ptr<TempFolder>> folder = TempFolder::make(workDir, "snapshot-");
    if (!folder.isOk()) return folder.status();
    const std::string snapshot = folder.value()->file("labgate.db");
    Status status = store.snapshotTo(snapshot);
    if (!status.isOk()) return status;
    StatusOr<Manifest> described = describeDatabase(snapshot);
    if (!described.isOk()) return described.status();
    created.manifest = described.value();
    created.manifest.createdAt = isoSeconds(unixSeconds);
    created.manifest.version = kVersion;
    created.manifest.signingKey = signingKey;
    StatusOr<std::vector<std::string>> files = bodyFilesOf(snapshot);
    if (!files.isOk()) return files.status();
    status = writeBackupFile(snapshot, created.manifest, files.value(), bodiesDir, kek, partial,
                             folder.value()->path(), &created.sha256, signingKeySealed);
    if (!status.isOk()) return status;
  }  // the plain snapshot is gone before verification starts
  StatusOr<Manifest> verified = verifyBackup(partial, kek, workDir);
  if (!verified.isOk() || !verified.value().sameContent(created.manifest) ||
      verified.value().signingKey != created.manifest.signingKey) {
    removeQuietly(partial);
    if (!verified.isOk()) {
      return Status::invalid(created.name, "verification failed: " + verified.status().toString());
    }
    return Status::invalid(created.name, "verification failed: the copy differs from the snapshot");
  }
  if (::rename(partial.c_str(), created.path.c_str()) != 0) {
    Status s = Status::io(created.path, "cannot rename the verified backup: " + errnoText());
    removeQuietly(partial);
    return s;
  }
  Status synced = syncDirectory(dir);
  if (!synced.isOk()) return synced;
  // What was verified is what was written, and still is: the file's digest binds "verified".
  StatusOr<std::string> final = fileSha256(created.path, &created.stamp);
  if (!final.isOk() || final.value() != created.sha256) {
    removeQuietly(created.path);
    return Status::invalid(created.name,
                           final.isOk()
                               ? "changed on disk while it was verified (its SHA-256 "
                                 "is not that of the bytes written); deleted"
                               : "cannot be read after verification: " + final.status().toString());
  }
  created.bytes = created.stamp.bytes;
  return created;
}

StatusOr<Manifest> restoreBackup(const std::string& file, const security::KeyEncryptionKey& kek,
                                 const std::string& dataDir) {
  try {
    Poco::File target(dataDir);
    if (target.exists()) {
      if (!target.isDirectory()) return Status::invalid(dataDir, "is not a directory");
      if (Poco::DirectoryIterator(dataDir) != Poco::DirectoryIterator()) {
        return Status::invalid(dataDir,
                               "is not empty: a backup is restored into an empty data directory "
                               "only, so that nothing is overwritten or mixed");
      }
    }
  } catch (const Poco::Exception& e) {
    return Status::io(dataDir, "cannot read: " + e.displayText());
  }
  const std::string made = security::createPrivateDirectories(dataDir);  // 0700 when created
  if (!made.empty()) return Status::io(dataDir, made);
  auto emptyAgain = [&] {
    try {
      for (Poco::DirectoryIterator it(dataDir), end; it != end; ++it) removeQuietly(it->path());
    } catch (const Poco::Exception&) {
    }
  };
  const std::string db = Poco::Path(dataDir).append("labgate.db").toString();
  std::string signingKeySealed;
  StatusOr<Manifest> manifest = [&]() -> StatusOr<Manifest> {
    StatusOr<std::shared_ptr<TempFolder>> folder = TempFolder::make(dataDir, ".restore-");
    if (!folder.isOk()) return folder.status();
    const std::string bodies = Poco::Path(dataDir).append("bodies").toString();
    const std::string madeBodies = security::createPrivateDirectories(bodies);
    if (!madeBodies.empty()) return Status::io(bodies, madeBodies);
    return decryptBackup(file, kek, db, folder.value()->path(), bodies, &signingKeySealed);
  }();
  if (!manifest.isOk()) {
    emptyAgain();
    return manifest;
  }
  Status checked = checkDatabase(db, manifest.value(), kek);
  if (!checked.isOk()) {
    emptyAgain();
    return checked;
  }
  if (!signingKeySealed.empty()) {
    Status installed = security::installSealedSigningKey(dataDir, signingKeySealed);
    if (!installed.isOk()) {
      emptyAgain();
      return installed;
    }
  }
  return manifest;
}

std::vector<Listing> listBackups(const std::string& dir) {
  std::vector<Listing> out;
  try {
    if (!Poco::File(dir).exists()) return out;
    for (Poco::DirectoryIterator it(dir), end; it != end; ++it) {
      std::optional<int64_t> time = timeOfFileName(it.name());
      if (!time || !it->isFile()) continue;
      Listing l;
      l.name = it.name();
      l.path = it->path();
      l.bytes = static_cast<int64_t>(it->getSize());
      l.time = *time;
      StatusOr<Header> header = readHeader(l.path);
      if (header.isOk()) l.manifest = header.value().manifest;
      out.push_back(std::move(l));
    }
  } catch (const Poco::Exception&) {
    // A file that vanished while listing (retention running) is simply not listed.
  }
  std::sort(out.begin(), out.end(),
            [](const Listing& a, const Listing& b) { return a.time > b.time; });
  return out;
}

}  // namespace labgate::backup
