// EngineConfig parsing and validation (see config.h).
#include "engine/service/config.h"

#include <Poco/AutoPtr.h>
#include <Poco/Environment.h>
#include <Poco/File.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/NumberParser.h>
#include <Poco/URI.h>
#include <Poco/Util/PropertyFileConfiguration.h>

#include <fstream>
#include <set>

#include "engine/api/permissions.h"
#include "engine/model/mapping_stage.h"
#include "engine/store/store_url.h"

namespace labgate {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

void collectKeys(const Poco::Util::AbstractConfiguration& config, const std::string& base,
                 std::map<std::string, std::string>& out) {
  Poco::Util::AbstractConfiguration::Keys keys;
  config.keys(base, keys);
  for (const std::string& key : keys) {
    if (base.empty() && key.empty())
      throw Poco::SyntaxException("a key is empty or starts with '.'");
    std::string full = base;
    if (!full.empty()) full += '.';
    full += key;
    if (config.hasProperty(full)) out[full] = trim(config.getRawString(full));
    collectKeys(config, full, out);
  }
}

Status checkName(const std::string& key, const std::string& name) {
  if (name.empty()) return Status::config(key, "empty name in the list");
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return Status::config(key, "name \"" + name + "\" may hold only letters, digits, - and _");
    }
  }
  return Status::ok();
}

const std::set<std::string> kTopLevelKeys = {"data.dir",
                                             "store.url",
                                             "store.password_file",
                                             "node.id",
                                             "node.lease_seconds",
                                             "http.listen",
                                             "http.allow_remote",
                                             "http.max_connections",
                                             "http.request_head_timeout_seconds",
                                             "http.request_body_timeout_seconds",
                                             "http.keep_alive_timeout_seconds",
                                             "https.hsts_max_age_seconds",
                                             "https.listen",
                                             "tls.cert",
                                             "tls.key",
                                             "tls.ca",
                                             "phi.patterns",
                                             "log.level",
                                             "log.file",
                                             "log.console",
                                             "log.format",
                                             "log.rotation",
                                             "log.keep",
                                             "connectors",
                                             "destinations",
                                             "security.session.idle_seconds",
                                             "security.session.absolute_seconds",
                                             "security.lockout.attempts",
                                             "security.lockout.seconds",
                                             "security.throttle.free_attempts",
                                             "security.throttle.source_free_attempts",
                                             "security.throttle.delay_seconds",
                                             "security.throttle.max_delay_seconds",
                                             "security.password.min_length",
                                             "security.password.blocklist",
                                             "security.argon2.memory_kib",
                                             "security.argon2.iterations",
                                             "security.argon2.parallelism",
                                             "security.key_file",
                                             "security.previous_key_file",
                                             "backup.schedule",
                                             "backup.dir",
                                             "backup.keep.hourly",
                                             "backup.keep.daily",
                                             "retention.body_days",
                                             "retention.peak_days",
                                             "retention.archive_required",
                                             "retention.records_years",
                                             "retention.check_minutes",
                                             "audit.forward",
                                             "audit.change_reason",
                                             "console.dir",
                                             "export.window_results"};

bool isLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

/// A connector's listen host that only this machine can reach: a loopback address or
/// "localhost". Anything else (0.0.0.0, ::, an interface address, another host name) is taken as
/// reachable from the network.
bool isLoopbackListenHost(const std::string& host) {
  if (host == "localhost") return true;
  Poco::Net::IPAddress address;
  return Poco::Net::IPAddress::tryParse(host, address) && address.isLoopback();
}

std::string lowered(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}
const std::set<std::string> kLogLevels = {"fatal",  "critical",    "error", "warning",
                                          "notice", "information", "debug", "trace"};

/// "10", "10 M", "daily": a whole number, optional blanks, then one of `units` ("" = no unit).
bool numberWithUnit(const std::string& text, const std::set<std::string>& units) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 9 || std::stol(text.substr(0, digits)) < 1) return false;
  return units.count(trim(text.substr(digits))) > 0;
}

/// log.rotation: what Poco::FileChannel's "rotation" takes, less the day-of-week form.
bool validRotation(const std::string& text) {
  if (text == "never" || text == "daily" || text == "weekly" || text == "monthly") return true;
  if (text.size() == 5 && text[2] == ':' && std::isdigit(static_cast<unsigned char>(text[0])) &&
      std::isdigit(static_cast<unsigned char>(text[1])) &&
      std::isdigit(static_cast<unsigned char>(text[3])) &&
      std::isdigit(static_cast<unsigned char>(text[4]))) {
    return std::stoi(text.substr(0, 2)) < 24 && std::stoi(text.substr(3)) < 60;
  }
  return numberWithUnit(text, {"", "K", "M", "minutes", "hours", "days", "weeks", "months"});
}

/// log.keep: a number of archives, an age, or none (keep every archive).
bool validKeep(const std::string& text) {
  return text == "none" ||
         numberWithUnit(text, {"", "seconds", "minutes", "hours", "days", "weeks", "months"});
}

