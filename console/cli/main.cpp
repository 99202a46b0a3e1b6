// labgate: the command-line console. Sub-commands grow with the console issue; today it reports
// its version.
#include <cstring>
#include <iostream>
#include <string>

#include "labgate/version.h"

namespace {

void printHelp(std::ostream& out) {
  out << "usage: labgate <command> [options]\n"
         "\n"
         "The LabGate command-line console.\n"
         "\n"
         "commands:\n"
         "  version     print the version of this console and exit\n"
         "  help        show this help\n"
         "\n"
         "options:\n"
         "  -h, --help  show this help\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    printHelp(std::cerr);
    return 64;
  }
  std::string command = argv[1];
  if (command == "-h" || command == "--help" || command == "help") {
    printHelp(std::cout);
    return 0;
  }
  if (command == "version" || command == "--version") {
    std::cout << "labgate " << labgate::kVersion << "\n";
    return 0;
  }
  std::cerr << "labgate: unknown command \"" << command << "\" (try labgate --help)\n";
  return 64;
}
