// labgate archive (see archive_command.h).
#include "console/cli/archive_command.h"

#include <Poco/DateTimeFormatter.h>
#include <Poco/File.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Path.h>
#include <Poco/Timestamp.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>

#include "engine/security/keyring.h"
#include "engine/service/config.h"
#include "engine/store/retention.h"
#include "engine/store/store.h"

namespace labgate::cli {
namespace {

constexpr int kFailed = 1;
constexpr int kUsage = 2;

const char* kUsageText =
    "usage: labgate archive --before DATE [--out FILE] [--config FILE] [--no-prune]\n"
    "       labgate archive verify FILE --key-file KEY [--work-dir DIR]\n"
    "       labgate archive list [--config FILE]\n"
    "\n"
    "archive --before DATE\n"
    "    Writes what retention may prune, received before DATE (YYYY-MM-DD, UTC midnight, or\n"
    "    an ISO-8601 UTC time), to an archive file: the received bytes (message bodies) and the\n"
    "    LC-MS/MS peak rows of every message whose outbound items were all delivered and none\n"
    "    of whose results waits for a QA decision, with what identifies them (message id,\n"
    "    batch file name, instrument, sample ids, dates). The file is encrypted and\n"
    "    authenticated like a backup, under security.key_file: written as FILE.partial,\n"
    "    fsynced, renamed, then decrypted again and checked. Only then is it recorded in the\n"
    "    store's ledger (audit retention.archived) and its content pruned (audit\n"
    "    retention.pruned, with the archive's SHA-256). A message that is held or not\n"
    "    delivered is never archived nor pruned. Results, findings, signatures, QC history and\n"
    "    the audit trail are never pruned. If the file cannot be written (disk full, no such\n"
    "    folder), nothing in the store changes.\n"
    "    Run it with labgated stopped (a maintenance window): it opens the store itself and\n"
    "    refuses while labgated answers on the configuration's http.host:http.port.\n"
    "    SQLite does not shrink its file on DELETE: see docs/operations.md (VACUUM).\n"
    "archive verify FILE\n"
    "    Checks an archive offline: the key, every chunk's authentication, the SHA-256 of its\n"
    "    content and of every body, the counts of its summary; says what it holds.\n"
    "archive list\n"
    "    The store's ledger: every archive recorded, its digest, counts and what is not pruned\n"
    "    yet.\n"
    "\n"
    "options:\n"
    "  --before DATE    archive what was received before DATE (UTC)\n"
    "  --out FILE       the archive file to write (must not exist); default\n"
    "                   <data.dir>/archives/labgate-archive-before-DATE-<now>.lga (move it off\n"
    "                   the machine: that is where it frees space)\n"
    "  --config FILE    the engine configuration (default config/labgate.properties): data.dir\n"
    "                   and security.key_file are read from it\n"
    "  --no-prune       write and record the archive, prune nothing (the engine's retention pass\n"
    "                   prunes what an archive covers once retention.body_days/peak_days say so)\n"
    "  --key-file KEY   verify: the key file the archive was encrypted under\n"
    "  --work-dir DIR   where the clear content is built or checked, in a private folder removed\n"
    "                   afterwards (default <data.dir>/archive-work; verify: the system's "
    "temporary\n"
    "                   folder)\n"
    "  -h, --help       show this help\n"
    "\n"
    "exit status: 0 done (also when nothing was due); 1 the archive could not be written,\n"
    "recorded or verified, or labgated is running; 2 usage error, or a configuration or key file\n"
    "that cannot be read.\n";

struct Parsed {
  std::map<std::string, std::string> options;
  std::vector<std::string> positional;
  bool help = false;
  bool noPrune = false;
};

bool parse(const std::vector<std::string>& args, const std::vector<std::string>& known,
           Parsed& parsed, std::string& error) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "-h" || a == "--help") {
      parsed.help = true;
      continue;
    }
    if (a == "--no-prune" && std::find(known.begin(), known.end(), "--no-prune") != known.end()) {
      parsed.noPrune = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      parsed.positional.push_back(a);
      continue;
    }
    std::optional<std::string> value;
    if (size_t eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    if (std::find(known.begin(), known.end(), a) == known.end()) {
      error = "unknown option " + a;
      return false;
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        error = a + " needs a value";
        return false;
      }
      value = args[++i];
    }
    parsed.options[a] = *value;
  }
  return true;
}

