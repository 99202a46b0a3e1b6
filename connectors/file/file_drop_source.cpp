// The file-drop source (see file_drop_source.h).
#include "connectors/file/file_drop_source.h"

#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>
#include <Poco/SHA2Engine.h>
#include <fnmatch.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "engine/net/tcp_listener.h"

namespace labgate::file {
namespace {

namespace fs = std::filesystem;

Poco::Logger& logger() { return Poco::Logger::get("file-drop"); }

struct Settings {
  std::string inbox;
  std::string pattern = "*";
  bool inotify = true;
  int64_t pollMillis = 2000;
  int64_t settleMillis = 1000;
  int64_t maxBytes = int64_t{2} << 30;  // 2 GiB
  std::string processedDir;
  std::string rejectedDir;
};

/// What was last seen of a candidate file, to tell when it stopped changing.
struct Seen {
  uintmax_t size = 0;
  fs::file_time_type mtime;
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

/// A destination name in `dir` that does not exist yet: NAME, then NAME-1.ext, NAME-2.ext, ...
fs::path freeName(const fs::path& dir, const std::string& name) {
  fs::path candidate = dir / name;
  std::string stem = fs::path(name).stem().string(), ext = fs::path(name).extension().string();
  for (int n = 1; fs::exists(candidate); ++n) {
    candidate = dir / (stem + "-" + std::to_string(n) + ext);
  }
  return candidate;
}

class FileDropSource : public Source {
 public:
  FileDropSource(SourceContext context, Settings settings, ExportSelection selection)
      : context_(std::move(context)),
        settings_(std::move(settings)),
        selection_(std::move(selection)) {}

  ~FileDropSource() override { stop(); }

  Status start() override {
    std::error_code ec;
    fs::create_directories(settings_.processedDir, ec);
    if (!ec) fs::create_directories(settings_.rejectedDir, ec);
    if (ec || !fs::is_directory(settings_.inbox)) {
      return Status::config("connector." + context_.name + ".inbox",
                            "cannot use " + settings_.inbox +
                                " as an inbox (it must be a folder LabGate can write to): " +
                                (ec ? ec.message() : "not a folder"));
    }
    if (settings_.inotify) {
      inotifyFd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
      if (inotifyFd_ >= 0 &&
          inotify_add_watch(inotifyFd_, settings_.inbox.c_str(),
                            IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY) < 0) {
        ::close(inotifyFd_);
        inotifyFd_ = -1;
      }
      if (inotifyFd_ < 0) {
        logger().warning("connector %s: inotify unavailable; polling the inbox every %Ld ms",
                         context_.name, static_cast<Poco::Int64>(settings_.pollMillis));
      }
    }
    running_ = true;
    state_ = "watching";
    thread_ = std::thread([this] { run(); });
    logger().information("connector %s: watching %s for %s (%s)", context_.name, settings_.inbox,
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
      out->set("state", state_);
    }
    out->set("inbox", settings_.inbox);
    out->set("watch", inotifyFd_ >= 0 ? "inotify" : "poll");
    out->set("format", selection_.configuredName().empty() ? std::string("auto")
                                                           : selection_.configuredName());
    out->set("files_imported", imported_.load());
    out->set("files_rejected", rejected_.load());
    out->set("files_duplicate", duplicates_.load());
    out->set("files_retrying", retrying_.load());
    out->set("results_accepted", results_.load());
    out->set("current_file_bytes", currentBytes_.load());
    return out;
  }

