// labgate archive: writes the delivered message bodies and peak data received before a date to an
// encrypted, authenticated archive file, records it in the store's ledger and prunes them
// (docs/operations.md "Retention and archives", docs/adr/0023-retention-and-archives.md).
//   archive --before DATE   archive, record, prune (labgated stopped: a maintenance task)
//   archive verify FILE     checks an archive offline and says what it holds
//   archive list            the store's ledger of archives
// Key material is never printed; no patient value exists in the store, nor in what this prints.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace labgate::cli {

/// `args` are the arguments after "archive". Exit status: 0 done (also when nothing was due);
/// 1 the archive could not be written or recorded, did not verify, or labgated is running; 2 usage
/// error, a configuration or key file that cannot be read.
int runArchive(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace labgate::cli
