// export_import: a MassHunter export of N MB through the real labgated's watched folder, measured
// from outside (issue 16): wall time from the file's arrival in the inbox to its move into
// processed/, MB/s and results/s, and the engine's peak RSS (VmHWM of /proc/PID/status) and CPU.
//
//   bench/export_import --size-mb 100 --labgated build-rel/bin/labgated
//       [--window N]      export.window_results (default: the engine's, 20000; 0 = whole file)
//       [--no-rules]      no rule set on the connector (mapping only)
//       [--dir DIR]       work folder (default /var/tmp/labgate-export-import-PID), removed after
//       [--keep]          keep the work folder (data.dir, log, the generated file)
//       [--timeout S]     give up after S seconds (default 1800)
//
// The file: bench/export_gen.h's MassHunter wide-form CSV (20 compounds, every fifth an internal
// standard; a blank, 8 calibrators, 3 QCs, then patient injections with a QC every 20), seeded.
// The engine: a temporary configuration (SQLite, synchronous=FULL as always, on the work folder's
// disk), one file-drop connector with the repository's example mapping and rule set, one
// destination nobody listens on (delivery retries in the background). The stored batch is checked
// (its result count) with sqlite3 before the numbers are printed. Exit 0 only when the batch was
// stored whole.
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/export_gen.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  double sizeMb = 100;
  std::string labgated = "build-rel/bin/labgated";
  long window = -1;  // -1: the engine's default
  bool rules = true;
  std::string dir;
  bool keep = false;
  double timeoutSeconds = 1800;
};

/// kB value of `field` ("VmHWM", "VmRSS") in /proc/PID/status; -1 when not there.
long statusKb(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const size_t n = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':') {
      return std::atol(line.c_str() + n + 1);
    }
  }
  return -1;
}

/// utime + stime of the process in seconds.
double cpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string skip;
  for (int i = 0; i < 11; ++i) fields >> skip;  // state .. cmajflt (fields 3-13)
  unsigned long long utime = 0, stime = 0;
  fields >> utime >> stime;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

bool accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

/// Writes the export to `path`: returns the number of results (injections x compounds).
long long generate(const std::string& path, double sizeMb) {
  labgate::benchgen::MassHunterWide gen(20, 20261207);
  std::ofstream out(path, std::ios::binary);
  std::string chunk = gen.header();
  const auto target = static_cast<long long>(sizeMb * 1024 * 1024);
  long long written = 0, injections = 0;
  while (written + static_cast<long long>(chunk.size()) < target) {
    gen.appendInjection(chunk, static_cast<int>(injections++));
    if (chunk.size() > (1 << 20)) {
      out << chunk;
      written += static_cast<long long>(chunk.size());
      chunk.clear();
    }
  }
  out << chunk << gen.footer();
  return injections * static_cast<long long>(gen.resultsPerInjection());
}

