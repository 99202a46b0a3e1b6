// labgate login / logout / batches / show batch / sign batch (see qa_command.h).
#include "console/cli/qa_command.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "console/cli/session.h"

namespace labgate::cli {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

const char* const kExitHelp =
    "\nexit status: 0 done; 1 failed (the server refused, not logged in, network); 2 usage "
    "error.\n";

/// Why a request failed, in one line: the problem+json detail (else its title), or the network
/// error.
std::string failureText(const Answer& a) {
  if (a.status == 0) return a.error;
  Object::Ptr problem = parseObject(a.body);
  if (!text(problem, "detail").empty()) return text(problem, "detail");
  if (!text(problem, "title").empty()) return text(problem, "title");
  return "the server answered " + std::to_string(a.status);
}

/// Prints `o` as one line of JSON.
void printJson(const Object::Ptr& o, std::ostream& out) { out << condensed(o) << "\n"; }

// ---- usage -----------------------------------------------------------------------------------

void loginUsage(std::ostream& out) {
  out << "usage: labgate login --server URL --org ORG --user USER [--totp CODE] [--ca FILE]\n"
         "                     [--json]\n"
         "\n"
         "Logs in to a LabGate server (POST /api/v1/sessions) and keeps the session token in\n"
         "$XDG_CONFIG_HOME/labgate/session.json (else ~/.config/labgate/session.json), mode 0600.\n"
         "The password is read from the terminal without echo, or from stdin when stdin is not a\n"
         "terminal. --totp gives the TOTP code for a user who enrolled a second factor; --ca a "
         "PEM\n"
         "CA certificate to verify an https server with (besides the system's CAs), kept with\n"
         "the session for the other commands.\n"
         "\n"
         "  --json   print the outcome as JSON: logged_in, server, org, user, printed_name,\n"
         "           expires_at (when the session ends at the latest), idle_timeout_seconds;\n"
         "           on failure logged_in false, status (0: no answer) and error\n"
      << kExitHelp;
}

void logoutUsage(std::ostream& out) {
  out << "usage: labgate logout [--json]\n"
         "\n"
         "Ends the session on the server (DELETE /api/v1/sessions/current) and removes the\n"
         "session file. A session that has already ended is removed too.\n"
         "\n"
         "  --json   print the outcome as JSON: logged_out, session_ended (false when the server\n"
         "           had ended the session already), server, org, user; on failure error\n"
      << kExitHelp;
}

void batchesUsage(std::ostream& out) {
  out << "usage: labgate batches [--state held|released|rejected] [--instrument NAME]\n"
         "                       [--limit N] [--before ID] [--all] [--json]\n"
         "\n"
         "Lists batches, newest first (GET /api/v1/batches): id, state, instrument, time "
         "received,\n"
         "samples, results and how many results wait for a QA decision. One page at a time:\n"
         "when there are more, the last line is the command that shows the next page.\n"
         "\n"
         "  --limit N     batches per page, 1 to 500 (default: the server's, 50)\n"
         "  --before ID   the page of batches older than batch ID\n"
         "  --all         follow the pages to the end and print them as one list\n"
         "  --json        print the server's answer as it came (with --all: one answer,\n"
         "                {\"items\": [every batch], \"next\": null})\n"
      << kExitHelp;
}

void showUsage(std::ostream& out) {
  out << "usage: labgate show batch ID [--json]\n"
         "\n"
         "Shows a batch (GET /api/v1/batches/ID): its samples and results with disposition and QA\n"
         "state, every finding with the measured value, the limit and the unit, the batch "
         "findings,\n"
         "the signatures so far and record_sha256 (the version a signature names).\n"
         "\n"
         "  --json   print the server's answer as it came\n"
      << kExitHelp;
}

void signUsage(std::ostream& out) {
  out << "usage: labgate sign batch ID --meaning M [--reason TEXT] [--results ID,...]\n"
         "                          [--totp CODE] [--json]\n"
         "\n"
         "Signs a batch electronically (21 CFR Part 11; docs/signatures.md): fetches the batch "
         "for\n"
         "its record_sha256, reads your password (from the terminal without echo, or from stdin),\n"
         "and posts the signature (POST /api/v1/signatures). Prints the signature: printed name,\n"
         "UTC date and time, meaning.\n"
         "\n"
         "  --meaning M      reviewed, approved, rejected, rerun-requested, or one the lab adds\n"
         "  --reason TEXT    required for rejected and rerun-requested, and for an approval that\n"
         "                   releases a result with an error finding\n"
         "  --results IDS    the result ids to sign (default: every result of the batch that "
         "waits)\n"
         "  --totp CODE      the TOTP code, when the server asks for it (first signing of a "
         "session)\n"
         "  --json           print the server's answer as it came\n"
      << kExitHelp;
}

// ---- printing --------------------------------------------------------------------------------

void printFinding(const Object::Ptr& f, const char* indent, std::ostream& out) {
  out << indent << "finding " << text(f, "rule") << " [" << text(f, "severity") << "]";
  if (f->has("analyte") && !text(f, "analyte").empty()) out << " " << text(f, "analyte");
  out << ": measured " << orDash(text(f, "measured")) << ", limit " << orDash(text(f, "limit"))
      << ", unit " << orDash(text(f, "unit")) << ", action " << orDash(text(f, "action")) << "\n";
  if (!text(f, "message").empty()) out << indent << "  " << text(f, "message") << "\n";
}

void printSignatureLine(const Object::Ptr& s, std::ostream& out) {
  out << "  signature " << text(s, "id") << ": " << text(s, "meaning") << " by "
      << text(s, "printed_name") << " (" << text(s, "signer") << ") " << text(s, "signed_at");
  if (!text(s, "reason").empty()) out << ", reason: " << text(s, "reason");
  out << ", results " << text(s, "results") << "\n";
}

}  // namespace