/// connector.NAME.allow: addresses and CIDR blocks, or "any" alone (every address, on purpose).
Status parseConnectorAllow(const std::string& prefix, const std::string& text, ConnectorConfig& c) {
  if (text.empty()) return Status::ok();
  std::vector<std::string> entries = splitList(text);
  bool any = false;
  for (const auto& entry : entries) any = any || lowered(entry) == "any";
  if (any) {
    if (entries.size() > 1) {
      return Status::config(prefix + "allow",
                            "\"any\" cannot be combined with addresses: either list the "
                            "addresses and blocks to serve, or write any alone");
    }
    c.allowAny = true;
    return Status::ok();
  }
  StatusOr<security::AllowList> allow = security::AllowList::parse(entries);
  if (!allow.isOk()) return Status::config(prefix + "allow", allow.status().toString());
  c.allow = std::move(allow).value();
  return Status::ok();
}

/// A connector listening on an address other hosts can reach must say whom it serves: a
/// non-loopback connector.NAME.listen without connector.NAME.allow is refused; allow = any is
/// accepted with a warning. A listen value that does not parse is left to the connector's own
/// check (which names it).
Status checkListenExposure(const std::string& prefix, const std::string& listen,
                           const ConnectorConfig& c, std::vector<std::string>& warnings) {
  if (listen.empty()) return Status::ok();
  std::string host;
  uint16_t port = 0;
  if (!parseHostPort(prefix + "listen", listen, host, port).isOk()) return Status::ok();
  if (isLoopbackListenHost(host)) return Status::ok();
  if (c.allowAny) {
    warnings.push_back(prefix + "allow = any: connector " + c.name + " listens on " + listen +
                       " and serves every address that can reach it; list the instruments' "
                       "addresses or CIDR blocks in " +
                       prefix + "allow instead");
    return Status::ok();
  }
  if (!c.allow.empty()) return Status::ok();
  return Status::config(prefix + "allow",
                        "missing: " + prefix + "listen = " + listen +
                            " is reachable from the network, so any host could send results; set " +
                            prefix +
                            "allow to the instruments' addresses or CIDR blocks (e.g. "
                            "10.1.4.0/24, 10.1.5.7), or to any to serve every address, or listen "
                            "on 127.0.0.1");
}

/// http.max_connections, http.*_timeout_seconds, https.hsts_max_age_seconds (see HttpLimits).
Status parseHttpLimits(const std::map<std::string, std::string>& keys, HttpLimits& limits) {
  struct NumberKey {
    const char* key;
    int64_t low, high;
    int64_t value;
  };
  NumberKey numbers[] = {
      {"http.max_connections", 8, 4096, limits.maxConnections},
      {"http.request_head_timeout_seconds", 1, 3600, limits.headTimeoutSeconds},
      {"http.request_body_timeout_seconds", 1, 86400, limits.bodyTimeoutSeconds},
      {"http.keep_alive_timeout_seconds", 1, 3600, limits.keepAliveTimeoutSeconds},
      {"https.hsts_max_age_seconds", 0, int64_t{2} * 365 * 86400, limits.hstsMaxAgeSeconds}};
  for (NumberKey& n : numbers) {
    auto it = keys.find(n.key);
    if (it == keys.end()) continue;
    Status status = parseInteger(n.key, it->second, n.low, n.high, n.value);
    if (!status.isOk()) return status;
  }
  limits.maxConnections = static_cast<int>(numbers[0].value);
  limits.headTimeoutSeconds = static_cast<int>(numbers[1].value);
  limits.bodyTimeoutSeconds = static_cast<int>(numbers[2].value);
  limits.keepAliveTimeoutSeconds = static_cast<int>(numbers[3].value);
  limits.hstsMaxAgeSeconds = numbers[4].value;
  return Status::ok();
}

