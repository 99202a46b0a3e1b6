// BackupService: the engine's backups. Takes one on demand (the API) or on the schedule of
// backup.schedule, one at a time, online (engine/store/backup.h: a snapshot on a connection of its
// own, so intake goes on), encrypted under the key file's KEK, verified before it gets its final
// name; then applies the retention policy. Every outcome is an audit event of the operator
// organisation "default": backup.created, backup.deleted, backup.failed.
//
// "Verified" is bound to the file's content, not to its name: backup.created records the SHA-256
// of the whole file as written and verified, and the file's stamp (device, inode, size, mtime,
// ctime). list() shows a file as verified only while it still has that digest: while the stamp
// is unchanged the content is (no program can set ctime back), so nothing is read; when the stamp
// differs (a write, a touch, a copy) the file is read and hashed once, and a file whose digest
// differs is listed unverified and logged as a warning. Events written before the digest was
// recorded bind nothing: those files are listed unverified (`labgate backup verify` checks them).
//
// Thread-safety: every public method may be called from any thread; a second backupNow() while one
// runs answers Status::unavailable at once instead of queueing.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/api/api.h"
#include "engine/security/keyring.h"
#include "engine/service/backup_settings.h"
#include "engine/store/backup.h"
#include "engine/store/store.h"

namespace labgate {

class BackupService : public api::BackupControl {
 public:
  /// `dataDir` is data.dir: the default backup directory is <data.dir>/backups, and plain
  /// snapshots are only ever written under <data.dir>/backup-work (beside the live database).
  BackupService(std::shared_ptr<Store> store, security::KeyEncryptionKey kek,
                BackupSettings settings, const std::string& dataDir);
  ~BackupService() override;
  BackupService(const BackupService&) = delete;
  BackupService& operator=(const BackupService&) = delete;

  /// Carries the server's sealed signing key file (<data.dir>/signing-key.sealed) in every backup
  /// (format 2, engine/store/backup.h); a backup that cannot carry it fails. Call before start().
  /// Without it backups carry no signing key (format 1).
  void carrySigningKey(std::string sealedKeyFile) { signingKeyFile_ = std::move(sealedKeyFile); }

  /// Reads which backups were verified (their backup.created events), clears what a crash left in
  /// the work folder, and starts the scheduler thread when backup.schedule is not off.
  Status start();
  /// Stops the scheduler; waits for a backup in progress to finish.
  void stop();

  // api::BackupControl
  StatusOr<backup::Created> backupNow(const std::string& actor) override;
  std::vector<Entry> list() const override;

  /// Seconds since the epoch of the newest verified backup in the directory, if any.
  std::optional<int64_t> lastSuccess() const;
  const std::string& directory() const { return dir_; }

  /// When the scheduler runs next (seconds since the epoch) given the newest backup's time: one
  /// period after it (hourly, daily: the next UTC hour or day boundary after it), or `now` when
  /// that has passed or there is no backup.
  static int64_t nextDue(const BackupSchedule& schedule, std::optional<int64_t> newest,
                         int64_t now);

 private:
  StatusOr<backup::Created> takeBackup(const std::string& actor);
  void applyRetention(const std::string& actor, int64_t now);
  void schedulerLoop();
  void audit(const std::string& actor, const std::string& action, const std::string& subject,
             const std::string& detail);
  std::optional<int64_t> newestBackup(int64_t now) const;

  std::shared_ptr<Store> store_;
  security::KeyEncryptionKey kek_;
  BackupSettings settings_;
  std::string dir_;
  std::string workDir_;
  std::string bodiesDir_;       // <data.dir>/bodies: sealed export files the database refers to
  std::string signingKeyFile_;  // the sealed signing key carried in each backup; "" none

  /// What a backup.created event bound "verified" to.
  struct Verification {
    std::string sha256;  // of the whole file, as written and verified
    int64_t bytes = 0;
    /// Stamps the file had when last hashed: `good` had the digest, `bad` did not (each hashed
    /// once, not at every listing).
    std::optional<backup::FileStamp> good;
    std::optional<backup::FileStamp> bad;
  };
  /// The Verification a backup.created event's detail records; nullopt for an event written
  /// before digests were recorded (or one that does not parse).
  static std::optional<Verification> verificationOf(const std::string& detail);
  /// Whether the file of `listing` still has the digest of `v` (hashing it only when its stamp is
  /// neither known good nor known bad); updates the stamps of verified_[name]. Not under a lock.
  bool stillVerified(const backup::Listing& listing, Verification v) const;

  std::mutex runMutex_;  // held while a backup runs
  mutable std::mutex stateMutex_;
  mutable std::map<std::string, Verification> verified_;  // by file name
  std::optional<int64_t> lastSuccess_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace labgate