std::string sessionFilePath(const char* xdgConfigHome, const char* home) {
  if (xdgConfigHome != nullptr && xdgConfigHome[0] == '/') {
    return std::string(xdgConfigHome) + "/labgate/session.json";
  }
  if (home != nullptr && home[0] == '/') return std::string(home) + "/.config/labgate/session.json";
  return "";
}

std::string writeSession(const std::string& path, const QaSession& session) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return "not a file path: " + path;
  const std::string dir = path.substr(0, slash);
  // The parent of labgate/ (the config directory) may be missing too.
  const size_t parentSlash = dir.rfind('/');
  if (parentSlash != std::string::npos && parentSlash > 0) {
    const std::string parent = dir.substr(0, parentSlash);
    if (mkdir(parent.c_str(), 0700) != 0 && errno != EEXIST) {
      return "cannot create " + parent + ": " +
             std::strerror(errno);  // NOLINT(concurrency-mt-unsafe)
    }
  }
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return "cannot create " + dir + ": " + std::strerror(errno);  // NOLINT(concurrency-mt-unsafe)
  }
  Object::Ptr o = new Object;
  o->set("server", session.server);
  o->set("org", session.org);
  o->set("user", session.user);
  o->set("token", session.token);
  if (!session.ca.empty()) o->set("ca", session.ca);
  const std::string content = condensed(o) + "\n";
  const std::string temp = path + ".tmp";
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return "cannot write " + temp + ": " + std::strerror(errno);  // NOLINT(concurrency-mt-unsafe)
  bool written = fchmod(fd, 0600) == 0;
  size_t done = 0;
  while (written && done < content.size()) {
    const ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n <= 0) {
      written = false;
    } else {
      done += static_cast<size_t>(n);
    }
  }
  written = fsync(fd) == 0 && written;
  written = close(fd) == 0 && written;
  if (!written || std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    return "cannot write " + path;
  }
  return "";
}

std::optional<QaSession> readSession(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream content;
  content << in.rdbuf();
  Object::Ptr o = parseObject(content.str());
  if (o.isNull()) return std::nullopt;
  QaSession s{text(o, "server"), text(o, "org"), text(o, "user"), text(o, "token"), text(o, "ca")};
  if (s.server.empty() || s.token.empty()) return std::nullopt;
  return s;
}

std::string batchesCommand(const std::string& state, const std::string& instrument,
                           const std::string& limit, int64_t before) {
  std::string command = "labgate batches";
  for (const auto& [option, value] : {std::pair<const char*, const std::string&>{"--state", state},
                                      {"--instrument", instrument},
                                      {"--limit", limit}}) {
    if (value.empty()) continue;
    command += " ";
    command += option;
    command += " ";
    command += shellWord(value);
  }
  return command + " --before " + std::to_string(before);
}