 private:
  void run() {
    while (true) {
      scan();
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

  void scan() {
    std::vector<fs::directory_entry> candidates;
    std::error_code ec;
    for (fs::directory_iterator it(settings_.inbox, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::directory_entry& entry = *it;
      std::error_code fileEc;
      if (!entry.is_regular_file(fileEc)) continue;
      std::string name = entry.path().filename().string();
      if (temporaryName(name)) continue;
      if (::fnmatch(settings_.pattern.c_str(), name.c_str(), 0) != 0) continue;
      candidates.push_back(entry);
    }
    if (ec) {
      logger().error("connector %s: cannot list the inbox: %s", context_.name, ec.message());
      return;
    }
    // Oldest first: batches are imported in the order they were written.
    std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
      std::error_code e1, e2;
      auto ta = a.last_write_time(e1), tb = b.last_write_time(e2);
      if (ta != tb) return ta < tb;
      return a.path().filename() < b.path().filename();
    });
    std::map<std::string, Seen> still;
    auto now = std::chrono::steady_clock::now();
    for (const auto& entry : candidates) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!running_) return;
      }
      std::string key = entry.path().filename().string();
      std::error_code e1, e2;
      uintmax_t size = entry.file_size(e1);
      fs::file_time_type mtime = entry.last_write_time(e2);
      if (e1 || e2) continue;
      auto it = pending_.find(key);
      if (it == pending_.end() || it->second.size != size || it->second.mtime != mtime) {
        still[key] = Seen{size, mtime, now, it == pending_.end() ? now : it->second.retryAfter};
        continue;
      }
      Seen seen = it->second;
      if (now - seen.stableSince < std::chrono::milliseconds(settings_.settleMillis) ||
          now < seen.retryAfter) {
        still[key] = seen;
        continue;
      }
      if (!take(entry.path(), size)) {
        seen.retryAfter = now + std::chrono::seconds(10);
        still[key] = seen;
      }
    }
    pending_ = std::move(still);
  }

  /// Processes one complete file. False: leave it for a retry (the store could not commit).
  bool take(const fs::path& path, uintmax_t size) {
    std::string name = path.filename().string();
    if (static_cast<int64_t>(size) > settings_.maxBytes) {
      Intake::Problem tooLarge{"file",
                               std::to_string(size) + " bytes is over the connector's limit of " +
                                   std::to_string(settings_.maxBytes) + " bytes (max_bytes)"};
      moveRejected(path, {tooLarge}, "too large");
      ++rejected_;
      return true;
    }
    std::string sha256, head;
    if (!hashFile(path, sha256, head)) return false;
    setState("importing");
    currentBytes_ = static_cast<int64_t>(size);
    std::string tag = "sha256:" + sha256.substr(0, 12);
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      setState("watching");
      logger().error("connector %s: cannot open file %s; will retry", context_.name, tag);
      return false;
    }
    ExportJob job;
    job.in = &in;
    selection_.assign(job, head, "");
    job.fileName = name;
    job.peer = "file-drop";
    job.contentSha256 = sha256;
    job.sizeBytes = static_cast<int64_t>(size);
    Intake intake = context_.exportHandler(job);
    setState("watching");
    currentBytes_ = 0;
    switch (intake.outcome) {
      case Intake::Outcome::kAccepted:
        ++imported_;
        results_ += static_cast<int64_t>(intake.results);
        moveTo(path, settings_.processedDir);
        logger().information("connector %s: file %s imported as batch %Ld: %z results, %z held",
                             context_.name, tag, static_cast<Poco::Int64>(intake.messageId),
                             intake.results, intake.held);
        return true;
      case Intake::Outcome::kDuplicate:
        ++duplicates_;
        moveRejected(path, intake.details, "duplicate");
        return true;
      case Intake::Outcome::kRefused:
      case Intake::Outcome::kInvalid:
        ++rejected_;
        moveRejected(path, intake.details,
                     intake.outcome == Intake::Outcome::kRefused ? "refused" : "invalid");
        return true;
      case Intake::Outcome::kFailed:
        ++retrying_;
        logger().error(
            "connector %s: file %s not imported (%s); it stays in the inbox and is "
            "retried in 10 s",
            context_.name, tag, intake.status.toString());
        return false;
    }
    return false;
  }

