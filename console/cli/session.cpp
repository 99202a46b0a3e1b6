// The shared part of the commands that talk to a running labgated (see session.h).
#include "console/cli/session.h"

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
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <sstream>

namespace labgate::cli {

using Poco::JSON::Object;

/// The text of a JSON member ("" when absent or null); numbers and booleans as text.
std::string text(const Object::Ptr& o, const std::string& name) {
  if (o.isNull() || !o->has(name) || o->isNull(name)) return "";
  Poco::Dynamic::Var v = o->get(name);
  if (v.isString() || v.isNumeric() || v.isBoolean()) return v.convert<std::string>();
  std::ostringstream out;
  Poco::JSON::Stringifier::condense(v, out);
  return out.str();
}

Object::Ptr parseObject(const std::string& json) {
  try {
    return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
  } catch (const Poco::Exception&) {
    return nullptr;
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::string condensed(const Object::Ptr& o) {
  std::ostringstream out;
  Poco::JSON::Stringifier::condense(o, out);
  return out.str();
}

// ---- HTTP ------------------------------------------------------------------------------------

Answer call(const std::string& server, const std::string& ca, const std::string& method,
            const std::string& path, const std::string& token, const std::string& body,
            const std::string& contentType, const std::string& accept) {
  Answer answer;
  try {
    Poco::URI uri(server);
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (uri.getScheme() == "https") {
      Poco::Net::initializeSSL();
      Poco::Net::Context::Params params;
      params.verificationMode = Poco::Net::Context::VERIFY_RELAXED;
      params.loadDefaultCAs = true;
      params.caLocation = ca;
      Poco::Net::Context::Ptr context =
          new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
      context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
      session =
          std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), context);
    } else if (uri.getScheme() == "http") {
      session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    } else {
      answer.error = "the server URL must start with http:// or https://";
      return answer;
    }
    session->setTimeout(Poco::Timespan(60, 0));
    std::string base = uri.getPath();
    while (!base.empty() && base.back() == '/') base.pop_back();
    Poco::Net::HTTPRequest request(method, base + path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Accept", accept);
    request.set("User-Agent", "labgate-cli");
    if (!token.empty()) request.set("Authorization", "Bearer " + token);
    if (!body.empty()) {
      request.setContentType(contentType);
      request.setContentLength(static_cast<std::streamsize>(body.size()));
    } else if (method == "POST" || method == "PUT" || method == "PATCH") {
      request.setContentLength(0);  // the server answers 411 to a POST without a length
    }
    std::ostream& requestBody = session->sendRequest(request);
    requestBody << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session->receiveResponse(response);
    Poco::StreamCopier::copyToString(in, answer.body);
    answer.status = static_cast<int>(response.getStatus());
    answer.contentType = response.getContentType();
  } catch (const Poco::Exception& e) {
    answer.status = 0;
    answer.error = "cannot reach " + server + ": " + e.displayText();
  }
  return answer;
}

/// Prints a refused or failed request: the problem+json detail as the server wrote it.
void printFailure(const std::string& command, const Answer& a, std::ostream& err) {
  if (a.status == 0) {
    err << "labgate " << command << ": " << a.error << "\n";
    return;
  }
  Object::Ptr problem = parseObject(a.body);
  err << "labgate " << command << ": the server answered " << a.status;
  if (!problem.isNull() && (problem->has("title") || problem->has("detail"))) {
    if (!text(problem, "title").empty()) err << " " << text(problem, "title");
    if (!text(problem, "detail").empty()) err << ": " << text(problem, "detail");
    err << "\n";
  } else {
    err << "\n" << a.body << (a.body.empty() || a.body.back() == '\n' ? "" : "\n");
  }
}

// ---- password ---------------------------------------------------------------------------------

/// One line from the terminal without echo when `in` is the terminal's stdin, else from `in`.
std::optional<std::string> readSecret(std::istream& in, std::ostream& err, const char* prompt) {
  std::string line;
  if (&in == &std::cin && isatty(STDIN_FILENO) != 0) {
    termios saved{};
    const bool haveTerm = tcgetattr(STDIN_FILENO, &saved) == 0;
    if (haveTerm) {
      termios quiet = saved;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      quiet.c_lflag |= ECHONL;
      tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    err << prompt << std::flush;
    const bool got = static_cast<bool>(std::getline(in, line));
    if (haveTerm) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    if (!got) return std::nullopt;
  } else if (!std::getline(in, line)) {
    return std::nullopt;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// ---- session ---------------------------------------------------------------------------------

std::string currentSessionPath() {
  return sessionFilePath(std::getenv("XDG_CONFIG_HOME"),
                         std::getenv("HOME"));  // NOLINT(concurrency-mt-unsafe)
}

/// The session, or prints why there is none (exit 1).
std::optional<QaSession> loadSession(const std::string& command, std::ostream& err) {
  const std::string path = currentSessionPath();
  std::optional<QaSession> s = path.empty() ? std::nullopt : readSession(path);
  if (!s) {
    err << "labgate " << command
        << ": not logged in (run labgate login --server URL --org ORG --user USER)\n";
  }
  return s;
}

/// A request with the session; a 401 says the session has ended.
Answer sessionCall(const std::string& command, const QaSession& s, const std::string& method,
                   const std::string& path, const std::string& body, std::ostream& err,
                   const std::string& contentType, const std::string& accept) {
  Answer a = call(s.server, s.ca, method, path, s.token, body, contentType, accept);
  if (a.status == 401) {
    printFailure(command, a, err);
    err << "labgate " << command << ": the session has ended; log in again (labgate login)\n";
  } else if (a.status < 200 || a.status >= 300) {
    printFailure(command, a, err);
  }
  return a;
}

bool ok(const Answer& a) { return a.status >= 200 && a.status < 300; }

bool isHelp(const std::string& a) { return a == "-h" || a == "--help"; }

bool isNumber(const std::string& s) {
  return !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos;
}

std::string orDash(const std::string& s) { return s.empty() ? "-" : s; }

std::string shellWord(const std::string& value) {
  const bool plain = !value.empty() && value.find_first_not_of(
                                           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
                                           "opqrstuvwxyz0123456789-_.:/@+,=") == std::string::npos;
  if (plain) return value;
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

void printBody(const std::string& body, std::ostream& out) {
  out << body << (body.empty() || body.back() == '\n' ? "" : "\n");
}

}  // namespace labgate::cli