void printBatchList(const std::string& json, std::ostream& out, const std::string& nextCommand) {
  Object::Ptr root = parseObject(json);
  Array::Ptr items = root.isNull() ? nullptr : root->getArray("items");
  if (items.isNull() || items->size() == 0) {
    out << "no batches\n";
    return;
  }
  char line[256];
  std::snprintf(line, sizeof line, "%-8s %-9s %-16s %-25s %7s %7s %7s  %s\n", "ID", "STATE",
                "INSTRUMENT", "RECEIVED", "SAMPLES", "RESULTS", "WAITING", "SOURCE");
  out << line;
  for (size_t i = 0; i < items->size(); ++i) {
    Object::Ptr b = items->getObject(static_cast<unsigned>(i));
    if (b.isNull()) continue;
    const std::string source =
        text(b, "source_name").empty() ? text(b, "connector") : text(b, "source_name");
    std::snprintf(line, sizeof line, "%-8s %-9s %-16s %-25s %7s %7s %7s  ", text(b, "id").c_str(),
                  text(b, "state").c_str(), text(b, "instrument").c_str(),
                  text(b, "received_at").c_str(), text(b, "sample_count").c_str(),
                  text(b, "result_count").c_str(), text(b, "waiting").c_str());
    out << line << source << "\n";
  }
  if (!text(root, "next").empty() && !nextCommand.empty()) {
    out << "more batches: " << nextCommand << "   (or --all for every page)\n";
  }
}

void printBatch(const std::string& json, std::ostream& out) {
  Object::Ptr b = parseObject(json);
  if (b.isNull()) {
    out << json << "\n";
    return;
  }
  out << "batch " << text(b, "id") << "  state " << text(b, "state") << "  instrument "
      << orDash(text(b, "instrument")) << "  format " << orDash(text(b, "format")) << "\n";
  out << "source " << orDash(text(b, "connector"));
  if (!text(b, "source_name").empty()) out << " (" << text(b, "source_name") << ")";
  out << "  received " << orDash(text(b, "received_at")) << "\n";
  out << "record_sha256 " << text(b, "record_sha256") << "\n";
  Array::Ptr samples = b->getArray("samples");
  for (size_t i = 0; !samples.isNull() && i < samples->size(); ++i) {
    Object::Ptr sample = samples->getObject(static_cast<unsigned>(i));
    if (sample.isNull()) continue;
    out << "\nsample " << text(sample, "sample_id") << " (" << orDash(text(sample, "kind"))
        << ")\n";
    Array::Ptr results = sample->getArray("results");
    for (size_t j = 0; !results.isNull() && j < results->size(); ++j) {
      Object::Ptr r = results->getObject(static_cast<unsigned>(j));
      if (r.isNull()) continue;
      out << "  result " << text(r, "id") << "  " << text(r, "instrument_code") << " -> "
          << orDash(text(r, "lis_code")) << "  " << text(r, "value") << " " << text(r, "units")
          << "  disposition " << orDash(text(r, "disposition")) << "  qa "
          << orDash(text(r, "qa_state")) << (text(r, "waiting") == "true" ? "  WAITING" : "")
          << "\n";
      Array::Ptr findings = r->getArray("findings");
      for (size_t k = 0; !findings.isNull() && k < findings->size(); ++k) {
        Object::Ptr f = findings->getObject(static_cast<unsigned>(k));
        if (!f.isNull()) printFinding(f, "    ", out);
      }
    }
  }
  Array::Ptr batchFindings = b->getArray("batch_findings");
  if (!batchFindings.isNull() && batchFindings->size() > 0) {
    out << "\nbatch findings:\n";
    for (size_t i = 0; i < batchFindings->size(); ++i) {
      Object::Ptr f = batchFindings->getObject(static_cast<unsigned>(i));
      if (!f.isNull()) printFinding(f, "  ", out);
    }
  }
  Array::Ptr signatures = b->getArray("signatures");
  out << "\nsignatures:" << (signatures.isNull() || signatures->size() == 0 ? " none\n" : "\n");
  for (size_t i = 0; !signatures.isNull() && i < signatures->size(); ++i) {
    Object::Ptr s = signatures->getObject(static_cast<unsigned>(i));
    if (!s.isNull()) printSignatureLine(s, out);
  }
}

