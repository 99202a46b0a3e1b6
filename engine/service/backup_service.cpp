// The engine's backups: on demand, on a schedule, retention and audit (see backup_service.h).
#include "engine/service/backup_service.h"

#include <Poco/DirectoryIterator.h>
#include <Poco/File.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>

#include <chrono>
#include <sstream>

#include "engine/log/log.h"
#include "engine/security/posix_file.h"
#include "engine/store/accounts.h"

namespace labgate {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("backup"); }

int64_t unixSecondsNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string json(const Poco::JSON::Object& o) {
  std::ostringstream out;
  Poco::JSON::Stringifier::condense(o, out);
  return out.str();
}

int64_t periodOf(const BackupSchedule& s) {
  switch (s.kind) {
    case BackupSchedule::Kind::kHourly:
      return 3600;
    case BackupSchedule::Kind::kDaily:
      return 86400;
    case BackupSchedule::Kind::kEvery:
      return s.everySeconds;
    case BackupSchedule::Kind::kOff:
      break;
  }
  return 0;
}

constexpr const char* kOperatorOrg = "default";
constexpr const char* kSubjectPrefix = "backup:";

Poco::JSON::Object::Ptr stampJson(const backup::FileStamp& s) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("device", s.device);
  o->set("inode", s.inode);
  o->set("bytes", s.bytes);
  o->set("mtime_ns", s.mtimeNs);
  o->set("ctime_ns", s.ctimeNs);
  return o;
}

