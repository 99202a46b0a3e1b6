// labgate keygen FILE: writes a new key-encryption key for security.key_file (32 random bytes,
// base64 on one line) with mode 0600, never over an existing file (docs/encryption.md).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace labgate::cli {

/// `args` are the arguments after "keygen". Returns the exit status (0, 1 on failure, 64 usage).
int runKeygen(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace labgate::cli
