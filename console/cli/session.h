// The login of issue 13, shared by the commands that talk to a running labgated with it (`labgate
// batches`, `show`, `sign`, `messages`, `dead-letter`, ...): the session file, one HTTP(S) call
// with the session's token, and how a refusal is printed. Defined in console/cli/qa_command.cpp.
#pragma once

#include <Poco/JSON/Object.h>

#include <istream>
#include <optional>
#include <ostream>
#include <string>

#include "console/cli/qa_command.h"

namespace labgate::cli {

/// One answer of the server.
struct Answer {
  int status = 0;  // 0: no answer (network)
  std::string contentType;
  std::string body;
  std::string error;  // why there is no answer
};

/// The text of a JSON member ("" when absent or null); numbers and booleans as text.
std::string text(const Poco::JSON::Object::Ptr& o, const std::string& name);
/// The JSON object of `json`, or null when it is not one.
Poco::JSON::Object::Ptr parseObject(const std::string& json);
std::string condensed(const Poco::JSON::Object::Ptr& o);

/// One request to `server` (http:// or https://, verified with `ca` or the system's CAs).
Answer call(const std::string& server, const std::string& ca, const std::string& method,
            const std::string& path, const std::string& token, const std::string& body);
/// Prints a refused or failed request: the problem+json detail as the server wrote it.
void printFailure(const std::string& command, const Answer& a, std::ostream& err);
/// One line from the terminal without echo when `in` is the terminal's stdin, else from `in`.
std::optional<std::string> readSecret(std::istream& in, std::ostream& err, const char* prompt);

std::string currentSessionPath();
/// The session, or prints why there is none (exit 1).
std::optional<QaSession> loadSession(const std::string& command, std::ostream& err);
/// A request with the session; a failure is printed (a 401 says the session has ended).
Answer sessionCall(const std::string& command, const QaSession& s, const std::string& method,
                   const std::string& path, const std::string& body, std::ostream& err);
bool ok(const Answer& a);

}  // namespace labgate::cli
