// The file-drop source (see file_drop_source.h).
#include "connectors/file/file_drop_source.h"

#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <istream>
#include <map>
#include <mutex>
#include <thread>

#include "connectors/file/inbox_folder.h"
#include "engine/log/log.h"
#include "engine/net/tcp_listener.h"

namespace labgate::file {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("file-drop"); }

/// A file whose import was attempted this many times without an outcome (the engine stopped
/// during it, or it threw) is quarantined instead of being tried again.
constexpr int kMaxAttempts = 2;

/// A folder the connector moves files into: the inbox's own subfolder `path` (relative), or a
/// configured path; `label` names it in messages.
struct OutputFolder {
  std::string path;
  bool inInbox = true;
  std::string label;
};

struct Settings {
  std::string inbox;
  std::string pattern = "*";
  bool inotify = true;
  int64_t pollMillis = 2000;
  int64_t settleMillis = 1000;
  int64_t maxBytes = int64_t{2} << 30;  // 2 GiB
  OutputFolder processed{"processed", true, "processed/"};
  OutputFolder rejected{"rejected", true, "rejected/"};
  OutputFolder quarantine{"quarantine", true, "quarantine/"};
  std::string workDir;  // <data.dir>/file-drop: private copies and the attempt log
};

/// What was last seen of a candidate file, to tell when it stopped changing.
struct Seen {
  int64_t size = 0;
  int64_t mtimeNs = 0;
  std::chrono::steady_clock::time_point stableSince;
  std::chrono::steady_clock::time_point retryAfter{};
};

