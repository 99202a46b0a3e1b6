// `labgate mappings list | show NAME | export NAME [--version V] | import NAME FILE [--comment T] |
// diff NAME V [--against N] | activate NAME V [--reason T]` (issue 14, docs/mappings.md): the
// mapping sets stored in a running labgated, over its REST API with the session of `labgate login`
// (console/cli/session.h). `activate` is an electronic signature (meaning approved): it reads the
// password from the terminal without echo, or from stdin when it is not a terminal.
#pragma once

#include <istream>
#include <ostream>
#include <string>
#include <vector>

namespace labgate::cli {

/// Exit status 0 done, 1 failed (the server refused, not logged in, network), 2 usage error.
/// `args` are the arguments after "mappings".
int runMappings(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                std::ostream& err);

}  // namespace labgate::cli
