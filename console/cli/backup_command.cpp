// labgate backup now | backup verify | restore (see backup_command.h).
#include "console/cli/backup_command.h"

#include <Poco/DirectoryIterator.h>
#include <Poco/File.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Path.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include "engine/security/keyring.h"
#include "engine/store/backup.h"

namespace labgate::cli {
namespace {

constexpr int kFailed = 1;
constexpr int kUsage = 2;
constexpr int kUnreachable = 3;

const char* kBackupUsage =
    "usage: labgate backup now --url URL [--api-key-file FILE] [--ca FILE]\n"
    "       labgate backup verify FILE --key-file KEY [--work-dir DIR]\n"
    "\n"
    "backup now     asks the running labgated at URL (e.g. http://127.0.0.1:8480) for a backup\n"
    "               (POST /api/v1/backups): written, verified and kept by the retention policy\n"
    "               in its backup.dir. Prints the backup's manifest. The API key (permission\n"
    "               backups.manage, operator organisation) is read from --api-key-file, else\n"
    "               from the environment variable LABGATE_API_KEY.\n"
    "backup verify  checks a backup file offline, without the engine: decrypts it with the key\n"
    "               file (security.key_file of the engine that made it), checks every body file\n"
    "               and the database's SHA-256, PRAGMA integrity_check, the audit chain, the\n"
    "               counts of the manifest and the signing key it carries (it must open with\n"
    "               the key file; a backup of an older labgated carries none and says so).\n"
    "               The decrypted copy is written under --work-dir\n"
    "               (default: the system's temporary folder) in a private folder, and removed.\n"
    "\n"
    "options:\n"
    "  --url URL            the engine's API (http or https)\n"
    "  --api-key-file FILE  a file holding the API key (one line)\n"
    "  --ca FILE            PEM CA certificate to verify an https engine with (besides the\n"
    "                       system's)\n"
    "  --key-file KEY       the key file the backup was encrypted under\n"
    "  --work-dir DIR       where the decrypted copy is checked\n"
    "  -h, --help           show this help\n"
    "\n"
    "exit status: 0 done; 1 the backup failed, did not verify, or the engine refused (401, 403,\n"
    "409 a backup is running, 503 backups not configured); 2 usage error or unreadable key\n"
    "file; 3 the engine could not be reached.\n";

const char* kRestoreUsage =
    "usage: labgate restore FILE --key-file KEY --data-dir DIR\n"
    "\n"
    "Restores a backup file into DIR, which must be empty or absent: decrypts the database to\n"
    "DIR/labgate.db, the body files to DIR/bodies/ and the server's signing key to\n"
    "DIR/signing-key.sealed, then verifies the copy (SHA-256 of every part, PRAGMA\n"
    "integrity_check, the counts of the manifest, the audit chain, the signing key). Nothing is\n"
    "overwritten; when anything fails, DIR is left empty. Start labgated with data.dir = DIR\n"
    "and the same security.key_file afterwards.\n"
    "\n"
    "options:\n"
    "  --key-file KEY  the key file the backup was encrypted under (security.key_file); it must\n"
    "                  not lie inside DIR\n"
    "  --data-dir DIR  the new data directory\n"
    "  -h, --help      show this help\n"
    "\n"
    "exit status: 0 restored and verified; 1 the backup did not decrypt or verify (wrong key,\n"
    "damaged file); 2 usage error, unreadable key file or DIR not empty.\n";

/// --name VALUE options and positional arguments; false (with `error`) on a malformed list.
struct Parsed {
  std::map<std::string, std::string> options;
  std::vector<std::string> positional;
  bool help = false;
};

bool parse(const std::vector<std::string>& args, const std::vector<std::string>& known,
           Parsed& parsed, std::string& error) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "-h" || a == "--help") {
      parsed.help = true;
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

std::string option(const Parsed& p, const std::string& name) {
  auto it = p.options.find(name);
  return it == p.options.end() ? std::string() : it->second;
}

void printManifest(const backup::Manifest& m, std::ostream& out) {
  out << "  created_at:        " << m.createdAt << "\n"
      << "  labgated_version:  " << m.version << "\n"
      << "  schema_version:    " << m.schemaVersion << "\n"
      << "  messages:          " << m.messages << "\n"
      << "  results:           " << m.results << "\n"
      << "  audit_events:      " << m.audit << "\n"
      << "  body_files:        " << m.bodyFiles << "\n"
      << "  audit_head:        " << m.auditHead << "\n"
      << "  database_sha256:   " << m.databaseSha256 << "\n"
      << "  database_bytes:    " << m.databaseBytes << "\n"
      << "  signing_key:       " << (m.signingKey.empty() ? "none (format 1)" : m.signingKey)
      << "\n"
      << "  manifest_sha256:   " << m.digest() << "\n";
}

/// What a backup's signing key means for the signatures in it (verify and restore).
void printSigningKey(const backup::Manifest& m, bool restored, std::ostream& out) {
  if (!m.signingKey.empty()) {
    out << "signing key: " << m.signingKey << " (Ed25519, sealed under the key file)"
        << (restored ? " restored to signing-key.sealed: the electronic signatures in the backup "
                       "verify online with it\n"
                     : " opens with the key file\n");
    return;
  }
  out << "signing key: NONE: this backup was made by an older labgated and carries no signing "
         "key.\n"
      << "  labgated makes a new key at its first start" << (restored ? " on this directory" : "")
      << ", and the electronic signatures in the\n"
         "  backup then fail online verification. Keep the old server's public key (the PEM of\n"
         "  its GET /api/v1/signing-key) to verify them offline with labgate verify-signature\n"
         "  FILE.json --public-key OLD.pem, or put the old server's signing-key.sealed into the\n"
         "  data directory before labgated starts there.\n";
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::string memberText(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (o.isNull() || !o->has(key) || o->isNull(key)) return "";
  return o->get(key).convert<std::string>();
}

int backupNow(const Parsed& p, std::ostream& out, std::ostream& err) {
  const std::string url = option(p, "--url");
  if (url.empty() || !p.positional.empty()) {
    err << "labgate backup now: --url is required and takes no other argument\n" << kBackupUsage;
    return kUsage;
  }
  std::string key;
  if (const std::string file = option(p, "--api-key-file"); !file.empty()) {
    std::ifstream in(file);
    if (!in) {
      err << "labgate backup now: cannot read --api-key-file " << file << "\n";
      return kUsage;
    }
    std::getline(in, key);
    key = trim(key);
  } else if (const char* env = std::getenv("LABGATE_API_KEY")) {
    key = trim(env);
  }
  if (key.empty()) {
    err << "labgate backup now: no API key: give --api-key-file or set LABGATE_API_KEY\n";
    return kUsage;
  }
  Poco::URI uri;
  try {
    uri = Poco::URI(url);
  } catch (const Poco::Exception&) {
    err << "labgate backup now: --url is not a URL\n";
    return kUsage;
  }
  if ((uri.getScheme() != "http" && uri.getScheme() != "https") || uri.getHost().empty()) {
    err << "labgate backup now: --url must be http://HOST:PORT or https://HOST:PORT\n";
    return kUsage;
  }
  std::string path = uri.getPath();
  while (!path.empty() && path.back() == '/') path.pop_back();
  path += "/api/v1/backups";

  std::string body;
  Poco::Net::HTTPResponse response;
  try {
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (uri.getScheme() == "https") {
      Poco::Net::initializeSSL();
      Poco::Net::Context::Ptr context =
          new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", option(p, "--ca"),
                                 Poco::Net::Context::VERIFY_RELAXED, 9, true);
      session =
          std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), context);
    } else {
      session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    }
    // A backup of a large store takes a while: writing, then verifying it.
    session->setTimeout(Poco::Timespan(3600, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, path,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Authorization", "Bearer " + key);
    request.setContentLength(0);
    session->sendRequest(request);
    std::istream& in = session->receiveResponse(response);
    Poco::StreamCopier::copyToString(in, body);
  } catch (const Poco::Exception& e) {
    err << "labgate backup now: cannot reach " << uri.getHost() << ":" << uri.getPort() << ": "
        << e.displayText() << "\n";
    return kUnreachable;
  }
  Poco::JSON::Object::Ptr json;
  try {
    Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(body);
    if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) {
      json = parsed.extract<Poco::JSON::Object::Ptr>();
    }
  } catch (const Poco::Exception&) {
  }
  if (response.getStatus() != Poco::Net::HTTPResponse::HTTP_CREATED || json.isNull()) {
    err << "labgate backup now: the engine answered " << static_cast<int>(response.getStatus())
        << " " << response.getReason();
    const std::string detail = memberText(json, "detail");
    if (!detail.empty()) err << ": " << detail;
    err << "\n";
    return kFailed;
  }
  Poco::JSON::Object::Ptr m = json->getObject("manifest");
  out << "backup " << memberText(json, "name") << " written and verified ("
      << memberText(json, "size") << " bytes)\n";
  for (const char* k :
       {"created_at", "labgated_version", "schema_version", "messages", "results", "audit_events",
        "audit_head", "database_sha256", "signing_key", "manifest_sha256"}) {
    std::string label = std::string(k) + ":";
    label.resize(19, ' ');
    out << "  " << label << memberText(m, k) << "\n";
  }
  return 0;
}

StatusOr<security::KeyEncryptionKey> keyFrom(const Parsed& p, const std::string& dataDir) {
  const std::string file = option(p, "--key-file");
  if (file.empty()) return Status::config("--key-file", "is required");
  return security::loadKeyFile(file, dataDir, "--key-file");
}

int backupVerify(const Parsed& p, std::ostream& out, std::ostream& err) {
  if (p.positional.size() != 1) {
    err << "labgate backup verify: name one backup file\n" << kBackupUsage;
    return kUsage;
  }
  const std::string& file = p.positional[0];
  StatusOr<security::KeyEncryptionKey> kek = keyFrom(p, "");
  if (!kek.isOk()) {
    err << "labgate backup verify: " << kek.status().toString() << "\n";
    return kUsage;
  }
  std::string workDir = option(p, "--work-dir");
  if (workDir.empty()) workDir = Poco::Path::temp();
  StatusOr<backup::Manifest> verified = backup::verifyBackup(file, kek.value(), workDir);
  if (!verified.isOk()) {
    err << "labgate backup verify: NOT VERIFIED: " << verified.status().toString() << "\n";
    return kFailed;
  }
  out << "backup " << Poco::Path(file).getFileName() << " verified: decrypts with key "
      << kek.value().fingerprint
      << ", SHA-256 of every part, integrity_check ok, audit chain ok, counts match\n";
  printManifest(verified.value(), out);
  printSigningKey(verified.value(), false, out);
  return 0;
}

}  // namespace

