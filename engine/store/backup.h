// Backups of the store: one self-contained, encrypted file per backup, what it holds (the
// manifest), writing one from a snapshot, verifying one, restoring one, and which old ones the
// retention policy deletes. docs/backup.md is the operator's view, ADR 0009 the decisions.
//
// File format (labgate-YYYYMMDDTHHMMSSZ.lgb):
//   "LGB1" | header length (uint32 BE) | header (JSON) | body files | the database sealed with
//   security::Keyring::sealFile under the backup's own data key
// The header names the key-encryption key (fingerprint), carries the backup's data key wrapped
// under it, the manifest, and the name, size and SHA-256 of each body file. The exact header bytes
// are the sealed database's AAD, so a changed manifest, list or key makes every chunk fail to
// open: the header needs no signature of its own. Body files are the sealed files of exports under
// <data.dir>/bodies that the database refers to (message_bodies.file); they are sealed already
// (under the store's data keys, which the database holds wrapped by the same KEK) and are copied
// as they are. Restoring needs the key file and nothing else.
//
// Format 2 (format 1 and the server's signing key): the header also carries the sealed Ed25519
// signing key of electronic signatures (engine/security/signing_key.h: its signing-key.sealed text,
// sealed under the same KEK) and the manifest names its fingerprint; being in the header, the key
// is covered by the AAD like the rest. Verifying opens the key with the KEK; restoring writes it to
// <data.dir>/signing-key.sealed, so that the restored engine signs and verifies with the same key.
// A backup without a signing key is written, and read, as format 1 (older backups): a restore
// of one leaves the engine to make a new key (old signatures then fail online verification).
//
// Nothing here logs, and no Status carries key material; plain copies of the database are only
// ever written under the `workDir` the caller names (never the backup directory).
// Thread-safety: free functions without shared state; callers serialise work on one file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/status.h"
#include "engine/security/keyring.h"

namespace labgate {
class Store;
}

namespace labgate::backup {

inline constexpr const char* kMagic = "LGB1";
inline constexpr const char* kExtension = ".lgb";

/// What a backup holds, computed from the plain database when it was taken.
struct Manifest {
  std::string createdAt;  // ISO-8601 UTC, second resolution: the time in the file name
  std::string version;    // labgated's version
  int64_t schemaVersion = 0;
  int64_t messages = 0;
  int64_t results = 0;
  int64_t audit = 0;
  std::string auditHead;       // hash of the last audit event (64 zeros when there is none)
  std::string databaseSha256;  // hex SHA-256 of the plain database file
  int64_t databaseBytes = 0;
  int64_t bodyFiles = 0;  // sealed export files under <data.dir>/bodies the database refers to
  /// The fingerprint of the signing key the backup carries (SigningKey::fingerprint()); "" when
  /// it carries none (format 1). In the JSON only when set.
  std::string signingKey;