std::string option(const Parsed& p, const std::string& name, const std::string& fallback = "") {
  auto it = p.options.find(name);
  return it == p.options.end() ? fallback : it->second;
}

/// "1.2 MB" for people.
std::string humanBytes(int64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return buffer;
}

/// True when something accepts connections at the engine's HTTP address.
bool engineAnswers(const EngineConfig& config) {
  try {
    Poco::Net::StreamSocket socket;
    socket.connect(Poco::Net::SocketAddress(config.httpHost, config.httpPort),
                   Poco::Timespan(1, 0));
    return true;
  } catch (const Poco::Exception&) {
    return false;
  }
}

void printSummary(const retention::Summary& s, std::ostream& out) {
  out << "  messages:        " << s.messages << " (ids " << s.firstMessage << " to "
      << s.lastMessage << ")\n"
      << "  received:        " << s.firstReceived << " to " << s.lastReceived << " (before "
      << s.before << ")\n"
      << "  samples listed:  " << s.samples << "\n"
      << "  message bodies:  " << s.bodies << " (" << humanBytes(s.bodyBytes) << ")\n"
      << "  peak rows:       " << s.peaks << "\n"
      << "  written:         " << s.createdAt << " by labgated " << s.version << "\n";
}

/// What the records policy says (retention.records_years): reported, never acted on.
void printRecordsPolicy(const EngineConfig& c, std::ostream& out) {
  out << "results, findings, signatures, QC history and the audit trail are kept: the engine "
         "never prunes them";
  if (c.retention.recordsYears > 0) {
    out << " (records policy: " << c.retention.recordsYears << " years, retention.records_years)";
  }
  out << "\n";
}

int archiveVerify(const Parsed& p, std::ostream& out, std::ostream& err) {
  if (p.positional.size() != 1) {
    err << "labgate archive verify: name one archive file\n" << kUsageText;
    return kUsage;
  }
  const std::string file = p.positional[0];
  const std::string keyFile = option(p, "--key-file");
  if (keyFile.empty()) {
    err << "labgate archive verify: --key-file is required (the security.key_file the archive "
           "was written under)\n";
    return kUsage;
  }
  StatusOr<security::KeyEncryptionKey> kek = security::loadKeyFile(keyFile, "", "--key-file");
  if (!kek.isOk()) {
    err << "labgate archive verify: " << kek.status().toString() << "\n";
    return kUsage;
  }
  StatusOr<retention::Verified> v =
      retention::verifyArchive(file, kek.value(), option(p, "--work-dir", Poco::Path::temp()));
  if (!v.isOk()) {
    err << "labgate archive verify: NOT VERIFIED: " << v.status().toString() << "\n";
    return kFailed;
  }
  const retention::Verified& r = v.value();
  const retention::Summary& s = r.summary;
  out << "archive " << Poco::Path(file).getFileName() << " verified: decrypts with key "
      << r.kekFingerprint
      << ", every chunk authenticates, the content's SHA-256 and every body's match, the counts "
         "match its summary\n";
  out << "It holds the received bytes of " << s.bodies << " message(s) (" << humanBytes(s.bodyBytes)
      << ") and " << s.peaks << " peak row(s) of " << s.messages << " message(s) received from "
      << s.firstReceived << " to " << s.lastReceived << " (archived as received before " << s.before
      << "), message ids " << s.firstMessage << " to " << s.lastMessage << ", " << s.samples
      << " sample id(s); instruments:";
  for (const auto& i : r.instruments) out << " " << i;
  out << "; organisations:";
  for (const auto& o : r.orgs) out << " " << o;
  out << ".\n";
  printSummary(s, out);
  out << "  file_sha256:     " << r.fileSha256 << " (" << humanBytes(r.fileBytes) << ")\n"
      << "Compare file_sha256 with the store's ledger (labgate archive list) or the\n"
      << "retention.pruned audit events to tie this file to what was pruned.\n";
  return 0;
}

