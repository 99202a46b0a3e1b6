// labgate keygen (see keygen_command.h). The key never reaches the terminal: only the file's
// path and the key's fingerprint (what audit events and start-up errors name) are printed.
#include "console/cli/keygen_command.h"

#include "engine/security/keyring.h"

namespace labgate::cli {
namespace {

void usage(std::ostream& out) {
  out << "usage: labgate keygen FILE\n"
         "\n"
         "Writes a new key-encryption key for security.key_file into FILE (mode 0600). FILE must\n"
         "not exist and should lie outside data.dir; keep a copy somewhere safe: without it the\n"
         "encrypted content and the backups cannot be read.\n"
         "\n"
         "exit status: 0 written; 1 FILE could not be written (it exists, or no such directory);\n"
         "2 usage error.\n";
}

}  // namespace

int runKeygen(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help")) {
    usage(out);
    return 0;
  }
  if (args.size() != 1 || args[0].empty() || args[0][0] == '-') {
    usage(err);
    return 2;  // a usage error, as every labgate command
  }
  const std::string& path = args[0];
  Status written = security::writeNewKeyFile(path);
  if (!written.isOk()) {
    err << "labgate keygen: " << written.toString() << "\n";
    return 1;
  }
  StatusOr<security::KeyEncryptionKey> kek = security::loadKeyFile(path, "", "FILE");
  if (!kek.isOk()) {
    err << "labgate keygen: " << kek.status().toString() << "\n";
    return 1;
  }
  out << "wrote " << path << " (mode 0600, key fingerprint " << kek->fingerprint << ")\n";
  return 0;
}

}  // namespace labgate::cli