bool temporaryName(const std::string& name) {
  auto endsWith = [&](const char* suffix) {
    std::string s(suffix);
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return name.empty() || name[0] == '.' || name[0] == '~' || endsWith(".tmp") ||
         endsWith(".part") || endsWith(".crdownload") || endsWith(".reason");
}

/// The folders of one scan, opened through descriptors.
struct Folders {
  FdPtr inbox, processed, rejected, quarantine;
};

/// The .reason text of a file refused before it was read.
std::string reasonText(const std::string& why, const std::vector<Intake::Problem>& details) {
  std::string text = "rejected: " + why + "\n";
  for (const auto& d : details) text += d.toString() + "\n";
  return text;
}

const char* kLinkReason =
    "this is a symbolic link to a file elsewhere, not a file written into the inbox. LabGate "
    "imports only files written into the inbox itself: a link could make it import another "
    "organisation's batch or a system file. Copy the export into the inbox instead.";

std::string hardLinkReason(nlink_t links) {
  return "this file also has " + std::to_string(links - 1) +
         " other name(s) (hard links) elsewhere on the disk. LabGate imports only files written "
         "into the inbox itself, with no other name: a link could make it import another "
         "organisation's batch. Copy the export into the inbox instead.";
}

class FileDropSource : public Source {
 public:
  FileDropSource(SourceContext context, Settings settings, ExportSelection selection)
      : context_(std::move(context)),
        settings_(std::move(settings)),
        selection_(std::move(selection)),
        attempts_(settings_.workDir.empty()
                      ? std::string()
                      : settings_.workDir + "/" + context_.name + ".attempts") {}

  ~FileDropSource() override { stop(); }

  Status start() override {
    StatusOr<FdPtr> inbox = openInbox(settings_.inbox);
    if (!inbox.isOk()) {
      return Status::config("connector." + context_.name + ".inbox",
                            "cannot use " + settings_.inbox +
                                " as an inbox (it must be a folder LabGate can write to): " +
                                inbox.status().reason());
    }
    if (!settings_.workDir.empty() && ::mkdir(settings_.workDir.c_str(), 0700) != 0 &&
        errno != EEXIST) {
      return Status::config("data.dir", "cannot create " + settings_.workDir +
                                            " (the file-drop connectors' working folder): " +
                                            std::string(std::strerror(errno)));
    }
    // processed/, rejected/ and quarantine/ are checked on every scan: one that is wrong now is a
    // fault on /health, not a reason to stop the engine.
    if (settings_.inotify) {
      inotifyFd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
      if (inotifyFd_ >= 0 &&
          inotify_add_watch(inotifyFd_, settings_.inbox.c_str(),
                            IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY) < 0) {
        ::close(inotifyFd_);
        inotifyFd_ = -1;
      }
      if (inotifyFd_ < 0) {
        logWarning(logger(), "connector {}: inotify unavailable; polling the inbox every {} ms",
                   context_.name, static_cast<Poco::Int64>(settings_.pollMillis));
      }
    }
    running_ = true;
    state_ = "watching";
    thread_ = std::thread([this] { run(); });
    logInfo(logger(), "connector {}: watching {} for {} ({})", context_.name, settings_.inbox,
            settings_.pattern, std::string(inotifyFd_ >= 0 ? "inotify" : "polling"));
    return Status::ok();
  }

  void stop() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!running_) return;
      running_ = false;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (inotifyFd_ >= 0) ::close(inotifyFd_);
    inotifyFd_ = -1;
    state_ = "stopped";
  }

  Poco::JSON::Object::Ptr health() const override {
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("name", context_.name);
    out->set("kind", "file-drop");
    {
      std::lock_guard<std::mutex> lock(mutex_);
      out->set("state", fault_.empty() ? state_ : std::string("fault"));
      if (!fault_.empty()) out->set("fault", fault_);
    }
    out->set("inbox", settings_.inbox);
    out->set("watch", inotifyFd_ >= 0 ? "inotify" : "poll");
    out->set("format", selection_.configuredName().empty() ? std::string("auto")
                                                           : selection_.configuredName());
    out->set("files_imported", imported_.load());
    out->set("files_rejected", rejected_.load());
    out->set("files_duplicate", duplicates_.load());
    out->set("files_retrying", retrying_.load());
    out->set("files_quarantined", quarantined_.load());
    out->set("results_accepted", results_.load());
    out->set("current_file_bytes", currentBytes_.load());
    return out;
  }

 private:
  void run() {
    while (true) {
      // Nothing a file or a folder does may end this thread (it would end the engine).
      try {
        scan();
      } catch (const std::exception& e) {
        setFault(std::string("the scan of the inbox failed: ") + e.what());
      } catch (...) {
        setFault("the scan of the inbox failed (unknown error)");
      }
      std::unique_lock<std::mutex> lock(mutex_);
      if (!running_) return;
      lock.unlock();
      waitForChange();
      lock.lock();
      if (!running_) return;
    }
  }

  /// Sleeps until inotify reports something, the poll interval passes, or stop() is called.
  /// While a file is settling, wakes in time to take it.
  void waitForChange() {
    int64_t waitMillis = pending_.empty()
                             ? settings_.pollMillis
                             : std::min<int64_t>(settings_.pollMillis,
                                                 std::max<int64_t>(50, settings_.settleMillis / 2));
    if (inotifyFd_ < 0) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(waitMillis), [this] { return !running_; });
      return;
    }
    // Wait on inotify in slices, so that stop() is noticed within 100 ms.
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(waitMillis);
    while (std::chrono::steady_clock::now() < until) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!running_) return;
      }
      pollfd p{inotifyFd_, POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) {
        char buf[8192];
        while (::read(inotifyFd_, buf, sizeof buf) > 0) {
        }
        return;
      }
    }
  }

  /// Opens the inbox and the folders files are moved into. Status: the fault to show.
  Status openFolders(Folders& folders) {
    StatusOr<FdPtr> inbox = openInbox(settings_.inbox);
    if (!inbox.isOk()) return inbox.status();
    folders.inbox = std::move(inbox).value();
    auto open = [&](const OutputFolder& folder, FdPtr& out) -> Status {
      StatusOr<FdPtr> opened = openOutputFolder(folder.inInbox ? folders.inbox->get() : AT_FDCWD,
                                                folder.path, folder.label, folders.inbox->get());
      if (!opened.isOk()) return opened.status();
      out = std::move(opened).value();
      return Status::ok();
    };
    if (Status s = open(settings_.processed, folders.processed); !s.isOk()) return s;
    if (Status s = open(settings_.rejected, folders.rejected); !s.isOk()) return s;
    return open(settings_.quarantine, folders.quarantine);
  }

  void scan() {
    Folders folders;
    if (Status opened = openFolders(folders); !opened.isOk()) {
      setFault(opened.reason() + " (no file is taken until this is mended)");
      return;
    }
    std::vector<FolderEntry> entries;
    if (Status listed = listFolder(folders.inbox->get(), entries); !listed.isOk()) {
      setFault(listed.reason());
      return;
    }
    clearFault();
    std::vector<FolderEntry> candidates;
    for (auto& entry : entries) {
      if (temporaryName(entry.name)) continue;
      if (::fnmatch(settings_.pattern.c_str(), entry.name.c_str(), 0) != 0) continue;
      if (S_ISLNK(entry.info.st_mode)) {
        refuseBeforeReading(folders, entry.name, FileId::of(entry.info), "symbolic link",
                            kLinkReason);
        continue;
      }
      if (!S_ISREG(entry.info.st_mode)) continue;  // folders (processed/ ...), pipes, devices
      candidates.push_back(std::move(entry));
    }
    // Oldest first: batches are imported in the order they were written.
    std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
      const int64_t ta = FileId::of(a.info).mtimeNs, tb = FileId::of(b.info).mtimeNs;
      if (ta != tb) return ta < tb;
      return a.name < b.name;
    });
    std::map<std::string, Seen> still;
    auto now = std::chrono::steady_clock::now();
    for (const auto& entry : candidates) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!running_) return;
      }
      const FileId id = FileId::of(entry.info);
      auto it = pending_.find(entry.name);
      if (it == pending_.end() || it->second.size != id.size || it->second.mtimeNs != id.mtimeNs) {
        still[entry.name] =
            Seen{id.size, id.mtimeNs, now, it == pending_.end() ? now : it->second.retryAfter};
        continue;
      }
      Seen seen = it->second;
      if (now - seen.stableSince < std::chrono::milliseconds(settings_.settleMillis) ||
          now < seen.retryAfter) {
        still[entry.name] = seen;
        continue;
      }
      if (!take(folders, entry.name)) {
        seen.retryAfter = now + std::chrono::seconds(10);
        still[entry.name] = seen;
      }
    }
    pending_ = std::move(still);
  }

  /// Processes one complete file. False: leave it for a retry in 10 s.
  bool take(const Folders& folders, const std::string& name) {
    const int raw = ::openat(folders.inbox->get(), name.c_str(),
                             O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (raw < 0) {
      const int err = errno;
      if (err == ENOENT) return true;  // gone
      if (err == ELOOP) {              // replaced by a link since the listing
        struct stat info {};
        if (::fstatat(folders.inbox->get(), name.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0) {
          refuseBeforeReading(folders, name, FileId::of(info), "symbolic link", kLinkReason);
        }
        return true;
      }
      logError(logger(), "connector {}: cannot open a file in the inbox ({}); will retry",
               context_.name, std::string(std::strerror(err)));
      return false;
    }
    security::Fd file(raw);
    struct stat info {};
    if (::fstat(file.get(), &info) != 0) return false;
    if (!S_ISREG(info.st_mode)) return true;
    const FileId id = FileId::of(info);
    if (info.st_nlink > 1) {
      return refuseBeforeReading(folders, name, id, "hard link", hardLinkReason(info.st_nlink));
    }
    if (id.size > settings_.maxBytes) {
      Intake::Problem tooLarge{
          "file", std::to_string(id.size) + " bytes is over the connector's limit of " +
                      std::to_string(settings_.maxBytes) + " bytes (max_bytes)"};
      if (!moveFileOut(folders, name, id, "too large", {tooLarge})) return false;
      ++rejected_;
      return true;
    }
    const int before = attempts_.attempts(id);
    if (before >= kMaxAttempts) return quarantine(folders, name, id, before);
    if (Status recorded = attempts_.record(id, before + 1); !recorded.isOk()) {
      logWarning(
          logger(),
          "connector {}: cannot record the import attempt ({}); a file that stops the engine "
          "would not be recognised after a restart",
          context_.name, recorded.toString());
    }
    const std::string spool = settings_.workDir.empty() ? std::string(P_tmpdir) : settings_.workDir;
    StatusOr<Snapshot> snapshot = snapshotFile(file.get(), spool, settings_.maxBytes);
    struct stat after {};
    const bool unchanged = snapshot.isOk() && ::fstat(file.get(), &after) == 0 &&
                           FileId::of(after) == id && snapshot->size == id.size;
    if (!unchanged) {
      settleAttempts(id, before);  // not an attempt: nothing was handed to the pipeline
      if (!snapshot.isOk()) {
        logError(logger(), "connector {}: a file in the inbox could not be read ({}); will retry",
                 context_.name, snapshot.status().toString());
        return false;
      }
      // Written to while it was read: it is waited for again, like a file still being written.
      return true;
    }
    return importSnapshot(folders, name, id, before + 1, snapshot.value());
  }

  /// Runs the private copy of a file through the pipeline and moves the file by the outcome.
  bool importSnapshot(const Folders& folders, const std::string& name, const FileId& id,
                      int attempt, Snapshot& snapshot) {
    const std::string tag = "sha256:" + snapshot.sha256.substr(0, 12);
    setState("importing");
    currentBytes_ = snapshot.size;
    FdReadBuffer buffer(snapshot.copy->get());
    std::istream in(&buffer);
    ExportJob job;
    job.in = &in;
    selection_.assign(job, snapshot.head, "");
    job.fileName = name;
    job.peer = "file-drop";
    job.contentSha256 = snapshot.sha256;
    job.sizeBytes = snapshot.size;
    Intake intake;
    std::string thrown;
    try {
      intake = context_.exportHandler(job);
    } catch (const std::exception& e) {
      thrown = e.what();
    } catch (...) {
      thrown = "unknown error";
    }
    setState("watching");
    currentBytes_ = 0;
    if (!thrown.empty()) {
      ++retrying_;
      logError(logger(),
               "connector {}: importing file {} failed unexpectedly ({}), attempt {} of {}",
               context_.name, tag, thrown, attempt, kMaxAttempts);
      return attempt >= kMaxAttempts && quarantine(folders, name, id, attempt);
    }
    switch (intake.outcome) {
      case Intake::Outcome::kAccepted:
        settleAttempts(id, 0);
        ++imported_;
        results_ += static_cast<int64_t>(intake.results);
        logInfo(logger(), "connector {}: file {} imported as batch {}: {} results, {} held",
                context_.name, tag, static_cast<Poco::Int64>(intake.messageId), intake.results,
                intake.held);
        return moveFileOut(folders, name, id, "", {});
      case Intake::Outcome::kDuplicate:
        settleAttempts(id, 0);
        ++duplicates_;
        return moveFileOut(folders, name, id, "duplicate", intake.details);
      case Intake::Outcome::kRefused:
      case Intake::Outcome::kInvalid: {
        settleAttempts(id, 0);
        ++rejected_;
        const std::string why = intake.outcome == Intake::Outcome::kRefused ? "refused" : "invalid";
        return moveFileOut(folders, name, id, why, intake.details);
      }
      case Intake::Outcome::kFailed:
        // The store could not commit: not the file's fault (a full disk, a locked database), so
        // not counted as an attempt; the file stays and is tried again.
        settleAttempts(id, attempt - 1);
        ++retrying_;
        logError(logger(),
                 "connector {}: file {} not imported ({}); it stays in the inbox and is "
                 "retried in 10 s",
                 context_.name, tag, intake.status.toString());
        return false;
    }
    return false;
  }

  /// Moves the file `name` out of the inbox: to processed/ when `why` is empty, else to
  /// rejected/ with NAME.reason ("rejected: WHY" and one line per problem). Only the file that
  /// was examined (`id`) is moved: a new file written under the same name meanwhile stays for its
  /// own turn. False when the move failed (logged, shown as the fault): try again later.
  bool moveFileOut(const Folders& folders, const std::string& name, const FileId& id,
                   const std::string& why, const std::vector<Intake::Problem>& details) {
    const bool toProcessed = why.empty();
    const OutputFolder& to = toProcessed ? settings_.processed : settings_.rejected;
    const int toFd = toProcessed ? folders.processed->get() : folders.rejected->get();
    struct stat now {};
    if (::fstatat(folders.inbox->get(), name.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0 ||
        !id.sameFile(now)) {
      logWarning(
          logger(),
          "connector {}: a file was replaced in the inbox while it was examined; the new file "
          "stays there and is taken on its own",
          context_.name);
      return true;
    }
    const std::string reason = toProcessed ? std::string() : reasonText(why, details);
    Status moved = file::moveOut(folders.inbox->get(), name, toFd, to.label,
                                 toProcessed ? nullptr : &reason, nullptr);
    if (!moved.isOk()) {
      logError(logger(), "connector {}: {}", context_.name, moved.toString());
      if (moved.code() == Status::Code::kNotFound) return true;
      setFault(moved.reason());
      return false;
    }
    if (!toProcessed) {
      logWarning(logger(), "connector {}: file moved to {} ({}): {}", context_.name, to.label, why,
                 details.empty() ? std::string() : details.front().toString());
    }
    return true;
  }

  /// Refuses a link without reading it: moved (the link itself, not what it names) to rejected/.
  /// False when it could not be moved.
  bool refuseBeforeReading(const Folders& folders, const std::string& name, const FileId& id,
                           const std::string& why, const std::string& explanation) {
    if (!moveFileOut(folders, name, id, why, {{"file", explanation}})) return false;
    ++rejected_;
    return true;
  }

  /// Records `count` import attempts for `id` once an attempt is settled. A failure is logged and
  /// changes nothing else: the file's outcome stands; the attempt log keeps its old count, so a
  /// file with this identity may at worst be quarantined sooner.
  void settleAttempts(const FileId& id, int count) {
    if (Status recorded = attempts_.record(id, count); !recorded.isOk()) {
      logWarning(logger(),
                 "connector {}: cannot update the import attempts ({}); a file with the same "
                 "identity may be quarantined after fewer attempts",
                 context_.name, recorded.toString());
    }
  }

  /// Moves a file whose import was attempted `attempts` times without an outcome to quarantine/.
  /// False when it could not be moved (the attempts stay recorded: it is not tried again).
  bool quarantine(const Folders& folders, const std::string& name, const FileId& id, int attempts) {
    struct stat now {};
    if (::fstatat(folders.inbox->get(), name.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0 ||
        !id.sameFile(now)) {
      settleAttempts(id, 0);  // gone, or another file under its name now
      return true;
    }
    const std::string reason =
        "quarantined: not imported\n"
        "file: importing this file was attempted " +
        std::to_string(attempts) +
        " times and no attempt finished: the engine stopped during it (a crash or a kill) or the "
        "import failed unexpectedly. It is kept here so that it cannot stop the engine again, "
        "and nothing from it was stored. Keep it for LabGate support; to try it once more, copy "
        "it back into the inbox.\n";
    std::string movedAs;
    Status moved = file::moveOut(folders.inbox->get(), name, folders.quarantine->get(),
                                 settings_.quarantine.label, &reason, &movedAs);
    if (!moved.isOk()) {
      logError(logger(),
               "connector {}: a file that could not be imported ({} attempts) cannot be "
               "quarantined: {}",
               context_.name, attempts, moved.toString());
      if (moved.code() != Status::Code::kNotFound) setFault(moved.reason());
      return moved.code() == Status::Code::kNotFound;
    }
    settleAttempts(id, 0);
    ++quarantined_;
    logError(logger(),
             "connector {}: a file whose import was attempted {} times without finishing was moved "
             "to {} with a .reason; nothing from it was stored. Keep it for support.",
             context_.name, attempts, settings_.quarantine.label);
    return true;
  }

  void setState(const char* state) {
    std::lock_guard<std::mutex> lock(mutex_);
    state_ = state;
  }

  /// Shows `fault` on /health (state "fault") and logs it once.
  void setFault(const std::string& fault) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (fault_ == fault) return;
      fault_ = fault;
    }
    logError(logger(), "connector {}: {}", context_.name, fault);
  }

  void clearFault() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (fault_.empty()) return;
      fault_.clear();
    }
    logInfo(logger(), "connector {}: the inbox and its folders are usable again", context_.name);
  }

  SourceContext context_;
  Settings settings_;
  ExportSelection selection_;
  AttemptLog attempts_;
  std::map<std::string, Seen> pending_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool running_ = false;
  std::string state_ = "stopped";
  std::string fault_;  // "": none
  std::thread thread_;
  int inotifyFd_ = -1;
  std::atomic<int64_t> imported_{0}, rejected_{0}, duplicates_{0}, retrying_{0}, results_{0};
  std::atomic<int64_t> quarantined_{0};
  std::atomic<int64_t> currentBytes_{0};
};