StatusOr<EngineConfig> configOf(const Parsed& p) {
  return loadEngineConfig(option(p, "--config", "config/labgate.properties"));
}

int archiveList(const Parsed& p, std::ostream& out, std::ostream& err) {
  StatusOr<EngineConfig> config = configOf(p);
  if (!config.isOk()) {
    err << "labgate archive list: " << config.status().toString() << "\n";
    return kUsage;
  }
  if (engineAnswers(config.value())) {
    err << "labgate archive list: labgated answers on " << config.value().httpHost << ":"
        << config.value().httpPort << ": stop it first (the store is opened here)\n";
    return kFailed;
  }
  const EngineConfig& c = config.value();
  StatusOr<std::shared_ptr<Store>> store =
      Store::open(StoreLocation{c.dataDir, c.storeUrl, c.storePasswordFile});
  if (!store.isOk()) {
    err << "labgate archive list: " << store.status().toString() << "\n";
    return kFailed;
  }
  retention::RetentionStore retention(*store.value());
  const auto ledger = retention.ledger();
  printRecordsPolicy(config.value(), out);
  if (ledger.empty()) out << "no archive recorded\n";
  for (const auto& e : ledger) {
    out << "archive " << e.id << ": " << e.fileName << ", written " << e.createdAt << " by "
        << e.createdBy << ", received before " << e.before << "\n"
        << "  " << e.messages << " message(s), " << e.bodies << " body/bodies ("
        << humanBytes(e.bodyBytes) << "), " << e.peaks << " peak row(s); "
        << (e.pending == 0 ? std::string("all pruned")
                           : std::to_string(e.pending) + " message(s) not pruned yet")
        << "\n  file_sha256 " << e.fileSha256 << " (" << humanBytes(e.fileBytes) << ")\n";
  }
  return 0;
}