  bool hashFile(const fs::path& path, std::string& sha256, std::string& head) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      logger().error("connector %s: cannot open a file in the inbox; will retry", context_.name);
      return false;
    }
    Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
    std::string buf(1 << 20, '\0');
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      auto n = static_cast<size_t>(in.gcount());
      if (n == 0) break;
      if (head.size() < 65536) head.append(buf.data(), std::min<size_t>(n, 65536 - head.size()));
      engine.update(buf.data(), n);
    }
    if (in.bad()) return false;
    sha256 = Poco::DigestEngine::digestToHex(engine.digest());
    return true;
  }

  void moveTo(const fs::path& path, const std::string& dir) {
    std::error_code ec;
    fs::path target = freeName(dir, path.filename().string());
    fs::rename(path, target, ec);
    if (ec) {
      logger().error("connector %s: cannot move a file out of the inbox: %s", context_.name,
                     ec.message());
    }
  }

  void moveRejected(const fs::path& path, const std::vector<Intake::Problem>& details,
                    const std::string& why) {
    std::error_code ec;
    fs::path target = freeName(settings_.rejectedDir, path.filename().string());
    fs::rename(path, target, ec);
    if (ec) {
      logger().error("connector %s: cannot move a rejected file out of the inbox: %s",
                     context_.name, ec.message());
      return;
    }
    std::ofstream reason(target.string() + ".reason", std::ios::trunc);
    reason << "rejected: " << why << "\n";
    for (const auto& d : details) reason << d.toString() << "\n";
    logger().warning("connector %s: file moved to %s (%s): %s", context_.name,
                     settings_.rejectedDir, why,
                     details.empty() ? std::string() : details.front().toString());
  }

  void setState(const char* state) {
    std::lock_guard<std::mutex> lock(mutex_);
    state_ = state;
  }

  SourceContext context_;
  Settings settings_;
  ExportSelection selection_;
  std::map<std::string, Seen> pending_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool running_ = false;
  std::string state_ = "stopped";
  std::thread thread_;
  int inotifyFd_ = -1;
  std::atomic<int64_t> imported_{0}, rejected_{0}, duplicates_{0}, retrying_{0}, results_{0};
  std::atomic<int64_t> currentBytes_{0};
};

StatusOr<std::unique_ptr<Source>> createFileDropSource(const SourceContext& context) {
  const std::string prefix = "connector." + context.name + ".";
  Settings settings;
  ExportSettings exportSettings;
  exportSettings.keyPrefix = prefix;
  exportSettings.configDir = context.configDir;
  bool haveInbox = false;
  for (const auto& [key, value] : context.keys) {
    Status status;
    if (key == "inbox") {
      settings.inbox = value;
      haveInbox = !value.empty();
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
      settings.processedDir = value;
    } else if (key == "rejected_dir") {
      settings.rejectedDir = value;
    } else if (context.exportFormats && ExportSelection::isExportKey(*context.exportFormats, key)) {
      exportSettings.keys[key] = value;
    } else if (!isEngineConnectorKey(key)) {
      status = Status::config(prefix + key, "unknown key for kind file-drop");
    }
    if (!status.isOk()) return status;
  }
  if (!haveInbox) return Status::config(prefix + "inbox", "missing (the folder to watch)");
  if (settings.processedDir.empty()) settings.processedDir = settings.inbox + "/processed";
  if (settings.rejectedDir.empty()) settings.rejectedDir = settings.inbox + "/rejected";
  StatusOr<ExportSelection> selection = exportSelectionFor(context, "file-drop", exportSettings);
  if (!selection.isOk()) return selection.status();
  return std::unique_ptr<Source>(
      new FileDropSource(context, std::move(settings), std::move(selection).value()));
}

}  // namespace

void registerFileDropSource(Registry& registry) {
  // Exports are recognised by content hash: a copy dropped again is not imported twice.
  registry.addSource("file-drop", createFileDropSource, /*deduplicate=*/true);
}

}  // namespace labgate::file