bool isHexSha256(const std::string& text) {
  return text.size() == 64 && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

std::optional<BackupService::Verification> BackupService::verificationOf(
    const std::string& detail) {
  try {
    Poco::JSON::Parser parser;
    Poco::JSON::Object::Ptr o = parser.parse(detail).extract<Poco::JSON::Object::Ptr>();
    if (!o || !o->has("sha256") || !o->has("bytes")) return std::nullopt;  // an older event
    Verification v;
    v.sha256 = o->getValue<std::string>("sha256");
    v.bytes = o->getValue<int64_t>("bytes");
    if (!isHexSha256(v.sha256)) return std::nullopt;
    if (Poco::JSON::Object::Ptr s = o->getObject("stamp")) {
      backup::FileStamp stamp;
      stamp.device = s->getValue<uint64_t>("device");
      stamp.inode = s->getValue<uint64_t>("inode");
      stamp.bytes = s->getValue<int64_t>("bytes");
      stamp.mtimeNs = s->getValue<int64_t>("mtime_ns");
      stamp.ctimeNs = s->getValue<int64_t>("ctime_ns");
      v.good = stamp;
    }
    return v;
  } catch (const Poco::Exception&) {
    return std::nullopt;  // not what this version writes: binds nothing
  }
}

BackupService::BackupService(std::shared_ptr<Store> store, security::KeyEncryptionKey kek,
                             BackupSettings settings, const std::string& dataDir)
    : store_(std::move(store)), kek_(std::move(kek)), settings_(std::move(settings)) {
  dir_ = settings_.dir.empty() ? Poco::Path(dataDir).append("backups").toString() : settings_.dir;
  workDir_ = Poco::Path(dataDir).append("backup-work").toString();
  bodiesDir_ = Poco::Path(dataDir).append("bodies").toString();
}

BackupService::~BackupService() { stop(); }

Status BackupService::start() {
  const std::string made = security::createPrivateDirectories(dir_);  // 0700 when created
  if (!made.empty()) return Status::config("backup.dir", made);
  try {
    Poco::File work(workDir_);
    if (work.exists()) work.remove(true);  // plain snapshots a crash left behind
    for (Poco::DirectoryIterator it(dir_), end; it != end; ++it) {
      const std::string& name = it.name();
      const std::string suffix = std::string(backup::kExtension) + ".partial";
      if (name.size() > suffix.size() &&
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        it->remove();  // a backup a crash interrupted before it was verified
      }
    }
  } catch (const Poco::Exception& e) {
    return Status::config("backup.dir", "cannot create " + dir_ + ": " + e.displayText());
  }
  // Which of the files were verified after writing: each has its backup.created event, which
  // since this version records the file's digest and stamp (newest event first: it wins).
  AccountStore accounts(store_);
  AuditFilter filter;
  filter.action = "backup.created";
  PageRequest page;
  page.limit = 500;
  std::map<std::string, Verification> verified;
  std::set<std::string> named;  // every name with an event, digest or not (lastSuccess)
  for (;;) {
    Page<AuditRecord> records = accounts.audit(kOperatorOrg, filter, page);
    for (const auto& r : records.items) {
      if (r.subject.rfind(kSubjectPrefix, 0) != 0) continue;
      const std::string name = r.subject.substr(std::string(kSubjectPrefix).size());
      if (!named.insert(name).second) continue;  // an older event of the same name
      std::optional<Verification> v = verificationOf(r.detail);
      if (v) verified.emplace(name, std::move(*v));
    }
    if (!records.next) break;
    page.before = *records.next;
  }
  std::optional<int64_t> last;
  for (const auto& l : backup::listBackups(dir_)) {
    if (named.count(l.name) && (!last || l.time > *last)) last = l.time;
  }
  {
    std::lock_guard<std::mutex> lock(stateMutex_);
    verified_ = std::move(verified);
    lastSuccess_ = last;
    stopping_ = false;
  }
  if (settings_.schedule.on()) thread_ = std::thread([this] { schedulerLoop(); });
  logInfo(logger(), "backups in {}, schedule {}, keeping {} hourly and {} daily", dir_,
          std::string(settings_.schedule.on() ? "on" : "off"), settings_.keep.hourly,
          settings_.keep.daily);
  return Status::ok();
}

void BackupService::stop() {
  {
    std::lock_guard<std::mutex> lock(stateMutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> wait(runMutex_);  // a backup of the API finishes first
}

StatusOr<backup::Created> BackupService::backupNow(const std::string& actor) {
  std::unique_lock<std::mutex> running(runMutex_, std::try_to_lock);
  if (!running.owns_lock()) return Status::unavailable("backup", "a backup is running already");
  return takeBackup(actor);
}

StatusOr<backup::Created> BackupService::takeBackup(const std::string& actor) {
  const auto started = std::chrono::steady_clock::now();
  // Names have second resolution: after a backup within the same second, wait for the next.
  int64_t at = unixSecondsNow();
  for (int i = 0; i < 3 && Poco::File(Poco::Path(dir_).append(backup::fileNameFor(at))).exists();
       ++i) {
    std::this_thread::sleep_until(
        std::chrono::system_clock::time_point(std::chrono::seconds(at + 1)));
    at = unixSecondsNow();
  }
  StatusOr<backup::Created> made =
      backup::createBackup(*store_, kek_, dir_, bodiesDir_, workDir_, at, signingKeyFile_);
  if (!made.isOk()) {
    logError(logger(), "backup failed: {}", made.status().toString());
    Poco::JSON::Object detail(Poco::JSON_PRESERVE_KEY_ORDER);
    detail.set("file", backup::fileNameFor(at));
    detail.set("reason", made.status().toString());
    audit(actor, "backup.failed", kSubjectPrefix + backup::fileNameFor(at), json(detail));
    return made;
  }
  const backup::Created& c = made.value();
  Poco::JSON::Object detail(Poco::JSON_PRESERVE_KEY_ORDER);
  detail.set("file", c.name);
  detail.set("bytes", c.bytes);
  detail.set("manifest_sha256", c.manifest.digest());
  detail.set("sha256", c.sha256);
  detail.set("stamp", stampJson(c.stamp));
  if (!c.manifest.signingKey.empty()) detail.set("signing_key", c.manifest.signingKey);
  audit(actor, "backup.created", kSubjectPrefix + c.name, json(detail));
  {
    std::lock_guard<std::mutex> lock(stateMutex_);
    Verification v;
    v.sha256 = c.sha256;
    v.bytes = c.bytes;
    v.good = c.stamp;
    verified_[c.name] = std::move(v);
    if (!lastSuccess_ || at > *lastSuccess_) lastSuccess_ = at;
  }
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
  logInfo(logger(), "backup {} written and verified: {} bytes, {} messages, {} ms", c.name, c.bytes,
          c.manifest.messages, static_cast<int64_t>(millis));
  applyRetention(actor, at);
  return made;
}

void BackupService::applyRetention(const std::string& actor, int64_t now) {
  std::vector<backup::Listing> all = backup::listBackups(dir_);
  std::vector<int64_t> times;
  times.reserve(all.size());
  for (const auto& l : all) times.push_back(l.time);
  std::vector<int64_t> doomed = backup::chooseBackupsToDelete(times, now, settings_.keep);
  std::set<int64_t> doomedSet(doomed.begin(), doomed.end());
  for (const auto& l : all) {
    if (!doomedSet.count(l.time)) continue;
    try {
      Poco::File(l.path).remove();
    } catch (const Poco::Exception& e) {
      logError(logger(), "retention could not delete backup {}: {}", l.name, e.displayText());
      continue;
    }
    Poco::JSON::Object detail(Poco::JSON_PRESERVE_KEY_ORDER);
    detail.set("file", l.name);
    detail.set("reason", "retention");
    audit(actor, "backup.deleted", kSubjectPrefix + l.name, json(detail));
    logInfo(logger(), "backup {} deleted by the retention policy", l.name);
    std::lock_guard<std::mutex> lock(stateMutex_);
    verified_.erase(l.name);
  }
}

std::vector<api::BackupControl::Entry> BackupService::list() const {
  std::map<std::string, Verification> verified;
  {
    std::lock_guard<std::mutex> lock(stateMutex_);
    verified = verified_;
  }
  std::vector<Entry> out;
  for (auto& l : backup::listBackups(dir_)) {  // files are read (if at all) without the lock
    Entry e;
    auto it = verified.find(l.name);
    e.verified = it != verified.end() && stillVerified(l, it->second);
    e.listing = std::move(l);
    out.push_back(std::move(e));
  }
  return out;
}

bool BackupService::stillVerified(const backup::Listing& listing, Verification v) const {
  const std::optional<backup::FileStamp> now = backup::stampOf(listing.path);
  if (!now) return false;  // gone, or no longer a regular file
  if (v.good && *now == *v.good) return true;
  if (v.bad && *now == *v.bad) return false;
  bool matches = false;
  std::string found;
  backup::FileStamp hashed = *now;
  if (now->bytes == v.bytes) {
    StatusOr<std::string> sha = backup::fileSha256(listing.path, &hashed);
    if (sha.isOk()) {
      matches = sha.value() == v.sha256;
      found = sha.value();
    } else {
      found = sha.status().toString();
    }
  }
  {
    std::lock_guard<std::mutex> lock(stateMutex_);
    auto it = verified_.find(listing.name);
    if (it != verified_.end() && it->second.sha256 == v.sha256) {
      (matches ? it->second.good : it->second.bad) = hashed;
    }
  }
  if (!matches) {
    // Logged once per change (the stamp is remembered as bad): the file is no longer what was
    // verified, whether damaged, replaced or tampered with.
    logWarning(
        logger(),
        "backup {} is listed unverified: it is no longer the file that was verified ({}; "
        "verified: {} bytes, SHA-256 {}). Check it with `labgate backup verify {} --key-file "
        "KEY` and take a new backup",
        listing.name,
        now->bytes != v.bytes ? "now " + std::to_string(now->bytes) + " bytes"
                              : "its SHA-256 is now " + found,
        v.bytes, v.sha256, listing.path);
  }
  return matches;
}

std::optional<int64_t> BackupService::lastSuccess() const {
  std::lock_guard<std::mutex> lock(stateMutex_);
  return lastSuccess_;
}

int64_t BackupService::nextDue(const BackupSchedule& schedule, std::optional<int64_t> newest,
                               int64_t now) {
  const int64_t period = periodOf(schedule);
  if (!newest || period <= 0) return now;
  int64_t due = *newest + period;
  if (schedule.kind != BackupSchedule::Kind::kEvery) {
    due = (*newest / period + 1) * period;  // the next boundary after the newest backup
  }
  return std::max(due, now);
}

std::optional<int64_t> BackupService::newestBackup(int64_t now) const {
  std::optional<int64_t> newest;
  for (const auto& l : backup::listBackups(dir_)) {
    if (l.time <= now && (!newest || l.time > *newest)) newest = l.time;
  }
  return newest;
}

void BackupService::schedulerLoop() {
  const int64_t retryDelay = std::min<int64_t>(periodOf(settings_.schedule), 300);
  std::optional<int64_t> retryAt;  // after a failure: not before this
  auto sleepUntil = [this](int64_t when) {
    std::unique_lock<std::mutex> lock(stateMutex_);
    const auto until = std::chrono::system_clock::time_point(std::chrono::seconds(when));
    wake_.wait_until(lock, until, [this] { return stopping_; });
    return !stopping_;
  };
  for (;;) {
    int64_t now = unixSecondsNow();
    int64_t due = nextDue(settings_.schedule, newestBackup(now), now);
    if (retryAt) due = std::max(due, *retryAt);
    if (!sleepUntil(due)) return;
    if (unixSecondsNow() < due) continue;  // woken early (clock change): compute again
    std::unique_lock<std::mutex> running(runMutex_, std::try_to_lock);
    if (!running.owns_lock()) {  // one of the API is running: it may make this one unneeded
      if (!sleepUntil(unixSecondsNow() + 1)) return;
      continue;
    }
    StatusOr<backup::Created> made = takeBackup("engine");
    retryAt = made.isOk() ? std::nullopt : std::optional<int64_t>(unixSecondsNow() + retryDelay);
  }
}

void BackupService::audit(const std::string& actor, const std::string& action,
                          const std::string& subject, const std::string& detail) {
  Status s = store_->appendAudit({kOperatorOrg, actor, action, subject, detail});
  if (!s.isOk()) logError(logger(), "audit event {} not written: {}", action, s.toString());
}

}  // namespace labgate
