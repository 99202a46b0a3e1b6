// labgate backup now | backup verify | restore: backups of the engine's store (docs/backup.md).
//   backup now     asks a running labgated for a backup (POST /api/v1/backups) and prints its
//                  manifest
//   backup verify  checks a backup file offline: decrypts it, PRAGMA integrity_check, the audit
//                  chain, the counts of its manifest
//   restore        restores a backup file into an empty data directory and verifies the result
// Key material and API keys are never printed.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace labgate::cli {

/// `args` are the arguments after "backup". Exit status: 0 done; 1 the backup failed, did not
/// verify, or the engine refused; 2 usage error (or an unreadable key file); 3 the engine could
/// not be reached.
int runBackup(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// `args` are the arguments after "restore". Exit status: 0 restored and verified; 1 the backup
/// did not decrypt or verify (wrong key, damaged file): the directory is left empty; 2 usage
/// error, unreadable key file or a data directory that is not empty.
int runRestore(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace labgate::cli
