// labgate audit verify (see audit_command.h).
#include "console/cli/audit_command.h"

#include <Poco/File.h>
#include <Poco/Path.h>
#include <stdlib.h>

#include <map>
#include <set>

#include "engine/security/keyring.h"
#include "engine/store/audit_log.h"
#include "engine/store/backup.h"

namespace labgate::cli {
namespace {

constexpr int kBroken = 1;
constexpr int kUsage = 2;

const char* kAuditUsage =
    "usage: labgate audit verify --data-dir DIR [--json]\n"
    "       labgate audit verify --database FILE [--json]\n"
    "       labgate audit verify --backup FILE --key-file KEY [--work-dir DIR] [--json]\n"
    "\n"
    "Walks the hash chain of the audit trail from its first event to its last: each event's hash\n"
    "must be the SHA-256 of the previous event's hash and the event's own fields, and each\n"
    "event's prev_hash the hash of the event before it. Names the first event that breaks the\n"
    "chain (its sequence number, time, action and what differs). Reads only: run it on a stopped\n"
    "engine's data directory, a copy of labgate.db, or a backup file (decrypted under --work-dir,\n"
    "default the system's temporary folder, in a private folder that is removed afterwards).\n"
    "\n"
    "options:\n"
    "  --data-dir DIR   the engine's data.dir (reads DIR/labgate.db)\n"
    "  --database FILE  a labgate.db file\n"
    "  --backup FILE    a backup file (.lgb), with --key-file\n"
    "  --key-file KEY   the key file the backup was encrypted under (security.key_file)\n"
    "  --work-dir DIR   where a backup is decrypted\n"
    "  --json           print the result as one JSON object\n"
    "  -h, --help       show this help\n"
    "\n"
    "exit status: 0 the chain is intact; 1 it is broken, or the database or backup could not be\n"
    "read (wrong key, damaged file); 2 usage error.\n";

struct Options {
  std::map<std::string, std::string> values;
  bool json = false;
  bool help = false;
};

bool parse(const std::vector<std::string>& args, Options& o, std::string& error) {
  const std::set<std::string> known = {"--data-dir", "--database", "--backup", "--key-file",
                                       "--work-dir"};
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      o.help = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (known.count(a)) {
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        error = a + " needs a value";
        return false;
      }
      if (!o.values.emplace(a, args[i + 1]).second) {
        error = a + " is given twice";
        return false;
      }
      ++i;
    } else {
      error = "unknown argument \"" + a + "\"";
      return false;
    }
  }
  return true;
}

std::string value(const Options& o, const std::string& key) {
  auto it = o.values.find(key);
  return it == o.values.end() ? std::string() : it->second;
}

/// A private folder under `workDir` holding a decrypted backup; removed on destruction.
class PrivateDir {
 public:
  explicit PrivateDir(const std::string& workDir) {
    std::string pattern = Poco::Path(workDir).makeDirectory().toString() + "labgate-audit-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~PrivateDir() {
    if (path_.empty()) return;
    try {
      Poco::File(path_).remove(true);
    } catch (const Poco::Exception&) {
      // Best effort: the folder is private (0700).
    }
  }
  PrivateDir(const PrivateDir&) = delete;
  PrivateDir& operator=(const PrivateDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

int report(const StatusOr<AuditChainReport>& result, const std::string& source, bool json,
           std::ostream& out, std::ostream& err) {
  if (!result.isOk()) {
    if (json) {
      out << "{\"valid\":false,\"error\":\""
          << (result.status().code() == Status::Code::kNotFound ? "not_found" : "unreadable")
          << "\"}\n";
    }
    err << "labgate audit verify: " << result.status().toString() << "\n";
    return kBroken;
  }
  const AuditChainReport& r = result.value();
  if (json) {
    out << auditReportJson(r) << "\n";
  } else if (r.valid) {
    out << "audit chain of " << source << " intact: " << r.events << " events, last " << r.lastId
        << ", head " << r.head << "\n";
  } else {
    out << "audit chain of " << source << " BROKEN at event " << r.brokenId << " (" << r.problem
        << "): " << r.reason << "\n"
        << "  expected " << r.expected << "\n"
        << "  stored   " << r.stored << "\n"
        << "  " << r.events - 1 << " events before it verify\n";
  }
  return r.valid ? 0 : kBroken;
}

}  // namespace

int runAudit(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    (args.empty() ? err : out) << kAuditUsage;
    return args.empty() ? kUsage : 0;
  }
  if (args[0] != "verify") {
    err << "labgate audit: unknown sub-command \"" << args[0] << "\" (verify)\n" << kAuditUsage;
    return kUsage;
  }
  Options o;
  std::string error;
  if (!parse(std::vector<std::string>(args.begin() + 1, args.end()), o, error)) {
    err << "labgate audit verify: " << error << "\n" << kAuditUsage;
    return kUsage;
  }
  if (o.help) {
    out << kAuditUsage;
    return 0;
  }
  const std::string dataDir = value(o, "--data-dir");
  const std::string database = value(o, "--database");
  const std::string backupFile = value(o, "--backup");
  const int sources =
      (dataDir.empty() ? 0 : 1) + (database.empty() ? 0 : 1) + (backupFile.empty() ? 0 : 1);
  if (sources != 1) {
    err << "labgate audit verify: name exactly one of --data-dir, --database, --backup\n"
        << kAuditUsage;
    return kUsage;
  }
  if (backupFile.empty() && (!value(o, "--key-file").empty() || !value(o, "--work-dir").empty())) {
    err << "labgate audit verify: --key-file and --work-dir go with --backup\n" << kAuditUsage;
    return kUsage;
  }
  if (!dataDir.empty()) {
    return report(verifyAuditDatabase(dataDir + "/labgate.db"), dataDir, o.json, out, err);
  }
  if (!database.empty()) return report(verifyAuditDatabase(database), database, o.json, out, err);

  const std::string keyFile = value(o, "--key-file");
  if (keyFile.empty()) {
    err << "labgate audit verify: --backup needs --key-file\n" << kAuditUsage;
    return kUsage;
  }
  StatusOr<security::KeyEncryptionKey> kek = security::loadKeyFile(keyFile, "", "--key-file");
  if (!kek.isOk()) {
    err << "labgate audit verify: " << kek.status().toString() << "\n";
    return kUsage;
  }
  std::string workDir = value(o, "--work-dir");
  if (workDir.empty()) workDir = Poco::Path::temp();
  PrivateDir dir(workDir);
  if (dir.path().empty()) {
    err << "labgate audit verify: cannot make a private folder under " << workDir << "\n";
    return kBroken;
  }
  const std::string plain = dir.path() + "/labgate.db";
  StatusOr<backup::Manifest> decrypted =
      backup::decryptBackup(backupFile, kek.value(), plain, dir.path());
  if (!decrypted.isOk()) {
    return report(StatusOr<AuditChainReport>(decrypted.status()), backupFile, o.json, out, err);
  }
  return report(verifyAuditDatabase(plain), Poco::Path(backupFile).getFileName(), o.json, out, err);
}

}  // namespace labgate::cli