int runLogin(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
             std::ostream& err) {
  std::string server, org, user, totp, ca;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (isHelp(a)) {
      loginUsage(out);
      return 0;
    }
    const bool hasValue = i + 1 < args.size();
    if (a == "--json") {
      json = true;
    } else if (a == "--server" && hasValue) {
      server = args[++i];
    } else if (a == "--org" && hasValue) {
      org = args[++i];
    } else if (a == "--user" && hasValue) {
      user = args[++i];
    } else if (a == "--totp" && hasValue) {
      totp = args[++i];
    } else if (a == "--ca" && hasValue) {
      ca = args[++i];
    } else {
      err << "labgate login: unexpected argument \"" << a << "\"\n";
      loginUsage(err);
      return 2;
    }
  }
  if (server.empty() || org.empty() || user.empty()) {
    err << "labgate login: --server, --org and --user are required\n";
    loginUsage(err);
    return 2;
  }
  while (!server.empty() && server.back() == '/') server.pop_back();
  // --json: the outcome on stdout, also when it failed (the reason goes to stderr as well).
  auto failed = [&](int status, const std::string& why, bool totpRequired = false) {
    if (json) {
      Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      o->set("logged_in", false);
      o->set("server", server);
      o->set("org", org);
      o->set("user", user);
      o->set("status", status);
      o->set("error", why);
      o->set("totp_required", totpRequired);
      printJson(o, out);
    }
    return 1;
  };
  const std::string path = currentSessionPath();
  if (path.empty()) {
    const std::string why = "neither XDG_CONFIG_HOME nor HOME names a directory for the session";
    err << "labgate login: " << why << "\n";
    return failed(0, why);
  }
  std::optional<std::string> password = readSecret(in, err, "Password: ");
  if (!password || password->empty()) {
    err << "labgate login: no password given\n";
    return failed(0, "no password given");
  }
  Object::Ptr body = new Object;
  body->set("org", org);
  body->set("user", user);
  body->set("password", *password);
  if (!totp.empty()) body->set("totp", totp);
  if (!ca.empty() && ca[0] != '/') {
    char* cwd = getcwd(nullptr, 0);  // kept in the session: an absolute path
    if (cwd != nullptr) ca = std::string(cwd) + "/" + ca;
    free(cwd);  // NOLINT(cppcoreguidelines-no-malloc)
  }
  Answer a = call(server, ca, "POST", "/api/v1/sessions", "", condensed(body));
  if (!ok(a)) {
    printFailure("login", a, err);
    Object::Ptr problem = parseObject(a.body);
    const bool totpRequired = !problem.isNull() && text(problem, "totp_required") == "true";
    if (totpRequired) {
      err << "labgate login: this user has a second factor: run again with --totp CODE\n";
    }
    return failed(a.status, failureText(a), totpRequired);
  }
  Object::Ptr answer = parseObject(a.body);
  const std::string token = text(answer, "token");
  if (token.empty()) {
    err << "labgate login: the server's answer has no session token\n";
    return failed(a.status, "the server's answer has no session token");
  }
  const std::string written = writeSession(path, QaSession{server, org, user, token, ca});
  if (!written.empty()) {
    err << "labgate login: " << written << "\n";
    return failed(a.status, written);
  }
  if (json) {
    Object::Ptr who = answer->getObject("user");
    Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("logged_in", true);
    o->set("server", server);
    o->set("org", org);
    o->set("user", text(who, "username").empty() ? user : text(who, "username"));
    o->set("printed_name", text(who, "printed_name"));
    o->set("roles", who.isNull() || who->getArray("roles").isNull()
                        ? Poco::Dynamic::Var(Array::Ptr(new Array))
                        : Poco::Dynamic::Var(who->getArray("roles")));
    o->set("expires_at", text(answer, "expires_at"));
    o->set("idle_timeout_seconds", answer->has("idle_timeout_seconds")
                                       ? answer->get("idle_timeout_seconds")
                                       : Poco::Dynamic::Var());
    o->set("password_change_required", text(answer, "password_change_required") == "true");
    o->set("totp_enrolment_required", text(answer, "totp_enrolment_required") == "true");
    o->set("session_file", path);
    printJson(o, out);
    return 0;
  }
  out << "logged in to " << server << " as " << user << " (organisation " << org << ")";
  if (!text(answer, "expires_at").empty())
    out << "; the session ends at " << text(answer, "expires_at") << " at the latest";
  out << "\n";
  if (text(answer, "password_change_required") == "true") {
    out << "note: the server requires a password change before anything else (docs/api.md)\n";
  }
  if (text(answer, "totp_enrolment_required") == "true") {
    out << "note: the organisation requires a TOTP second factor: enrol one first (docs/api.md)\n";
  }
  return 0;
}