long long storedResults(const std::string& db, std::string& format) {
  sqlite3* handle = nullptr;
  long long results = -1;
  if (sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    const char* sql =
        "SELECT (SELECT COUNT(*) FROM results WHERE message_id = m.id), m.format FROM messages m "
        "ORDER BY m.id DESC LIMIT 1";
    if (sqlite3_prepare_v2(handle, sql, -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      results = sqlite3_column_int64(stmt, 0);
      const unsigned char* f = sqlite3_column_text(stmt, 1);
      format = f ? reinterpret_cast<const char*>(f) : "";
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(handle);
  return results;
}

int usage() {
  std::cerr << "usage: export_import [--size-mb N] [--labgated PATH] [--window N] [--no-rules] "
               "[--dir DIR] [--keep] [--timeout S]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--size-mb") {
      o.sizeMb = std::atof(value().c_str());
    } else if (a == "--labgated") {
      o.labgated = value();
    } else if (a == "--window") {
      o.window = std::atol(value().c_str());
    } else if (a == "--no-rules") {
      o.rules = false;
    } else if (a == "--dir") {
      o.dir = value();
    } else if (a == "--keep") {
      o.keep = true;
    } else if (a == "--timeout") {
      o.timeoutSeconds = std::atof(value().c_str());
    } else {
      return usage();
    }
  }
  if (o.sizeMb <= 0) return usage();
  const std::string source = LABGATE_SOURCE_DIR;
  const std::string labgated = fs::absolute(o.labgated).string();
  if (!fs::exists(labgated)) {
    std::cerr << "export_import: no labgated at " << labgated << "\n";
    return 2;
  }
  if (o.dir.empty()) o.dir = "/var/tmp/labgate-export-import-" + std::to_string(::getpid());
  const std::string dir = fs::absolute(o.dir).string();
  fs::remove_all(dir);
  fs::create_directories(dir + "/inbox");
  fs::create_directories(dir + "/var");

  const std::string name = "batch_" + std::to_string(static_cast<int>(o.sizeMb)) + "mb.csv";
  const std::string generated = dir + "/" + name;
  std::cout << "export_import: generating a " << o.sizeMb << " MB MassHunter export...\n";
  const long long results = generate(generated, o.sizeMb);
  const double mb = static_cast<double>(fs::file_size(generated)) / (1024.0 * 1024.0);

  const int http = freePort(), lis = freePort();
  {
    std::ofstream conf(dir + "/labgate.properties");
    conf << "data.dir = " << dir << "/var\n"
         << "http.listen = 127.0.0.1:" << http << "\n"
         << "phi.patterns = " << source << "/config/phi-patterns.json\n"
         << "security.password.blocklist = " << source << "/config/common-passwords.txt\n"
         << "log.level = information\nlog.file = " << dir << "/labgated.log\n"
         << "connectors = drop1\n"
         << "connector.drop1.kind = file-drop\n"
         << "connector.drop1.inbox = " << dir << "/inbox\n"
         << "connector.drop1.format = masshunter\n"
         << "connector.drop1.instrument = qqq-01\n"
         << "connector.drop1.poll_ms = 100\nconnector.drop1.settle_ms = 200\n"
         << "connector.drop1.mappings = " << source << "/config/mappings/example-lcmsms.csv\n"
         << "connector.drop1.destinations = lis\n"
         << "connector.drop1.phi.policy = refuse\n";
    if (o.rules) {
      conf << "connector.drop1.rules = " << source << "/config/rules/example-site.json\n";
    }
    if (o.window >= 0) conf << "export.window_results = " << o.window << "\n";
    conf << "destinations = lis\ndestination.lis.kind = hl7-mllp\n"
         << "destination.lis.host = 127.0.0.1\ndestination.lis.port = " << lis << "\n"
         << "destination.lis.retry_initial_ms = 60000\ndestination.lis.retry_max_ms = 60000\n";
  }

  std::cout.flush();  // not twice: the child would write what is still buffered
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("LABGATE_ADMIN_PASSWORD", "export-import-bench-Pw-2026", 1);
    const std::string config = dir + "/labgate.properties";
    const std::string out = dir + "/labgated.out";
    std::FILE* sink = std::freopen(out.c_str(), "w", stdout);
    if (sink) std::freopen(out.c_str(), "a", stderr);
    ::execl(labgated.c_str(), labgated.c_str(), "--config", config.c_str(),
            static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  auto stop = [&](int code) {
    ::kill(pid, SIGTERM);
    int st = 0;
    ::waitpid(pid, &st, 0);
    if (!o.keep && code == 0) fs::remove_all(dir);
    if (code != 0) std::cerr << "export_import: work folder kept: " << dir << "\n";
    return code;
  };
  const auto started = Clock::now();
  while (!accepts(http)) {
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) {
      std::cerr << "export_import: labgated exited at start (see " << dir << "/labgated.out)\n";
      return 1;
    }
    if (Clock::now() - started > std::chrono::seconds(60)) {
      std::cerr << "export_import: labgated did not start\n";
      return stop(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the connector's first scan
  const long idleKb = statusKb(pid, "VmHWM");
  const double cpuBefore = cpuSeconds(pid);

  // Into the inbox by a rename, as a careful exporter does (same file system).
  const auto t0 = Clock::now();
  fs::rename(generated, dir + "/inbox/" + name);
  const std::string processed = dir + "/inbox/processed/" + name;
  const std::string rejected = dir + "/inbox/rejected/" + name;
  long peakRssKb = 0;
  for (;;) {
    peakRssKb = std::max(peakRssKb, statusKb(pid, "VmRSS"));
    if (fs::exists(processed) || fs::exists(rejected)) break;
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) {
      std::cerr << "export_import: labgated exited during the import (status " << st << ")\n";
      return 1;
    }
    if (std::chrono::duration<double>(Clock::now() - t0).count() > o.timeoutSeconds) {
      std::cerr << "export_import: timed out after " << o.timeoutSeconds << " s\n";
      return stop(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const long hwmKb = statusKb(pid, "VmHWM");
  const double cpu = cpuSeconds(pid) - cpuBefore;
  if (fs::exists(rejected)) {
    std::ifstream reason(rejected + ".reason");
    std::cerr << "export_import: the file was rejected: " << reason.rdbuf() << "\n";
    return stop(1);
  }
  std::string format;
  const long long stored = storedResults(dir + "/var/labgate.db", format);
  std::printf(
      "export_import: %.1f MB MassHunter export, %lld results (%s, window %s): %.1f s, "
      "%.2f MB/s, %.0f results/s; engine peak RSS %.0f MiB (VmHWM; %.0f MiB idle), CPU %.1f s "
      "(%.0f %%); stored %lld results\n",
      mb, results, o.rules ? "rules" : "no rules",
      o.window < 0 ? "default" : std::to_string(o.window).c_str(), seconds, mb / seconds,
      static_cast<double>(results) / seconds, static_cast<double>(hwmKb) / 1024.0,
      static_cast<double>(idleKb) / 1024.0, cpu, 100.0 * cpu / seconds, stored);
  std::printf(
      "export_import_result size_mb=%.1f results=%lld seconds=%.2f mb_per_s=%.2f "
      "peak_rss_mib=%.0f cpu_s=%.1f stored=%lld\n",
      mb, results, seconds, mb / seconds, static_cast<double>(hwmKb) / 1024.0, cpu, stored);
  (void)peakRssKb;
  return stop(stored == results ? 0 : 1);
}
