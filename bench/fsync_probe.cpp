// bench/fsync_probe: how many durable small appends per second the disk under a directory takes
// (issue 16, bench/run-e2e). SQLite in WAL mode with synchronous=FULL appends a transaction's
// pages to the -wal file and syncs it once per commit, so this bounds the commits per second of
// one writer; group commit shares each sync between several messages.
//
//   fsync_probe --dir DIR [--seconds 2] [--bytes 512]
//
// Appends `--bytes` to a scratch file in DIR, then fsync(), for `--seconds`; the same with
// fdatasync(); prints one JSON line (syncs/s and latency percentiles of each) and removes the file.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Rate {
  double perSecond = 0;
  double p50Ms = 0, p99Ms = 0;
};

double millisAt(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto index = static_cast<size_t>(std::lround(p * static_cast<double>(sorted.size() - 1)));
  return sorted[std::min(index, sorted.size() - 1)];
}

/// Appends and syncs for `seconds`; false (errno set) when a write or sync fails.
bool measure(int fd, size_t bytes, double seconds, bool dataOnly, Rate& rate) {
  using Clock = std::chrono::steady_clock;
  std::string block(bytes, 'x');
  std::vector<double> latencies;
  const Clock::time_point start = Clock::now();
  Clock::time_point now = start;
  while (std::chrono::duration<double>(now - start).count() < seconds) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) return false;
    if ((dataOnly ? ::fdatasync(fd) : ::fsync(fd)) != 0) return false;
    Clock::time_point after = Clock::now();
    latencies.push_back(std::chrono::duration<double, std::milli>(after - now).count());
    now = after;
  }
  std::sort(latencies.begin(), latencies.end());
  rate.perSecond =
      static_cast<double>(latencies.size()) / std::chrono::duration<double>(now - start).count();
  rate.p50Ms = millisAt(latencies, 0.50);
  rate.p99Ms = millisAt(latencies, 0.99);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  double seconds = 2;
  long bytes = 512;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--dir") {
      dir = argv[i + 1];
    } else if (key == "--seconds") {
      seconds = std::atof(argv[i + 1]);
    } else if (key == "--bytes") {
      bytes = std::atol(argv[i + 1]);
    } else {
      dir.clear();
      break;
    }
  }
  if (dir.empty() || seconds <= 0 || bytes < 1 || bytes > (1 << 20)) {
    std::fprintf(stderr, "usage: fsync_probe --dir DIR [--seconds 2] [--bytes 512]\n");
    return 2;
  }
  const std::string path = dir + "/fsync_probe." + std::to_string(::getpid());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
  if (fd < 0) {
    std::fprintf(stderr, "fsync_probe: cannot create %s: %s\n", path.c_str(), std::strerror(errno));
    return 1;
  }
  Rate full, data;
  const bool ok = measure(fd, static_cast<size_t>(bytes), seconds / 2, false, full) &&
                  measure(fd, static_cast<size_t>(bytes), seconds / 2, true, data);
  const int saved = errno;
  ::close(fd);
  ::unlink(path.c_str());
  if (!ok) {
    std::fprintf(stderr, "fsync_probe: write or sync failed: %s\n", std::strerror(saved));
    return 1;
  }
  std::printf(
      "{\"dir\":\"%s\",\"bytes\":%ld,\"fsync_per_s\":%.0f,\"fsync_p50_ms\":%.3f,"
      "\"fsync_p99_ms\":%.3f,\"fdatasync_per_s\":%.0f,\"fdatasync_p50_ms\":%.3f,"
      "\"fdatasync_p99_ms\":%.3f}\n",
      dir.c_str(), bytes, full.perSecond, full.p50Ms, full.p99Ms, data.perSecond, data.p50Ms,
      data.p99Ms);
  return 0;
}