int runLogout(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  bool json = false;
  for (const std::string& a : args) {
    if (isHelp(a)) {
      logoutUsage(out);
      return 0;
    }
    if (a == "--json") {
      json = true;
      continue;
    }
    err << "labgate logout: unexpected argument \"" << a << "\"\n";
    logoutUsage(err);
    return 2;
  }
  // --json: the outcome on stdout (the reason of a failure goes to stderr as well).
  auto outcome = [&](const QaSession* s, bool loggedOut, bool ended, const std::string& error) {
    if (!json) return;
    Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("logged_out", loggedOut);
    o->set("session_ended", ended);
    o->set("server", s ? Poco::Dynamic::Var(s->server) : Poco::Dynamic::Var());
    o->set("org", s ? Poco::Dynamic::Var(s->org) : Poco::Dynamic::Var());
    o->set("user", s ? Poco::Dynamic::Var(s->user) : Poco::Dynamic::Var());
    if (!error.empty()) o->set("error", error);
    printJson(o, out);
  };
  std::optional<QaSession> s = loadSession("logout", err);
  if (!s) {
    outcome(nullptr, false, false, "not logged in");
    return 1;
  }
  Answer a = call(s->server, s->ca, "DELETE", "/api/v1/sessions/current", s->token, "");
  if (!ok(a) && a.status != 401) {
    printFailure("logout", a, err);
    err << "labgate logout: the session file is kept; try again\n";
    outcome(&*s, false, false, failureText(a));
    return 1;
  }
  std::remove(currentSessionPath().c_str());
  if (json) {
    outcome(&*s, true, a.status != 401, "");
  } else {
    out << (a.status == 401 ? "the session had already ended; logged out\n" : "logged out\n");
  }
  return 0;
}

int runBatches(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string state, instrument, limit;
  int64_t before = 0;
  bool json = false;
  bool all = false;
  auto usageError = [&](const std::string& why) {
    err << "labgate batches: " << why << "\n";
    batchesUsage(err);
    return 2;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (isHelp(a)) {
      batchesUsage(out);
      return 0;
    }
    const bool hasValue = i + 1 < args.size();
    if (a == "--json") {
      json = true;
    } else if (a == "--all") {
      all = true;
    } else if (a == "--state" && hasValue) {
      state = args[++i];
    } else if (a == "--instrument" && hasValue) {
      instrument = args[++i];
    } else if (a == "--limit" && hasValue) {
      limit = args[++i];
      if (!isNumber(limit) || std::stoll(limit) < 1 || std::stoll(limit) > 500) {
        return usageError("--limit takes a number from 1 to 500, not \"" + limit + "\"");
      }
    } else if (a == "--before" && hasValue) {
      const std::string& id = args[++i];
      if (!isNumber(id) || std::stoll(id) < 1) {
        return usageError("--before takes a batch id (a number), not \"" + id + "\"");
      }
      before = std::stoll(id);
    } else {
      return usageError("unexpected argument \"" + a + "\"");
    }
  }
  std::optional<QaSession> s = loadSession("batches", err);
  if (!s) return 1;
  auto pathFor = [&](int64_t from) {
    std::string query;
    auto add = [&](const char* name, const std::string& raw) {
      if (raw.empty()) return;
      std::string value;
      Poco::URI::encode(raw, "&=?#+%/", value);
      query += query.empty() ? "?" : "&";
      query += name;
      query += "=";
      query += value;
    };
    add("state", state);
    add("instrument", instrument);
    add("limit", limit);
    add("before", from > 0 ? std::to_string(from) : "");
    return "/api/v1/batches" + query;
  };
  // The cursor of an answer's next page (0 on the last page).
  auto nextOf = [](const Object::Ptr& page) -> int64_t {
    const std::string next = text(page, "next");
    if (next.empty()) return 0;
    try {
      for (const auto& [name, value] : Poco::URI(next).getQueryParameters()) {
        if (name == "before" && isNumber(value)) return std::stoll(value);
      }
    } catch (const Poco::Exception&) {
    }
    return -1;
  };
  Array::Ptr items = new Array;  // --all: every page's items
  for (int64_t from = before;;) {
    Answer a = sessionCall("batches", *s, "GET", pathFor(from), "", err);
    if (!ok(a)) return 1;
    Object::Ptr page = parseObject(a.body);
    const int64_t next = nextOf(page);
    if (page.isNull() || next < 0) {
      err << "labgate batches: the server's answer is not a page of batches\n";
      return 1;
    }
    if (!all) {
      if (json) {
        out << a.body << (a.body.empty() || a.body.back() == '\n' ? "" : "\n");
      } else {
        printBatchList(a.body, out, next > 0 ? batchesCommand(state, instrument, limit, next) : "");
      }
      return 0;
    }
    Array::Ptr pageItems = page->getArray("items");
    for (size_t i = 0; !pageItems.isNull() && i < pageItems->size(); ++i) {
      items->add(pageItems->get(static_cast<unsigned>(i)));
    }
    // Batches come newest first: the cursor only goes down, so the walk ends.
    if (next == 0) break;
    if (from > 0 && next >= from) {
      err << "labgate batches: the server's next page does not go back in time (before=" << next
          << " after before=" << from << "); stopped\n";
      return 1;
    }
    from = next;
  }
  Object::Ptr combined = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  combined->set("items", items);
  combined->set("next", Poco::Dynamic::Var());
  if (json) {
    printJson(combined, out);
  } else {
    printBatchList(condensed(combined), out);
  }
  return 0;
}