/// audit.forwarder.NAME.* of one forwarder listed in audit.forward (docs/audit.md).
Status parseAuditForwarder(const std::string& name, KeyValues keys, AuditForwarderSettings& f) {
  const std::string prefix = "audit.forwarder." + name + ".";
  f.name = name;
  auto take = [&](const std::string& key) {
    auto it = keys.find(key);
    if (it == keys.end()) return std::string();
    std::string value = it->second;
    keys.erase(it);
    return value;
  };
  f.kind = take("kind");
  if (f.kind.empty())
    return Status::config(prefix + "kind", "missing (syslog, https-json or file)");
  if (f.kind != "syslog" && f.kind != "https-json" && f.kind != "file") {
    return Status::config(prefix + "kind",
                          "must be syslog, https-json or file, got \"" + f.kind + "\"");
  }
  struct NumberKey {
    const char* key;
    int64_t low, high;
    int64_t value;
  };
  NumberKey numbers[] = {{"batch_size", 1, 10000, f.batchSize},
                         {"timeout_seconds", 1, 600, f.timeoutSeconds},
                         {"retry_initial_ms", 10, 3600000, f.retryInitialMillis},
                         {"retry_max_ms", 10, 86400000, f.retryMaxMillis}};
  for (NumberKey& n : numbers) {
    std::string text = take(n.key);
    if (text.empty()) continue;
    if (Status s = parseInteger(prefix + n.key, text, n.low, n.high, n.value); !s.isOk()) return s;
  }
  f.batchSize = static_cast<int>(numbers[0].value);
  f.timeoutSeconds = numbers[1].value;
  f.retryInitialMillis = numbers[2].value;
  f.retryMaxMillis = numbers[3].value;
  if (f.retryMaxMillis < f.retryInitialMillis) {
    return Status::config(prefix + "retry_max_ms", "must not be below retry_initial_ms");
  }
  f.ca = take("ca");
  f.cert = take("cert");
  f.key = take("key");
  if (f.cert.empty() != f.key.empty()) {
    return Status::config(prefix + (f.cert.empty() ? "cert" : "key"),
                          "missing: a client certificate needs both cert and key");
  }
  bool usesTls = false;
  if (f.kind == "syslog") {
    const std::string address = take("address");
    if (address.empty()) {
      return Status::config(prefix + "address", "missing (host:port of the syslog receiver)");
    }
    if (Status s = parseHostPort(prefix + "address", address, f.host, f.port); !s.isOk()) return s;
    const std::string tls = take("tls");
    if (!tls.empty() && tls != "true" && tls != "false") {
      return Status::config(prefix + "tls", "must be true or false");
    }
    f.tls = tls == "true";
    usesTls = f.tls;
    if (!f.tls && !isLoopback(f.host)) {
      return Status::config(prefix + "tls",
                            "must be true: the audit trail leaves this machine for " + f.host +
                                " only over TLS (RFC 5425)");
    }
    const std::string facility = take("facility");
    if (!facility.empty()) {
      int64_t value = 0;
      if (Status s = parseInteger(prefix + "facility", facility, 0, 23, value); !s.isOk()) return s;
      f.facility = static_cast<int>(value);
    }
  } else if (f.kind == "https-json") {
    f.url = take("url");
    if (f.url.empty()) return Status::config(prefix + "url", "missing (https://host/path)");
    Poco::URI uri;
    try {
      uri = Poco::URI(f.url);
    } catch (const Poco::Exception&) {
      return Status::config(prefix + "url", "not a URL: \"" + f.url + "\"");
    }
    if (uri.getHost().empty() || (uri.getScheme() != "https" && uri.getScheme() != "http")) {
      return Status::config(prefix + "url", "must be https://host[:port]/path");
    }
    if (uri.getScheme() == "http" && !isLoopback(uri.getHost())) {
      return Status::config(prefix + "url",
                            "must be https: the audit trail leaves this machine for " +
                                uri.getHost() + " only over TLS");
    }
    usesTls = uri.getScheme() == "https";
    f.authorizationFile = take("authorization_file");
  } else {
    f.path = take("path");
    if (f.path.empty()) return Status::config(prefix + "path", "missing (the JSON-lines file)");
    int64_t maxBytes = f.maxBytes, keep = f.keep;
    std::string text = take("max_bytes");
    if (!text.empty()) {
      if (Status s = parseInteger(prefix + "max_bytes", text, 4096, int64_t{1} << 40, maxBytes);
          !s.isOk()) {
        return s;
      }
    }
    text = take("keep");
    if (!text.empty()) {
      if (Status s = parseInteger(prefix + "keep", text, 1, 1000, keep); !s.isOk()) return s;
    }
    f.maxBytes = maxBytes;
    f.keep = static_cast<int>(keep);
  }
  if (!usesTls && (!f.ca.empty() || !f.cert.empty())) {
    return Status::config(prefix + (f.ca.empty() ? "cert" : "ca"),
                          "only for a forwarder that uses TLS");
  }
  if (!keys.empty()) {
    return Status::config(prefix + keys.begin()->first,
                          "unknown key for a " + f.kind + " audit forwarder");
  }
  return Status::ok();
}
/// signatures.*: the electronic-signature policy (docs/signatures.md). Every key is checked: an
/// unknown one, a bad boolean or an unknown permission names the key.
Status parseSignaturePolicy(const std::map<std::string, std::string>& keys,
                            api::SignaturePolicy& policy) {
  auto flag = [&](const std::string& key, bool& out) -> Status {
    auto it = keys.find(key);
    if (it == keys.end()) return Status::ok();
    if (it->second != "true" && it->second != "false") {
      return Status::config(key, "must be true or false; got \"" + it->second + "\"");
    }
    out = it->second == "true";
    return Status::ok();
  };
  for (const auto& [key, out] : std::initializer_list<std::pair<const char*, bool*>>{
           {"signatures.review_before_approval", &policy.reviewBeforeApproval},
           {"signatures.distinct_signers", &policy.distinctSigners},
           {"signatures.mapping_activation", &policy.mappingActivation},
           {"signatures.rule_set_changes", &policy.ruleSetChanges}}) {
    if (Status s = flag(key, *out); !s.isOk()) return s;
  }
  if (auto it = keys.find("signatures.send_rejected"); it != keys.end()) {
    if (it->second != "never" && it->second != "cancelled") {
      return Status::config("signatures.send_rejected",
                            "must be never or cancelled; got \"" + it->second + "\"");
    }
    policy.sendRejectedCancelled = it->second == "cancelled";
  }
  if (auto it = keys.find("signatures.meanings"); it != keys.end()) {
    for (const std::string& meaning : splitList(it->second)) {
      bool word = !meaning.empty() && meaning.size() <= 40;
      for (char c : meaning) {
        word = word && ((c >= 'a' && c <= 'z') || c == '-');
      }
      if (!word) {
        return Status::config("signatures.meanings",
                              "a meaning is a lower-case word (a-z and -), at most 40 characters; "
                              "got \"" +
                                  meaning + "\"");
      }
      if (policy.meanings.count(meaning) == 0) policy.meanings[meaning] = "results.review";
    }
  }
  const std::string prefix = "signatures.meaning.";
  const std::string suffix = ".permission";
  for (const auto& [key, value] : keys) {
    if (key.rfind("signatures.", 0) != 0) continue;
    if (key.rfind(prefix, 0) != 0) {
      static const std::set<std::string> kKnown = {
          "signatures.review_before_approval", "signatures.distinct_signers",
          "signatures.mapping_activation",     "signatures.rule_set_changes",
          "signatures.send_rejected",          "signatures.meanings"};
      if (kKnown.count(key) == 0) return Status::config(key, "unknown key");
      continue;
    }
    if (key.size() <= prefix.size() + suffix.size() ||
        key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0) {
      return Status::config(key, "unknown key (signatures.meaning.NAME.permission = PERMISSION)");
    }
    const std::string meaning =
        key.substr(prefix.size(), key.size() - prefix.size() - suffix.size());
    if (policy.meanings.count(meaning) == 0) {
      return Status::config(key, "\"" + meaning +
                                     "\" is not a meaning (built in: reviewed, approved, rejected, "
                                     "rerun-requested; add others to signatures.meanings)");
    }
    if (api::allPermissions().count(value) == 0) {
      return Status::config(key, "\"" + value + "\" is not a permission");
    }
    policy.meanings[meaning] = value;
  }
  return Status::ok();
}