int archiveWrite(const Parsed& p, std::ostream& out, std::ostream& err) {
  if (!p.positional.empty()) {
    err << "labgate archive: unexpected argument \"" << p.positional[0] << "\"\n" << kUsageText;
    return kUsage;
  }
  const std::string beforeText = option(p, "--before");
  if (beforeText.empty()) {
    err << "labgate archive: --before DATE is required\n" << kUsageText;
    return kUsage;
  }
  std::optional<std::string> before = retention::normaliseBound(beforeText);
  if (!before) {
    err << "labgate archive: --before \"" << beforeText
        << "\" is not a date (YYYY-MM-DD or an ISO-8601 UTC time)\n";
    return kUsage;
  }
  StatusOr<EngineConfig> config = configOf(p);
  if (!config.isOk()) {
    err << "labgate archive: " << config.status().toString() << "\n";
    return kUsage;
  }
  const EngineConfig& c = config.value();
  if (c.keyFile.empty()) {
    err << "labgate archive: the configuration has no security.key_file: archives are always "
           "encrypted (and without it no message body is stored; set one with labgate keygen)\n";
    return kUsage;
  }
  StatusOr<security::KeyEncryptionKey> kek = security::loadKeyFile(c.keyFile, c.dataDir);
  if (!kek.isOk()) {
    err << "labgate archive: " << kek.status().toString() << "\n";
    return kUsage;
  }
  if (engineAnswers(c)) {
    err << "labgate archive: labgated answers on " << c.httpHost << ":" << c.httpPort
        << ": stop it first. Archiving opens the store and prunes in it; do it in a maintenance "
           "window (intake resumes when labgated starts again). Nothing was changed.\n";
    return kFailed;
  }
  const std::string stamp = Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y%m%dT%H%M%SZ");
  std::string outFile = option(p, "--out");
  if (outFile.empty()) {
    const std::string dir = Poco::Path(c.dataDir).append("archives").toString();
    try {
      Poco::File(dir).createDirectories();
    } catch (const Poco::Exception& e) {
      err << "labgate archive: cannot create " << dir << ": " << e.displayText() << "\n";
      return kFailed;
    }
    std::string day = before->substr(0, 10);
    day.erase(std::remove(day.begin(), day.end(), '-'), day.end());
    outFile =
        Poco::Path(dir)
            .append("labgate-archive-before-" + day + "-" + stamp + retention::kArchiveExtension)
            .toString();
  }
  // The store's keyring as the engine opens it (with security.previous_key_file during a KEK
  // rotation); the archive is sealed under the current key file.
  StatusOr<std::shared_ptr<security::Keyring>> keyring =
      security::openKeyring(c.keyFile, c.previousKeyFile, c.dataDir);
  if (!keyring.isOk()) {
    err << "labgate archive: " << keyring.status().toString() << "\n";
    return kUsage;
  }
  StatusOr<std::shared_ptr<Store>> store =
      Store::open(StoreLocation{c.dataDir, c.storeUrl, c.storePasswordFile}, keyring.value());
  if (!store.isOk()) {
    err << "labgate archive: " << store.status().toString() << "\n";
    return kFailed;
  }
  retention::RetentionStore retention(*store.value());
  const std::string workDir =
      option(p, "--work-dir", Poco::Path(c.dataDir).append("archive-work").toString());
  out << "labgate archive: content received before " << *before << " in " << c.dataDir << "\n";
  StatusOr<retention::Written> written =
      retention.writeArchive(*before, kek.value(), outFile, workDir, "cli:archive",
                             [&](const std::string& line) { out << "  " << line << "\n"; });
  if (!written.isOk()) {
    err << "labgate archive: NOT ARCHIVED: " << written.status().toString() << "\n";
    return kFailed;
  }
  const retention::Written& w = written.value();
  if (w.ledgerId == 0) {
    out << "nothing to archive: no delivered message received before " << *before
        << " holds a body or peak data (held or undelivered messages are never archived)\n";
    return 0;
  }
  out << "archive " << w.path << " written, fsynced and verified (" << humanBytes(w.bytes) << ")\n";
  printSummary(w.summary, out);
  out << "  file_sha256:     " << w.sha256 << "\n"
      << "recorded in the store's ledger as archive " << w.ledgerId << "\n";
  if (p.noPrune) {
    out << "not pruned (--no-prune): the engine's retention pass prunes what this archive "
           "covers once retention.body_days / retention.peak_days say so\n";
    return 0;
  }
  StatusOr<retention::Pruned> pruned = retention.pruneArchive(w.ledgerId, "cli:archive");
  if (!pruned.isOk()) {
    err << "labgate archive: the archive is written and recorded, but pruning failed: "
        << pruned.status().toString()
        << " (run labgate archive again later, or let the engine's retention pass prune it)\n";
    return kFailed;
  }
  const retention::Pruned& r = pruned.value();
  out << "pruned " << r.messages << " message(s): " << r.bodies << " body/bodies ("
      << humanBytes(r.bodyBytes) << "), " << r.peaks << " peak row(s); audited retention.pruned\n";
  if (r.skipped > 0) {
    out << "kept " << r.skipped
        << " message(s) the archive holds that became held or undelivered meanwhile\n";
  }
  out << "the database file does not shrink by itself: run VACUUM in a maintenance window "
         "(docs/operations.md, \"Retention and archives\")\n";
  printRecordsPolicy(c, out);
  return 0;
}

}  // namespace

int runArchive(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << kUsageText;
    return kUsage;
  }
  std::string sub;
  std::vector<std::string> rest = args;
  if (args[0] == "verify" || args[0] == "list") {
    sub = args[0];
    rest.erase(rest.begin());
  }
  const std::vector<std::string> known =
      sub == "verify" ? std::vector<std::string>{"--key-file", "--work-dir"}
      : sub == "list"
          ? std::vector<std::string>{"--config"}
          : std::vector<std::string>{"--before", "--out", "--config", "--work-dir", "--no-prune"};
  Parsed p;
  std::string error;
  if (!parse(rest, known, p, error)) {
    err << "labgate archive" << (sub.empty() ? "" : " " + sub) << ": " << error << "\n"
        << kUsageText;
    return kUsage;
  }
  if (p.help) {
    out << kUsageText;
    return 0;
  }
  if (sub == "verify") return archiveVerify(p, out, err);
  if (sub == "list") return archiveList(p, out, err);
  return archiveWrite(p, out, err);
}

}  // namespace labgate::cli