  /// The manifest as JSON text, members in a fixed order (what the header stores).
  std::string toJson() const;
  /// Hex SHA-256 of toJson(): names this manifest in audit events.
  std::string digest() const;
  /// Same counts, audit head, schema and database digest (what the database itself shows).
  bool sameContent(const Manifest& other) const;
};

/// A body file carried by a backup, in the order of the file.
struct BodyFile {
  std::string name;  // under <data.dir>/bodies
  int64_t bytes = 0;
  std::string sha256;
};

/// The header of a backup file.
struct Header {
  std::string kekFingerprint;
  security::WrappedKey dataKey;
  Manifest manifest;
  std::vector<BodyFile> files;
  /// The sealed signing key's text (signing-key.sealed) when manifest.signingKey is set, else "".
  std::string signingKeySealed;
};

/// "LGB1" | length | JSON: the exact bytes written before the sealed database.
std::string encodeHeader(const Header& header);
/// The header at the start of `bytes` (a file's first bytes; more may follow). `consumed` gets
/// the header's length in bytes. Status::invalid naming what is wrong.
StatusOr<Header> decodeHeader(const std::string& bytes, size_t* consumed = nullptr);
/// Reads the header of the backup file `path`; `raw` gets its exact bytes.
StatusOr<Header> readHeader(const std::string& path, std::string* raw = nullptr);

/// Counts, audit head, schema version and SHA-256 of the plain database file `dbPath` (opened
/// through SQLite; createdAt and version are left empty).
StatusOr<Manifest> describeDatabase(const std::string& dbPath);
/// The body files the database `dbPath` refers to (message_bodies.file), sorted.
StatusOr<std::vector<std::string>> bodyFilesOf(const std::string& dbPath);

/// Encrypts the plain database `snapshot` (described by `manifest`) with the body files `files`
/// found in `bodiesDir` into the backup file `out`, under a new data key wrapped by `kek`;
/// `workDir` holds the intermediate sealed copy. `out` is fsync'ed. On failure nothing is left
/// behind. `sha256` (when not null) gets the hex SHA-256 of every byte written to `out`.
/// `signingKeySealed`: the sealed signing key to carry (manifest.signingKey names it), or "".
Status writeBackupFile(const std::string& snapshot, const Manifest& manifest,
                       const std::vector<std::string>& files, const std::string& bodiesDir,
                       const security::KeyEncryptionKey& kek, const std::string& out,
                       const std::string& workDir, std::string* sha256 = nullptr,
                       const std::string& signingKeySealed = "");

/// Decrypts the backup `file` into `plainOut` and checks its SHA-256 and size against the
/// manifest, and every body file against the header; with `bodiesOut` the body files are written
/// there. A signing key the backup carries must open with `kek` and have the manifest's
/// fingerprint; `signingKeySealed` (when not null) gets its sealed text ("" when none).
/// Errors: Status::config when `kek` is not the key the backup was made with (naming both
/// fingerprints), Status::invalid when the file is damaged or tampered with.
StatusOr<Manifest> decryptBackup(const std::string& file, const security::KeyEncryptionKey& kek,
                                 const std::string& plainOut, const std::string& workDir,
                                 const std::string& bodiesOut = "",
                                 std::string* signingKeySealed = nullptr);

/// Checks the plain database `dbPath` (named labgate.db) against `manifest`: PRAGMA
/// integrity_check, counts, audit head and schema, then the audit chain and the data keys (the
/// copy is opened as a Store with `kek`, which may run the migrations on it: use a copy that may
/// change).
Status checkDatabase(const std::string& dbPath, const Manifest& manifest,
                     const security::KeyEncryptionKey& kek);

/// Decrypts `file` into a private folder under `workDir` and runs checkDatabase: what "verified"
/// means. The folder is removed afterwards.
StatusOr<Manifest> verifyBackup(const std::string& file, const security::KeyEncryptionKey& kek,
                                const std::string& workDir);

/// What stat(2) says of a file, to tell cheaply whether it may have changed: while device, inode,
/// size, mtime and ctime are all the same, so is the content (the kernel sets ctime on every
/// change, and no program can set it back, unlike mtime). A different stamp means "read it again",
/// not "changed": a copy (rsync -a, a restore of the backup disk) has new ones.
struct FileStamp {
  uint64_t device = 0;
  uint64_t inode = 0;
  int64_t bytes = 0;
  int64_t mtimeNs = 0;
  int64_t ctimeNs = 0;
  bool operator==(const FileStamp& o) const {
    return device == o.device && inode == o.inode && bytes == o.bytes && mtimeNs == o.mtimeNs &&
           ctimeNs == o.ctimeNs;
  }
  bool operator!=(const FileStamp& o) const { return !(*this == o); }
};
/// The stamp of `path` (following no symbolic link); nullopt when it cannot be stat'ed.
std::optional<FileStamp> stampOf(const std::string& path);
/// Hex SHA-256 of the whole file `path`, read from one descriptor; `stamp` (when not null) gets
/// the file's stamp as it was before the read.
StatusOr<std::string> fileSha256(const std::string& path, FileStamp* stamp = nullptr);

/// What a successful backup produced.
struct Created {
  std::string name;  // file name in the backup directory
  std::string path;
  int64_t bytes = 0;
  Manifest manifest;
  /// Hex SHA-256 of the whole backup file as written, verified and renamed: what "verified"
  /// stays bound to (BackupService lists a file as verified only while it still has this digest).
  std::string sha256;
  FileStamp stamp;  // of the final file, when its digest was taken
};

/// Takes a backup of `store` now (an online, consistent snapshot: intake goes on) with the body
/// files it refers to from `bodiesDir`, writes it as `<dir>/<name>.partial`, verifies it, and
/// renames it to `<dir>/<name>`; then reads the final file once more: its SHA-256 must be that of
/// the bytes written (else it changed while verified, and is deleted). `unixSeconds` names it; a
/// file of that name must not exist. Plain copies go under `workDir` only. `signingKeyFile`: the
/// sealed signing key file to carry (<data.dir>/signing-key.sealed; it must exist and open with
/// `kek`), or "" for a backup without one (format 1).
StatusOr<Created> createBackup(Store& store, const security::KeyEncryptionKey& kek,
                               const std::string& dir, const std::string& bodiesDir,
                               const std::string& workDir, int64_t unixSeconds,
                               const std::string& signingKeyFile = "");

/// Restores `file` into `dataDir`, which must be empty or absent: decrypts it to
/// `<dataDir>/labgate.db` and `<dataDir>/bodies/` and verifies it (checkDatabase); the signing
/// key it carries (manifest.signingKey) goes to `<dataDir>/signing-key.sealed`. On any failure
/// `dataDir` is left empty. Refuses a backup whose schema is newer than this program's.
StatusOr<Manifest> restoreBackup(const std::string& file, const security::KeyEncryptionKey& kek,
                                 const std::string& dataDir);

/// "labgate-20261124T041200Z.lgb" for a time in seconds since the epoch (UTC).
std::string fileNameFor(int64_t unixSeconds);
/// The time a backup file name stands for; nullopt for any other name (.partial included).
std::optional<int64_t> timeOfFileName(const std::string& name);

/// How many backups the retention policy keeps (backup.keep.hourly, backup.keep.daily).
struct Retention {
  int64_t hourly = 24;
  int64_t daily = 14;
};

/// The backups (by time, seconds since the epoch) that retention deletes at `now`: kept are the
/// newest backup of each of the last `hourly` UTC hours (the current one included), the newest of
/// each of the last `daily` UTC days, the newest backup not later than `now` (so that a clock set
/// wrong never leaves no real backup), and anything later than `now`.
/// Everything else is returned, oldest first.
std::vector<int64_t> chooseBackupsToDelete(const std::vector<int64_t>& times, int64_t now,
                                           const Retention& keep);

/// A backup file found in a backup directory.
struct Listing {
  std::string name;
  std::string path;
  int64_t bytes = 0;
  int64_t time = 0;                  // from the name
  std::optional<Manifest> manifest;  // when the header reads
};
/// The backup files of `dir` (names of fileNameFor's form), newest first. Empty when `dir` does
/// not exist.
std::vector<Listing> listBackups(const std::string& dir);

}  // namespace labgate::backup
