// The QA staff's commands (issue 13, docs/signatures.md "Command line"): `labgate login`,
// `logout`, `batches`, `show batch ID` and `sign batch ID`, each with `--json`. They talk to a
// running labgated over its REST API (POCO HTTP(S)ClientSession) with a session token kept in
// $XDG_CONFIG_HOME/labgate/session.json (else ~/.config/labgate/session.json), mode 0600.
// Passwords are read from the terminal without echo, or from stdin when it is not a terminal; they
// are never printed or stored.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace labgate::cli {

/// Where the session is kept: `xdgConfigHome`/labgate/session.json when it is set and absolute,
/// else `home`/.config/labgate/session.json; "" when neither is usable.
std::string sessionFilePath(const char* xdgConfigHome, const char* home);

/// What `login` keeps.
struct QaSession {
  std::string server;  // e.g. http://127.0.0.1:8080 (no trailing slash)
  std::string org;
  std::string user;
  std::string token;
  std::string ca;  // a PEM CA certificate file to verify an https server with; "" the system's
};

/// Writes `session` to `path` (mode 0600; the directory created 0700). "" or why not.
std::string writeSession(const std::string& path, const QaSession& session);
/// Reads it back; nullopt when the file is absent or not a session.
std::optional<QaSession> readSession(const std::string& path);

/// The exit status of each command: 0 done, 1 failed (server refused, not logged in, network),
/// 2 usage error. `args` are the arguments after the command's name; `in` is where a password
/// comes from when it is not a terminal.
int runLogin(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
             std::ostream& err);
int runLogout(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int runBatches(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
/// `show batch ID`: args start with "batch".
int runShow(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
/// `sign batch ID --meaning M ...`: args start with "batch".
int runSign(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
            std::ostream& err);

/// The readable forms (exposed for the unit tests): a batch list answer and a batch answer. When
/// the list answer has a next page, `nextCommand` (the command that shows it) ends the list.
void printBatchList(const std::string& json, std::ostream& out,
                    const std::string& nextCommand = "");
/// The `labgate batches` command line that shows the page before batch `before` with the same
/// `--state`, `--instrument` and `--limit` (empty values left out), values quoted for a POSIX
/// shell where needed.
std::string batchesCommand(const std::string& state, const std::string& instrument,
                           const std::string& limit, int64_t before);
void printBatch(const std::string& json, std::ostream& out);

}  // namespace labgate::cli
