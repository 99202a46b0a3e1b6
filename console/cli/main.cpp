// labgate: the command-line console. Each sub-command lives in its own file
// (console/cli/*_command.cpp) as a function of its arguments and two streams, so that tests run
// it in-process.
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "console/cli/archive_command.h"
#include "console/cli/audit_command.h"
#include "console/cli/backup_command.h"
#include "console/cli/calibrate_command.h"
#include "console/cli/dry_run_command.h"
#include "console/cli/keygen_command.h"
#include "console/cli/mappings_command.h"
#include "console/cli/messages_command.h"
#include "console/cli/qa_command.h"
#include "console/cli/qc_command.h"
#include "console/cli/qc_targets_command.h"
#include "console/cli/trend_command.h"
#include "console/cli/verify_signature_command.h"
#include "labgate/version.h"
#include "server/plugins.h"

namespace {

void printHelp(std::ostream& out) {
  out << "usage: labgate <command> [options]\n"
         "\n"
         "The LabGate command-line console.\n"
         "\n"
         "commands:\n"
         "  archive     archive delivered bodies and peak data before a date, then prune them\n"
         "              (archive --before DATE | archive verify FILE | archive list)\n"
         "  audit       verify the audit trail's hash chain (audit verify)\n"
         "  backup      take a backup now (backup now) or check a backup file (backup verify)\n"
         "  calibrate   fit a calibration curve to x,y points (CSV) and back-calculate them\n"
         "  dry-run     run inputs through the gate, mapping and rules; store nothing\n"
         "  keygen      write a new key file for security.key_file (mode 0600)\n"
         "  qc          evaluate Westgard rules over a QC history (CSV)\n"
         "  qc-targets  establish QC targets (mean, SD) from the stored QC history\n"
         "  trend       EWMA or tabular CUSUM over a series of values (CSV)\n"
         "  restore     restore a backup file into an empty data directory and verify it\n"
         "  verify-signature  verify an electronic signature offline with the public key\n"
         "  version     print the version of this console and exit\n"
         "  help        show this help\n"
         "\n"
         "QA review and electronic signatures (a running labgated; docs/signatures.md):\n"
         "  login       log in: labgate login --server URL --org ORG --user USER\n"
         "  logout      end the session and remove the session file\n"
         "  batches     list batches: labgate batches [--state S] [--limit N] [--all] [--json]\n"
         "  show        show a batch: labgate show batch ID [--json]\n"
         "  sign        sign a batch: labgate sign batch ID --meaning M [--reason T] [--results "
         "ID,...]\n"
         "  unmapped    codes seen without a mapping: labgate unmapped [--instrument NAME] "
         "[--json]\n"
         "\n"
         "LIS administration (a running labgated; docs/mappings.md):\n"
         "  mappings    mapping sets: list | show NAME | export NAME | import NAME FILE |\n"
         "              diff NAME V | activate NAME V (signed)\n"
         "\n"
         "Received messages and dead letters (a running labgated; docs/operations.md):\n"
         "  messages    list received messages: labgate messages [--connector C] [--outcome O]\n"
         "  dead-letter what the LIS refused: labgate dead-letter list DEST |\n"
         "              labgate dead-letter resend DEST ID --reason TEXT\n"
         "\n"
         "options:\n"
         "  -h, --help  show this help\n"
         "\n"
         "Each command takes -h or --help. Exit status: 0 done, 1 the command failed, 2 usage\n"
         "error (no or an unknown command, a bad option); each command's help says more.\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    printHelp(std::cerr);
    return 2;
  }
  std::string command = argv[1];
  if (command == "-h" || command == "--help" || command == "help") {
    printHelp(std::cout);
    return 0;
  }
  if (command == "version" || command == "--version") {
    if (argc == 3 && (std::strcmp(argv[2], "-h") == 0 || std::strcmp(argv[2], "--help") == 0)) {
      std::cout << "usage: labgate version\n\nPrints the version of this console.\n";
      return 0;
    }
    if (argc > 2) {
      std::cerr << "labgate version: takes no arguments (try labgate version --help)\n";
      return 2;
    }
    std::cout << "labgate " << labgate::kVersion << "\n";
    return 0;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "dry-run") {
    labgate::Registry registry;
    labgate::registerPlugins(registry);
    return labgate::cli::runDryRun(args, std::cout, std::cerr, registry);
  }
  if (command == "calibrate") return labgate::cli::runCalibrate(args, std::cout, std::cerr);
  if (command == "qc") return labgate::cli::runQc(args, std::cout, std::cerr);
  if (command == "qc-targets") return labgate::cli::runQcTargets(args, std::cout, std::cerr);
  if (command == "trend") return labgate::cli::runTrend(args, std::cout, std::cerr);
  if (command == "audit") return labgate::cli::runAudit(args, std::cout, std::cerr);
  if (command == "archive") return labgate::cli::runArchive(args, std::cout, std::cerr);
  if (command == "backup") return labgate::cli::runBackup(args, std::cout, std::cerr);
  if (command == "restore") return labgate::cli::runRestore(args, std::cout, std::cerr);
  if (command == "keygen") return labgate::cli::runKeygen(args, std::cout, std::cerr);
  if (command == "verify-signature") {
    return labgate::cli::runVerifySignature(args, std::cout, std::cerr);
  }
  if (command == "login") return labgate::cli::runLogin(args, std::cin, std::cout, std::cerr);
  if (command == "logout") return labgate::cli::runLogout(args, std::cout, std::cerr);
  if (command == "batches") return labgate::cli::runBatches(args, std::cout, std::cerr);
  if (command == "show") return labgate::cli::runShow(args, std::cout, std::cerr);
  if (command == "sign") return labgate::cli::runSign(args, std::cin, std::cout, std::cerr);
  if (command == "mappings") {
    return labgate::cli::runMappings(args, std::cin, std::cout, std::cerr);
  }
  if (command == "unmapped") return labgate::cli::runUnmapped(args, std::cout, std::cerr);
  if (command == "messages") return labgate::cli::runMessages(args, std::cout, std::cerr);
  if (command == "dead-letter") return labgate::cli::runDeadLetter(args, std::cout, std::cerr);
  std::cerr << "labgate: unknown command \"" << command << "\" (try labgate --help)\n";
  return 2;
}