/// A folder key holds a Linux path. A Windows path is refused rather than taken as a relative
/// name: in a properties file a backslash is an escape character, so `C:\Exports\quant` reads
/// as `C:Exportsquant`, which would quietly become a folder of that name in the working folder.
Status linuxFolder(const std::string& key, const std::string& value) {
  const bool drive =
      value.size() >= 2 && std::isalpha(static_cast<unsigned char>(value[0])) && value[1] == ':';
  if (!drive && value.find('\\') == std::string::npos) return Status::ok();
  return Status::config(key, "\"" + value +
                                 "\" looks like a Windows path (a drive letter or backslashes): "
                                 "name the folder as a Linux path, e.g. /srv/labgate/inbox/quant1 "
                                 "(in this file a backslash is an escape character)");
}

StatusOr<std::unique_ptr<Source>> createFileDropSource(const SourceContext& context) {
  const std::string prefix = "connector." + context.name + ".";
  Settings settings;
  ExportSettings exportSettings;
  exportSettings.keyPrefix = prefix;
  exportSettings.configDir = context.configDir;
  bool haveInbox = false;
  auto configured = [&](OutputFolder& folder, const std::string& key, const std::string& value) {
    if (value.empty())
      return Status::config(prefix + key, "empty (leave the key out for the default)");
    folder = OutputFolder{value, false, key + " " + value};
    return linuxFolder(prefix + key, value);
  };
  for (const auto& [key, value] : context.keys) {
    Status status;
    if (key == "inbox") {
      settings.inbox = value;
      haveInbox = !value.empty();
      status = linuxFolder(prefix + key, value);
    } else if (key == "pattern") {
      if (value.empty()) status = Status::config(prefix + key, "empty (use * for every file)");
      settings.pattern = value;
    } else if (key == "watch") {
      if (value != "inotify" && value != "poll") {
        status = Status::config(prefix + key, "\"" + value + "\" is not inotify or poll");
      }
      settings.inotify = value == "inotify";
    } else if (key == "poll_ms") {
      status = parseInteger(prefix + key, value, 50, 3600000, settings.pollMillis);
    } else if (key == "settle_ms") {
      status = parseInteger(prefix + key, value, 0, 3600000, settings.settleMillis);
    } else if (key == "max_bytes") {
      status = parseInteger(prefix + key, value, 1, int64_t{1} << 40, settings.maxBytes);
    } else if (key == "processed_dir") {
      status = configured(settings.processed, key, value);
    } else if (key == "rejected_dir") {
      status = configured(settings.rejected, key, value);
    } else if (key == "quarantine_dir") {
      status = configured(settings.quarantine, key, value);
    } else if (context.exportFormats && ExportSelection::isExportKey(*context.exportFormats, key)) {
      exportSettings.keys[key] = value;
    } else if (!isEngineConnectorKey(key)) {
      status = Status::config(prefix + key, "unknown key for kind file-drop");
    }
    if (!status.isOk()) return status;
  }
  if (!haveInbox) return Status::config(prefix + "inbox", "missing (the folder to watch)");
  if (!context.dataDir.empty()) settings.workDir = context.dataDir + "/file-drop";
  StatusOr<ExportSelection> selection = exportSelectionFor(context, "file-drop", exportSettings);
  if (!selection.isOk()) return selection.status();
  return std::unique_ptr<Source>(
      new FileDropSource(context, std::move(settings), std::move(selection).value()));
}

}  // namespace

void registerFileDropSource(Registry& registry) {
  // Exports are recognised by content hash: a copy dropped again is not imported twice.
  SourceKind kind;
  kind.factory = createFileDropSource;
  kind.deduplicate = true;  // the dedupe key is the file's content hash
  registry.addSource("file-drop", std::move(kind));
}

}  // namespace labgate::file