int runShow(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  bool json = false;
  std::vector<std::string> words;
  for (const std::string& a : args) {
    if (isHelp(a)) {
      showUsage(out);
      return 0;
    }
    if (a == "--json") {
      json = true;
    } else if (!a.empty() && a[0] != '-') {
      words.push_back(a);
    } else {
      err << "labgate show: unexpected argument \"" << a << "\"\n";
      showUsage(err);
      return 2;
    }
  }
  if (words.size() != 2 || words[0] != "batch" || !isNumber(words[1])) {
    err << "labgate show: expected \"batch ID\" (a number)\n";
    showUsage(err);
    return 2;
  }
  std::optional<QaSession> s = loadSession("show", err);
  if (!s) return 1;
  Answer a = sessionCall("show", *s, "GET", "/api/v1/batches/" + words[1], "", err);
  if (!ok(a)) return 1;
  if (json) {
    out << a.body << (a.body.empty() || a.body.back() == '\n' ? "" : "\n");
  } else {
    printBatch(a.body, out);
  }
  return 0;
}

int runSign(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
            std::ostream& err) {
  bool json = false;
  std::string meaning, reason, results, totp;
  bool haveReason = false;
  std::vector<std::string> words;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (isHelp(a)) {
      signUsage(out);
      return 0;
    }
    const bool hasValue = i + 1 < args.size();
    if (a == "--json") {
      json = true;
    } else if (a == "--meaning" && hasValue) {
      meaning = args[++i];
    } else if (a == "--reason" && hasValue) {
      reason = args[++i];
      haveReason = true;
    } else if (a == "--results" && hasValue) {
      results = args[++i];
    } else if (a == "--totp" && hasValue) {
      totp = args[++i];
    } else if (!a.empty() && a[0] != '-') {
      words.push_back(a);
    } else {
      err << "labgate sign: unexpected argument \"" << a << "\"\n";
      signUsage(err);
      return 2;
    }
  }
  if (words.size() != 2 || words[0] != "batch" || !isNumber(words[1])) {
    err << "labgate sign: expected \"batch ID\" (a number)\n";
    signUsage(err);
    return 2;
  }
  if (meaning.empty()) {
    err << "labgate sign: --meaning is required\n";
    signUsage(err);
    return 2;
  }
  Array::Ptr resultIds = new Array;
  if (!results.empty()) {
    std::istringstream list(results);
    std::string id;
    while (std::getline(list, id, ',')) {
      if (!isNumber(id)) {
        err << "labgate sign: --results takes result ids separated by commas, not \"" << results
            << "\"\n";
        return 2;
      }
      resultIds->add(static_cast<Poco::Int64>(std::stoll(id)));
    }
    if (resultIds->size() == 0) {
      err << "labgate sign: --results is empty\n";
      return 2;
    }
  }
  std::optional<QaSession> s = loadSession("sign", err);
  if (!s) return 1;
  Answer batch = sessionCall("sign", *s, "GET", "/api/v1/batches/" + words[1], "", err);
  if (!ok(batch)) return 1;
  const std::string record = text(parseObject(batch.body), "record_sha256");
  if (record.empty()) {
    err << "labgate sign: the batch answer has no record_sha256\n";
    return 1;
  }
  std::optional<std::string> password = readSecret(in, err, "Password (to sign): ");
  if (!password || password->empty()) {
    err << "labgate sign: no password given\n";
    return 1;
  }
  Object::Ptr body = new Object;
  body->set("subject", "batch:" + words[1]);
  body->set("meaning", meaning);
  body->set("record_sha256", record);
  body->set("password", *password);
  if (haveReason) body->set("reason", reason);
  if (resultIds->size() > 0) body->set("results", resultIds);
  if (!totp.empty()) body->set("totp", totp);
  Answer a = sessionCall("sign", *s, "POST", "/api/v1/signatures", condensed(body), err);
  if (!ok(a)) {
    Object::Ptr problem = parseObject(a.body);
    if (!problem.isNull() && text(problem, "totp_required") == "true") {
      err << "labgate sign: the first signing of a session needs your TOTP code: run again with "
             "--totp CODE\n";
    }
    if (json && !a.body.empty()) out << a.body << (a.body.back() == '\n' ? "" : "\n");
    return 1;
  }
  if (json) {
    out << a.body << (a.body.empty() || a.body.back() == '\n' ? "" : "\n");
    return 0;
  }
  Object::Ptr sig = parseObject(a.body);
  out << "signed batch " << words[1] << ": " << text(sig, "meaning") << " by "
      << text(sig, "printed_name") << " (" << text(sig, "signer") << ") at "
      << text(sig, "signed_at") << " (UTC)\n";
  out << "signature " << text(sig, "id") << ", results " << text(sig, "results")
      << ", record_sha256 " << text(sig, "record_sha256") << "\n";
  if (!text(sig, "reason").empty()) out << "reason: " << text(sig, "reason") << "\n";
  if (!text(sig, "manifestation").empty()) out << text(sig, "manifestation") << "\n";
  return 0;
}