int runBackup(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    (args.empty() ? err : out) << kBackupUsage;
    return args.empty() ? kUsage : 0;
  }
  const std::string& sub = args[0];
  Parsed p;
  std::string error;
  const std::vector<std::string> known =
      sub == "now" ? std::vector<std::string>{"--url", "--api-key-file", "--ca"}
                   : std::vector<std::string>{"--key-file", "--work-dir"};
  if (sub != "now" && sub != "verify") {
    err << "labgate backup: unknown sub-command \"" << sub << "\" (now, verify)\n" << kBackupUsage;
    return kUsage;
  }
  if (!parse(std::vector<std::string>(args.begin() + 1, args.end()), known, p, error)) {
    err << "labgate backup " << sub << ": " << error << "\n" << kBackupUsage;
    return kUsage;
  }
  if (p.help) {
    out << kBackupUsage;
    return 0;
  }
  return sub == "now" ? backupNow(p, out, err) : backupVerify(p, out, err);
}

int runRestore(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Parsed p;
  std::string error;
  if (!parse(args, {"--key-file", "--data-dir"}, p, error)) {
    err << "labgate restore: " << error << "\n" << kRestoreUsage;
    return kUsage;
  }
  if (p.help) {
    out << kRestoreUsage;
    return 0;
  }
  const std::string dataDir = option(p, "--data-dir");
  if (p.positional.size() != 1 || dataDir.empty()) {
    err << "labgate restore: name one backup file and --data-dir\n" << kRestoreUsage;
    return kUsage;
  }
  const std::string& file = p.positional[0];
  try {
    Poco::File dir(dataDir);
    if (dir.exists() &&
        (!dir.isDirectory() || Poco::DirectoryIterator(dataDir) != Poco::DirectoryIterator())) {
      err << "labgate restore: " << dataDir
          << " is not an empty directory: a backup is restored into an empty (or new) data "
             "directory only, so that nothing is overwritten or mixed\n";
      return kUsage;
    }
  } catch (const Poco::Exception& e) {
    err << "labgate restore: " << dataDir << ": " << e.displayText() << "\n";
    return kUsage;
  }
  StatusOr<security::KeyEncryptionKey> kek = keyFrom(p, dataDir);
  if (!kek.isOk()) {
    err << "labgate restore: " << kek.status().toString() << "\n";
    return kUsage;
  }
  StatusOr<backup::Manifest> restored = backup::restoreBackup(file, kek.value(), dataDir);
  if (!restored.isOk()) {
    err << "labgate restore: NOT RESTORED (" << dataDir
        << " is left empty): " << restored.status().toString() << "\n";
    return kFailed;
  }
  const backup::Manifest& m = restored.value();
  out << "restored " << Poco::Path(file).getFileName() << " into " << dataDir << "\n";
  printManifest(m, out);
  out << "verified: SHA-256 of the database and of " << m.bodyFiles
      << " body file(s), integrity_check ok, counts match the manifest, audit chain ok (" << m.audit
      << " events, head " << m.auditHead.substr(0, 16) << "…)\n";
  printSigningKey(m, true, out);
  out << "next: start labgated with data.dir = " << dataDir << " and the same security.key_file\n";
  return 0;
}

}  // namespace labgate::cli