// ---- cross-key checks of issue 14 (a key given twice, two listeners on one address) ----

/// The keys of a Java-properties file as written, in order, with their line numbers: comment
/// lines (# or !) and blank lines skipped, continuation lines (a line ending in an odd number of
/// backslashes continues the value) not taken as keys, the key being what precedes the first
/// unescaped '=' or ':' (trimmed), as Poco's PropertyFileConfiguration reads it.
std::vector<std::pair<std::string, int>> keysAsWritten(std::istream& in) {
  std::vector<std::pair<std::string, int>> keys;
  std::string line;
  int number = 0;
  bool continued = false;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t trailing = 0;
    while (trailing < line.size() && line[line.size() - 1 - trailing] == '\\') ++trailing;
    const bool continues = trailing % 2 == 1;
    if (continued) {
      continued = continues;
      continue;
    }
    const std::string text = trim(line);
    if (text.empty() || text[0] == '#' || text[0] == '!') continue;  // a comment never continues
    continued = continues;
    std::string key;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\\' && i + 1 < text.size()) {
        key += text[++i];
        continue;
      }
      if (text[i] == '=' || text[i] == ':') break;
      key += text[i];
    }
    keys.emplace_back(trim(key), number);
  }
  return keys;
}

/// A key given twice in the file: Poco keeps the last silently, which hides a mistake (an old
/// value left further down, a copied block). Refused naming the key and both lines.
Status checkRepeatedKeys(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::ok();  // Poco's own reading reports an unreadable file
  std::map<std::string, int> firstLine;
  for (const auto& [key, line] : keysAsWritten(in)) {
    auto [it, inserted] = firstLine.emplace(key, line);
    if (!inserted) {
      return Status::config(key, "given twice, on lines " + std::to_string(it->second) + " and " +
                                     std::to_string(line) +
                                     " (only the last would count); keep one of them");
    }
  }
  return Status::ok();
}

/// A listener's address as configured: the key, its text, and the parsed host and port.
struct ListenerAddress {
  std::string key;
  std::string text;
  std::string host;
  uint16_t port = 0;
};

bool isWildcardHost(const std::string& host) {
  return host.empty() || host == "0.0.0.0" || host == "::" || host == "*";
}

/// Two listeners on one address (host:port, across http.listen, https.listen and every
/// connector's listen): the second cannot bind, and the engine would stop at start-up with an
/// "address in use" that does not say which keys collide. A wildcard host (0.0.0.0, ::) takes its
/// port on every address, so it clashes with any listener on the same port.
Status checkListenerClashes(const EngineConfig& config) {
  std::vector<ListenerAddress> listeners;
  listeners.push_back({"http.listen", config.httpHost + ":" + std::to_string(config.httpPort),
                       config.httpHost, config.httpPort});
  if (!config.httpsHost.empty()) {
    listeners.push_back({"https.listen", config.httpsHost + ":" + std::to_string(config.httpsPort),
                         config.httpsHost, config.httpsPort});
  }
  for (const ConnectorConfig& c : config.connectors) {
    auto it = c.keys.find("listen");
    if (it == c.keys.end()) continue;
    ListenerAddress l{"connector." + c.name + ".listen", it->second, "", 0};
    // A value that does not parse is left to the connector's own check, which names it.
    if (!parseHostPort(l.key, l.text, l.host, l.port).isOk()) continue;
    listeners.push_back(std::move(l));
  }
  for (ListenerAddress& l : listeners) {
    l.host = lowered(l.host);
    if (l.host == "localhost") l.host = "127.0.0.1";
  }
  for (size_t i = 0; i < listeners.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      const ListenerAddress& a = listeners[j];
      const ListenerAddress& b = listeners[i];
      if (a.port == 0 || a.port != b.port) continue;
      if (a.host != b.host && !isWildcardHost(a.host) && !isWildcardHost(b.host)) continue;
      return Status::config(b.key, b.text + " is the address " + a.key + " (" + a.text +
                                       ") already listens on: two listeners cannot share a "
                                       "port on one address; give one of them another port");
    }
  }
  return Status::ok();
}

}  // namespace

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = trim(text.substr(start, comma - start));
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

