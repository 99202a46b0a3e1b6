// store.url: see store_url.h.
#include "engine/store/store_url.h"

#include <sys/stat.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "engine/security/posix_file.h"

namespace labgate {
namespace {

constexpr const char* kForm = "postgresql://USER@HOST:PORT/DATABASE";

Status badUrl(const std::string& why) {
  return Status::config("store.url", why + " (expected " + kForm +
                                         ", e.g. postgresql://labgate@db.lab.local:5432/labgate)");
}

/// A value in libpq's key=value form: quoted, with \ and ' escaped.
std::string quoted(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

bool isPlainName(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

StatusOr<std::string> readPasswordFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::config("store.password_file", path + " cannot be read: no such file");
  }
  std::string problem = security::groupOrOtherAccess(st, path);
  if (problem.empty()) problem = security::ownerProblem(st, path);
  if (!problem.empty()) return Status::config("store.password_file", problem);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::config("store.password_file", path + " cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  std::string password = text.str();
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
    password.pop_back();
  }
  if (password.empty()) {
    return Status::config("store.password_file", path + " is empty: write the password into it");
  }
  if (password.find('\n') != std::string::npos) {
    return Status::config("store.password_file",
                          path + " holds more than one line: it must hold the password only");
  }
  return password;
}

}  // namespace

std::string PostgresTarget::connectionString() const {
  std::string out = "host=" + quoted(host) + " port=" + std::to_string(port) +
                    " user=" + quoted(user) + " dbname=" + quoted(database) +
                    " application_name='labgated' connect_timeout=10";
  if (!sslmode.empty()) out += " sslmode=" + quoted(sslmode);
  if (!password.empty()) out += " password=" + quoted(password);
  return out;
}

std::string PostgresTarget::display() const {
  std::string out =
      "postgresql://" + user + "@" + host + ":" + std::to_string(port) + "/" + database;
  if (!sslmode.empty()) out += "?sslmode=" + sslmode;
  return out;
}

StatusOr<PostgresTarget> parseStoreUrl(const std::string& url, const std::string& passwordFile) {
  std::string rest;
  for (const char* scheme : {"postgresql://", "postgres://"}) {
    if (url.rfind(scheme, 0) == 0) rest = url.substr(std::string(scheme).size());
  }
  if (rest.empty()) {
    return badUrl("is not a PostgreSQL URL; leave it empty for the embedded SQLite store");
  }
  PostgresTarget t;
  const size_t query = rest.find('?');
  if (query != std::string::npos) {
    const std::string params = rest.substr(query + 1);
    rest.resize(query);
    std::istringstream items(params);
    std::string item;
    while (std::getline(items, item, '&')) {
      const size_t eq = item.find('=');
      const std::string key = item.substr(0, eq);
      const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
      if (key != "sslmode") {
        return badUrl("has the parameter \"" + key +
                      "\", which LabGate does not know (only "
                      "sslmode is accepted)");
      }
      static const char* const kModes[] = {"disable", "allow",     "prefer",
                                           "require", "verify-ca", "verify-full"};
      bool known = false;
      for (const char* mode : kModes) known = known || value == mode;
      if (!known) {
        return badUrl("has sslmode=" + value +
                      ", which is not one of disable, allow, prefer, require, verify-ca, "
                      "verify-full");
      }
      t.sslmode = value;
    }
  }
  const size_t at = rest.find('@');
  if (at == std::string::npos) return badUrl("names no user");
  const std::string userInfo = rest.substr(0, at);
  if (userInfo.find(':') != std::string::npos) {
    return Status::config("store.url",
                          "holds a password: remove it from the URL and put it in the file "
                          "named by store.password_file (mode 0600)");
  }
  t.user = userInfo;
  if (!isPlainName(t.user)) return badUrl("has an empty or unusual user name");
  rest = rest.substr(at + 1);
  const size_t slash = rest.find('/');
  if (slash == std::string::npos) return badUrl("names no database");
  t.database = rest.substr(slash + 1);
  if (!isPlainName(t.database)) return badUrl("has an empty or unusual database name");
  std::string hostPort = rest.substr(0, slash);
  const size_t colon = hostPort.rfind(':');
  if (colon != std::string::npos && hostPort.find(']') == std::string::npos) {
    const std::string port = hostPort.substr(colon + 1);
    hostPort.resize(colon);
    bool digits = !port.empty() && port.size() <= 5;
    for (char c : port) digits = digits && std::isdigit(static_cast<unsigned char>(c)) != 0;
    if (!digits || std::stoi(port) < 1 || std::stoi(port) > 65535) {
      return badUrl("has the port \"" + port + "\", which is not a number from 1 to 65535");
    }
    t.port = std::stoi(port);
  }
  t.host = hostPort;
  if (t.host.empty()) return badUrl("names no host");
  if (!passwordFile.empty()) {
    StatusOr<std::string> password = readPasswordFile(passwordFile);
    if (!password.isOk()) return password.status();
    t.password = std::move(password).value();
  }
  return t;
}

}  // namespace labgate
