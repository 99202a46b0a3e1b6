// What the commands that talk to a running labgated share (issue 13's login, used by `labgate
// login`/`batches`/`sign` and the later commands such as `labgate mappings`): one HTTP(S) request
// to the REST API, the problem+json detail printed on failure, the session file read back, a
// password read without echo, and small JSON helpers.
#pragma once

#include <Poco/JSON/Object.h>

#include <istream>
#include <optional>
#include <ostream>
#include <string>

#include "console/cli/qa_command.h"

namespace labgate::cli {

/// The text of a JSON member ("" when absent or null); numbers and booleans as text, objects
/// and arrays as condensed JSON.
std::string text(const Poco::JSON::Object::Ptr& o, const std::string& name);
/// `json` parsed as an object, or null.
Poco::JSON::Object::Ptr parseObject(const std::string& json);
/// `o` as JSON text without white space.
std::string condensed(const Poco::JSON::Object::Ptr& o);

/// One answer of the server.
struct Answer {
  int status = 0;  // 0: no answer (network)
  std::string contentType;
  std::string body;
  std::string error;  // why there is no answer
};

/// One request to `server` (http:// or https://, verified against `ca` or the system's CAs, TLS
/// 1.2 at least) with the bearer `token` when not empty. A non-empty `body` is sent as
/// `contentType`; `accept` is the Accept header.
Answer call(const std::string& server, const std::string& ca, const std::string& method,
            const std::string& path, const std::string& token, const std::string& body,
            const std::string& contentType = "application/json",
            const std::string& accept = "application/json");

/// Prints a refused or failed request: the problem+json detail as the server wrote it.
void printFailure(const std::string& command, const Answer& a, std::ostream& err);

/// One line from the terminal without echo when `in` is the terminal's stdin, else from `in`.
std::optional<std::string> readSecret(std::istream& in, std::ostream& err, const char* prompt);

/// The session file of this user ($XDG_CONFIG_HOME or ~/.config), "" when there is none.
std::string currentSessionPath();

/// The session, or prints why there is none (the command then exits 1).
std::optional<QaSession> loadSession(const std::string& command, std::ostream& err);

/// A request with the session; a failure is printed, and a 401 says the session has ended.
Answer sessionCall(const std::string& command, const QaSession& s, const std::string& method,
                   const std::string& path, const std::string& body, std::ostream& err,
                   const std::string& contentType = "application/json",
                   const std::string& accept = "application/json");
/// A 2xx answer.
bool ok(const Answer& a);

// ---- shared by the commands' argument handling and output ---------------------------------
/// -h or --help.
bool isHelp(const std::string& a);
/// 1 to 18 decimal digits (an id, a limit).
bool isNumber(const std::string& s);
/// `s`, or "-" when it is empty.
std::string orDash(const std::string& s);
/// `value` as one POSIX shell word: as it is when plain, else in single quotes (the "next page"
/// commands the lists print are meant to be copied).
std::string shellWord(const std::string& value);
/// `body` as it came, ending with a newline (--json).
void printBody(const std::string& body, std::ostream& out);

}  // namespace labgate::cli