StatusOr<EngineConfig> loadEngineConfig(const std::string& path) {
  if (!Poco::File(path).exists()) return Status::notFound(path, "configuration file not found");
  std::map<std::string, std::string> keys;
  try {
    Poco::AutoPtr<Poco::Util::PropertyFileConfiguration> file(
        new Poco::Util::PropertyFileConfiguration(path));
    collectKeys(*file, "", keys);
  } catch (const Poco::Exception& e) {
    return Status::config(path, "cannot read: " + e.displayText());
  }
  StatusOr<EngineConfig> config = parseEngineConfig(keys);
  if (Status repeated = checkRepeatedKeys(path); !repeated.isOk()) config = repeated;
  if (!config.isOk()) {
    const Status& s = config.status();
    return Status::config(path + ": " + s.location(), s.reason());
  }
  return config;
}

StatusOr<EngineConfig> parseEngineConfig(const std::map<std::string, std::string>& keys) {
  EngineConfig config;
  auto get = [&](const std::string& key, const std::string& fallback) {
    auto it = keys.find(key);
    return it == keys.end() ? fallback : it->second;
  };

  config.dataDir = get("data.dir", config.dataDir);
  if (config.dataDir.empty()) return Status::config("data.dir", "must not be empty");
  config.storeUrl = get("store.url", "");
  config.storePasswordFile = get("store.password_file", "");
  if (config.storeUrl.empty() && !config.storePasswordFile.empty()) {
    return Status::config("store.password_file",
                          "is set but store.url is not: the password is for a PostgreSQL store; "
                          "set store.url or remove this key");
  }
  if (!config.storeUrl.empty()) {
    StatusOr<PostgresTarget> target = parseStoreUrl(config.storeUrl, config.storePasswordFile);
    if (!target.isOk()) return target.status();
  }
  config.nodeId = get("node.id", Poco::Environment::nodeName());
  if (config.nodeId.empty() || config.nodeId.size() > 64 ||
      config.nodeId.find_first_of(" \t\r\n\"'") != std::string::npos) {
    return Status::config("node.id", "\"" + config.nodeId.substr(0, 64) +
                                         "\" is not a node name: 1 to 64 characters, no spaces "
                                         "or quotes (default: the host name)");
  }
  {
    const std::string text = get("node.lease_seconds", "15");
    int64_t seconds = 0;
    if (!Poco::NumberParser::tryParse64(text, seconds) || seconds < 3 || seconds > 600) {
      return Status::config(
          "node.lease_seconds",
          "\"" + text + "\" is not a number of seconds from 3 to 600 (default 15)");
    }
    config.leaseSeconds = seconds;
  }
  Status status = parseHostPort("http.listen", get("http.listen", "127.0.0.1:8480"),
                                config.httpHost, config.httpPort);
  if (!status.isOk()) return status;
  std::string allowRemote = get("http.allow_remote", "false");
  if (allowRemote != "true" && allowRemote != "false") {
    return Status::config("http.allow_remote", "must be true or false");
  }
  if (!isLoopback(config.httpHost) && allowRemote != "true") {
    return Status::config("http.listen",
                          "plain HTTP listens on loopback only (" + config.httpHost +
                              " is not); use https.listen with tls.cert and tls.key, or set "
                              "http.allow_remote = true behind a TLS-terminating proxy");
  }
  if (keys.count("https.listen")) {
    status =
        parseHostPort("https.listen", get("https.listen", ""), config.httpsHost, config.httpsPort);
    if (!status.isOk()) return status;
    if (!keys.count("tls.cert") || !keys.count("tls.key")) {
      return Status::config(keys.count("tls.cert") ? "tls.key" : "tls.cert",
                            "missing (https.listen is set)");
    }
  } else if (keys.count("tls.cert") || keys.count("tls.key") || keys.count("tls.ca")) {
    return Status::config("https.listen", "missing (tls.* keys are set)");
  }
  for (const char* k : {"tls.cert", "tls.key", "tls.ca"}) {
    if (keys.count(k)) config.tlsKeys[k] = get(k, "");
  }
  status = parseHttpLimits(keys, config.httpLimits);
  if (!status.isOk()) return status;
  if (auto it = keys.find("export.window_results"); it != keys.end()) {
    // Batch exports in bounded memory (ADR 0017); 0 holds every file whole.
    int64_t window = 0;
    status = parseInteger("export.window_results", it->second, 0, 100000000, window);
    if (!status.isOk()) return status;
    config.exportWindowResults = static_cast<size_t>(window);
  }
  config.phiPatterns = get("phi.patterns", config.phiPatterns);
  config.consoleDir = get("console.dir", "");
  if (!config.consoleDir.empty() && !std::ifstream(config.consoleDir + "/index.html")) {
    return Status::config("console.dir", config.consoleDir +
                                             " has no readable index.html: build the console "
                                             "into it (node console/web/build.mjs --outdir " +
                                             config.consoleDir + ") or remove the key");
  }
  config.logLevel = get("log.level", config.logLevel);
  if (!kLogLevels.count(config.logLevel)) {
    return Status::config("log.level",
                          "must be one of fatal, critical, error, warning, notice, "
                          "information, debug, trace; got \"" +
                              config.logLevel + "\"");
  }
  config.logFile = get("log.file", config.dataDir + "/logs/labgated.log");
  std::string console = get("log.console", "true");
  if (console != "true" && console != "false") {
    return Status::config("log.console", "must be true or false");
  }
  config.logConsole = console == "true";
  config.logFormat = get("log.format", config.logFormat);
  if (config.logFormat != "text" && config.logFormat != "json") {
    return Status::config("log.format", "must be text or json, got \"" + config.logFormat + "\"");
  }
  config.logRotation = get("log.rotation", config.logRotation);
  if (!validRotation(config.logRotation)) {
    return Status::config("log.rotation",
                          "expected never, daily, weekly, monthly, hh:mm, N (bytes), N K, N M or "
                          "N minutes|hours|days|weeks|months; got \"" +
                              config.logRotation + "\"");
  }
  config.logKeep = get("log.keep", config.logKeep);
  if (!validKeep(config.logKeep)) {
    return Status::config("log.keep",
                          "expected a number of archives, N seconds|minutes|hours|days|weeks|"
                          "months, or none; got \"" +
                              config.logKeep + "\"");
  }

  // security.*: sessions, lockout, passwords.
  api::SecuritySettings& sec = config.security;
  struct NumberKey {
    const char* key;
    int64_t low, high;
    int64_t* out;
  };
  int64_t memoryKib = sec.argon2.memoryKib, iterations = sec.argon2.iterations,
          parallelism = sec.argon2.parallelism;
  for (const NumberKey& n : std::initializer_list<NumberKey>{
           {"security.session.idle_seconds", 1, 86400, &sec.idleSeconds},
           {"security.session.absolute_seconds", 1, 30 * 86400, &sec.absoluteSeconds},
           {"security.lockout.attempts", 0, 100000, &sec.lockoutAttempts},
           {"security.throttle.free_attempts", 0, 1000, &sec.throttle.freeAttempts},
           {"security.throttle.source_free_attempts", 0, 100000, &sec.throttle.sourceFreeAttempts},
           {"security.throttle.delay_seconds", 1, 3600, &sec.throttle.delaySeconds},
           {"security.throttle.max_delay_seconds", 1, 86400, &sec.throttle.maxDelaySeconds},
           {"security.lockout.seconds", 1, 365 * 86400, &sec.lockoutSeconds},
           {"security.password.min_length", 8, 128, &sec.minPasswordLength},
           {"security.argon2.memory_kib", 8, 4 << 20, &memoryKib},
           {"security.argon2.iterations", 1, 100, &iterations},
           {"security.argon2.parallelism", 1, 64, &parallelism}}) {
    if (keys.count(n.key)) {
      status = parseInteger(n.key, get(n.key, ""), n.low, n.high, *n.out);
      if (!status.isOk()) return status;
    }
  }
  sec.argon2.memoryKib = static_cast<uint32_t>(memoryKib);
  sec.argon2.iterations = static_cast<uint32_t>(iterations);
  sec.argon2.parallelism = static_cast<uint32_t>(parallelism);
  sec.blocklistPath = get("security.password.blocklist", "");
  if (sec.throttle.maxDelaySeconds < sec.throttle.delaySeconds) {
    return Status::config("security.throttle.max_delay_seconds",
                          "must not be below security.throttle.delay_seconds");
  }
  if (sec.absoluteSeconds < sec.idleSeconds) {
    return Status::config("security.session.absolute_seconds",
                          "must not be below security.session.idle_seconds");
  }

  config.keyFile = get("security.key_file", "");
  config.previousKeyFile = get("security.previous_key_file", "");
  StatusOr<BackupSettings> backup = parseBackupSettings(keys);
  if (!backup.isOk()) return backup.status();
  config.backup = backup.value();
  if (config.backup.schedule.on() && !config.storeUrl.empty()) {
    return Status::config("backup.schedule",
                          "is for the SQLite store; this store is on PostgreSQL (store.url): "
                          "set backup.schedule = off and back the database up with pg_dump or "
                          "pg_basebackup (docs/deployment.md)");
  }
  if (config.backup.schedule.on() && config.keyFile.empty()) {
    return Status::config("backup.schedule",
                          "needs security.key_file: backups are always encrypted");
  }
  StatusOr<RetentionSettings> retention = parseRetentionSettings(keys);
  if (!retention.isOk()) return retention.status();
  config.retention = retention.value();
  if (config.retention.on() && config.retention.archiveRequired && config.keyFile.empty()) {
    config.warnings.push_back(
        "retention.body_days/peak_days are set with retention.archive_required = true but "
        "security.key_file is not: archives are always encrypted, so none can be written and the "
        "engine prunes nothing (set security.key_file, or retention.archive_required = false)");
  }

  if (Status s = parseSignaturePolicy(keys, config.security.signatures); !s.isOk()) return s;
  if (const std::string reason = get("audit.change_reason", "optional");
      reason == "required" || reason == "optional") {
    config.security.changeReasonRequired = reason == "required";
  } else {
    return Status::config("audit.change_reason",
                          "must be optional or required; got \"" + reason + "\"");
  }

  std::vector<std::string> connectorNames = splitList(get("connectors", ""));
  std::vector<std::string> destinationNames = splitList(get("destinations", ""));
  std::set<std::string> connectorSet, destinationSet;
  for (const auto& name : connectorNames) {
    if (Status s = checkName("connectors", name); !s.isOk()) return s;
    if (!connectorSet.insert(name).second) {
      return Status::config("connectors", "\"" + name + "\" is listed twice");
    }
  }
  for (const auto& name : destinationNames) {
    if (Status s = checkName("destinations", name); !s.isOk()) return s;
    if (!destinationSet.insert(name).second) {
      return Status::config("destinations", "\"" + name + "\" is listed twice");
    }
  }

  std::vector<std::string> forwarderNames = splitList(get("audit.forward", ""));
  std::set<std::string> forwarderSet;
  for (const auto& name : forwarderNames) {
    if (Status s = checkName("audit.forward", name); !s.isOk()) return s;
    if (!forwarderSet.insert(name).second) {
      return Status::config("audit.forward", "\"" + name + "\" is listed twice");
    }
  }
  std::map<std::string, KeyValues> forwarderKeys;

  // Every key must be top-level, or belong to a listed connector, destination or forwarder.
  std::map<std::string, KeyValues> connectorKeys, destinationKeys;
  for (const auto& [key, value] : keys) {
    if (kTopLevelKeys.count(key)) continue;
    if (key.rfind("log.level.", 0) == 0) {
      const std::string component = key.substr(10);
      for (char c : component) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
          return Status::config(key, "a logger name holds only letters, digits, -, _ and .");
        }
      }
      if (component.empty() || component.front() == '.' || component.back() == '.') {
        return Status::config(key, "unknown key (per component: log.level.NAME = level)");
      }
      if (!kLogLevels.count(value)) {
        return Status::config(key,
                              "must be one of fatal, critical, error, warning, notice, "
                              "information, debug, trace; got \"" +
                                  value + "\"");
      }
      config.logLevels[component] = value;
      continue;
    }
    if (key.rfind("signatures.", 0) == 0) continue;  // parseSignaturePolicy
    if (key.rfind("role.", 0) == 0) {
      const std::string suffix = ".permissions";
      if (key.size() <= 5 + suffix.size() ||
          key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0) {
        return Status::config(key, "unknown key (custom roles: role.NAME.permissions = a, b)");
      }
      config.security.customRoles[key.substr(5, key.size() - 5 - suffix.size())] = splitList(value);
      continue;
    }
    if (key.rfind("audit.forwarder.", 0) == 0) {
      const size_t nameStart = 16;
      const size_t nameEnd = key.find('.', nameStart);
      if (nameEnd == std::string::npos || nameEnd == nameStart || nameEnd + 1 == key.size()) {
        return Status::config(key, "unknown key (audit.forwarder.NAME.kind = ...)");
      }
      const std::string name = key.substr(nameStart, nameEnd - nameStart);
      if (!forwarderSet.count(name)) {
        return Status::config(key,
                              "audit forwarder \"" + name + "\" is not listed in audit.forward");
      }
      forwarderKeys[name][key.substr(nameEnd + 1)] = value;
      continue;
    }
    bool isConnector = key.rfind("connector.", 0) == 0;
    bool isDestination = key.rfind("destination.", 0) == 0;
    if (!isConnector && !isDestination) return Status::config(key, "unknown key");
    size_t nameStart = key.find('.') + 1;
    size_t nameEnd = key.find('.', nameStart);
    if (nameEnd == std::string::npos) return Status::config(key, "unknown key");
    std::string name = key.substr(nameStart, nameEnd - nameStart);
    std::string rest = key.substr(nameEnd + 1);
    if (isConnector) {
      if (!connectorSet.count(name)) {
        return Status::config(key, "connector \"" + name + "\" is not listed in connectors");
      }
      connectorKeys[name][rest] = value;
    } else {
      if (!destinationSet.count(name)) {
        return Status::config(key, "destination \"" + name + "\" is not listed in destinations");
      }
      destinationKeys[name][rest] = value;
    }
  }

  for (const auto& name : forwarderNames) {
    AuditForwarderSettings f;
    if (Status s = parseAuditForwarder(name, forwarderKeys[name], f); !s.isOk()) return s;
    config.auditForwarders.push_back(std::move(f));
  }

  for (const auto& name : destinationNames) {
    DestinationConfig d;
    d.name = name;
    d.keys = destinationKeys[name];
    const std::string prefix = "destination." + name + ".";
    d.kind = d.keys.count("kind") ? d.keys["kind"] : "";
    if (d.keys.count("org") && !d.keys["org"].empty()) d.orgId = d.keys["org"];
    if (d.kind.empty()) return Status::config(prefix + "kind", "missing (e.g. hl7-mllp)");
    if (d.keys.count("retry_initial_ms")) {
      status = parseInteger(prefix + "retry_initial_ms", d.keys["retry_initial_ms"], 10, 3600000,
                            d.retryInitialMillis);
      if (!status.isOk()) return status;
    }
    if (d.keys.count("retry_max_ms")) {
      status = parseInteger(prefix + "retry_max_ms", d.keys["retry_max_ms"], 10, 86400000,
                            d.retryMaxMillis);
      if (!status.isOk()) return status;
    }
    if (d.retryMaxMillis < d.retryInitialMillis) {
      return Status::config(prefix + "retry_max_ms", "must not be below retry_initial_ms");
    }
    if (d.keys.count("pipeline_depth")) {
      status = parseInteger(prefix + "pipeline_depth", d.keys["pipeline_depth"], 0, 1024,
                            d.pipelineDepth);
      if (!status.isOk()) return status;
    }
    config.destinations.push_back(std::move(d));
  }

  for (const auto& name : connectorNames) {
    ConnectorConfig c;
    c.name = name;
    c.keys = connectorKeys[name];
    const std::string prefix = "connector." + name + ".";
    auto value = [&](const std::string& key) {
      auto it = c.keys.find(key);
      return it == c.keys.end() ? std::string() : it->second;
    };
    c.kind = value("kind");
    if (c.kind.empty()) return Status::config(prefix + "kind", "missing (e.g. astm-tcp)");
    c.instrument = value("instrument").empty() ? name : value("instrument");
    if (!value("org").empty()) c.orgId = value("org");
    c.rulesPath = value("rules");
    c.mappingsPath = value("mappings");
    c.mappingSet = value("mapping_set");
    if (!c.mappingsPath.empty() && !c.mappingSet.empty()) {
      return Status::config(prefix + "mappings",
                            "and " + prefix +
                                "mapping_set are both set: give one (a CSV file, or the name of "
                                "a mapping set stored in the database)");
    }
    if (c.mappingsPath.empty() && c.mappingSet.empty()) {
      return Status::config(prefix + "mappings",
                            "missing (the mapping CSV for this instrument), or " + prefix +
                                "mapping_set (a mapping set stored in the database)");
    }
    if (!c.mappingSet.empty() && !isMappingSetName(c.mappingSet)) {
      return Status::config(prefix + "mapping_set",
                            "\"" + c.mappingSet +
                                "\" is not a mapping set name (1 to 64 letters, digits, '.', '_' "
                                "or '-', not starting with '.')");
    }
    c.phiPolicy = value("phi.policy").empty() ? "refuse" : value("phi.policy");
    if (c.phiPolicy != "refuse" && c.phiPolicy != "strip") {
      return Status::config(prefix + "phi.policy",
                            "must be refuse or strip, got \"" + c.phiPolicy + "\"");
    }
    if (Status allow = parseConnectorAllow(prefix, value("allow"), c); !allow.isOk()) {
      return allow;
    }
    if (Status listen = checkListenExposure(prefix, value("listen"), c, config.warnings);
        !listen.isOk()) {
      return listen;
    }
    c.destinations = splitList(value("destinations"));
    for (const auto& d : c.destinations) {
      if (!destinationSet.count(d)) {
        return Status::config(prefix + "destinations",
                              "\"" + d + "\" is not listed in destinations");
      }
      for (const auto& dc : config.destinations) {
        if (dc.name == d && dc.orgId != c.orgId) {
          return Status::config(prefix + "destinations",
                                "\"" + d + "\" belongs to organisation \"" + dc.orgId +
                                    "\", this connector to \"" + c.orgId +
                                    "\": results never cross organisations");
        }
      }
    }
    config.connectors.push_back(std::move(c));
  }
  if (Status clash = checkListenerClashes(config); !clash.isOk()) return clash;
  // A mapping file is stored as the set of its name: two different files of one organisation
  // must not become versions of the same set, each undoing the other at every start.
  for (size_t i = 0; i < config.connectors.size(); ++i) {
    const ConnectorConfig& a = config.connectors[i];
    for (size_t j = 0; j < i && !a.mappingsPath.empty(); ++j) {
      const ConnectorConfig& b = config.connectors[j];
      if (b.orgId != a.orgId || b.mappingsPath.empty() || b.mappingsPath == a.mappingsPath) {
        continue;
      }
      const std::string set = mappingSetNameOfFile(a.mappingsPath);
      if (set == mappingSetNameOfFile(b.mappingsPath)) {
        return Status::config("connector." + a.name + ".mappings",
                              a.mappingsPath + " and " + b.mappingsPath + " (connector." + b.name +
                                  ".mappings) would both be stored as mapping set \"" + set +
                                  "\": give the files different names, or name the same file");
      }
    }
  }
  return config;
}

}  // namespace labgate