// ---- unmapped (issue 14) ---------------------------------------------------------------------
// Here beside the session helpers it uses; it moves with them when they get a header of their
// own (console/cli/session.h).

namespace {

void unmappedUsage(std::ostream& out) {
  out << "usage: labgate unmapped [--instrument NAME] [--json]\n"
         "\n"
         "Lists the instrument codes that arrived without a mapping (GET /api/v1/unmapped-codes):\n"
         "instrument, code, how many results came with it, how many wait on it now, first and "
         "last seen.\n"
         "Add the codes to the connector's mapping set; held results are then evaluated again.\n"
         "\n"
         "  --json   print the server's answer as it came\n"
      << kExitHelp;
}

}  // namespace

void printUnmapped(const std::string& json, std::ostream& out) {
  Object::Ptr answer = parseObject(json);
  Poco::JSON::Array::Ptr items = answer.isNull() ? nullptr : answer->getArray("items");
  if (items.isNull() || items->size() == 0) {
    out << "no unmapped codes\n";
    return;
  }
  out << "INSTRUMENT\tCODE\tRESULTS\tWAITING\tFIRST SEEN\tLAST SEEN\n";
  for (size_t i = 0; i < items->size(); ++i) {
    Object::Ptr o = items->getObject(static_cast<unsigned>(i));
    if (o.isNull()) continue;
    out << text(o, "instrument") << '\t' << text(o, "code") << '\t'
        << o->optValue<int64_t>("results", 0) << '\t' << o->optValue<int64_t>("waiting", 0) << '\t'
        << orDash(text(o, "first_seen")) << '\t' << orDash(text(o, "last_seen")) << '\n';
  }
}

int runUnmapped(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string query;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (isHelp(a)) {
      unmappedUsage(out);
      return 0;
    }
    if (a == "--json") {
      json = true;
    } else if (a == "--instrument" && i + 1 < args.size() && !args[i + 1].empty()) {
      std::string value;
      Poco::URI::encode(args[++i], "&=?#+%/", value);
      query = "?instrument=" + value;
    } else {
      err << "labgate unmapped: unexpected argument \"" << a << "\"\n";
      unmappedUsage(err);
      return 2;
    }
  }
  std::optional<QaSession> s = loadSession("unmapped", err);
  if (!s) return 1;
  Answer a = sessionCall("unmapped", *s, "GET", "/api/v1/unmapped-codes" + query, "", err);
  if (!ok(a)) return 1;
  if (json) {
    out << a.body << (a.body.empty() || a.body.back() == '\n' ? "" : "\n");
  } else {
    printUnmapped(a.body, out);
  }
  return 0;
}

}  // namespace labgate::cli
