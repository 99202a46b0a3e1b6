// EngineConfig: the engine's configuration file read, checked and turned into values. Every
// key is known here or by the connector kind it belongs to; an unknown key, a bad value or a
// missing file stops start-up with a message naming the key or file and what is wrong.
// Relative paths are taken from the working directory.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/api/api.h"
#include "engine/model/status.h"
#include "engine/net/audit_forwarder.h"
#include "engine/net/http_server.h"
#include "engine/net/interfaces.h"
#include "engine/security/cidr.h"
#include "engine/service/backup_settings.h"
#include "engine/service/retention_settings.h"

namespace labgate {

struct ConnectorConfig {
  std::string name;
  std::string kind;
  std::string instrument;
  std::string orgId = "default";
  std::string mappingsPath;
  // connector.NAME.mapping_set: a set stored in the database (else mappingsPath, a CSV file
  // stored as the set of its name).
  std::string mappingSet;
  std::string rulesPath;  // connector.NAME.rules: the rule set (config/rules/*.json); "" = none
  std::vector<std::string> destinations;
  std::string phiPolicy = "refuse";
  security::AllowList allow;  // connector.NAME.allow; empty = any address
  bool allowAny = false;      // connector.NAME.allow = any: every address, on purpose
  KeyValues keys;             // everything under connector.NAME., for the connector's own factory
};

struct DestinationConfig {
  std::string name;
  std::string kind;
  std::string orgId = "default";  // destination.NAME.org
  int64_t retryInitialMillis = 1000;
  int64_t retryMaxMillis = 60000;
  /// destination.NAME.pipeline_depth: acknowledged outcomes that may wait for their commit while
  /// the next message is sent (engine/net/delivery_worker.h PipelineOptions).
  int64_t pipelineDepth = 32;
  KeyValues keys;
};

struct EngineConfig {
  std::string dataDir = "var";
  /// store.url (empty: SQLite under data.dir) and store.password_file (engine/store/store_url.h).
  std::string storeUrl;
  std::string storePasswordFile;
  /// node.id: this engine's name among the nodes sharing a PostgreSQL store (leases, /health);
  /// default the host name.
  std::string nodeId;
  /// node.lease_seconds: how long a node's delivery lease lasts without renewal (ADR 0021).
  int64_t leaseSeconds = 15;
  std::string configDir = ".";  // the configuration file's folder: export layouts are found from it
  std::string httpHost = "127.0.0.1";
  uint16_t httpPort = 8480;
  std::string httpsHost;  // empty: no HTTPS listener
  uint16_t httpsPort = 0;
  KeyValues tlsKeys;  // tls.cert, tls.key, tls.ca for https.listen
  // http.max_connections, http.*_timeout_seconds, https.hsts_max_age_seconds
  HttpLimits httpLimits;
  /// export.window_results: a batch export larger than this many results is judged and stored
  /// window by window in bounded memory (ADR 0017); 0 holds every file whole.
  size_t exportWindowResults = 20000;
  std::string phiPatterns = "config/phi-patterns.json";
  std::string
      consoleDir;  // console.dir: serve the browser console from this folder (empty: built in)
  std::string logLevel = "information";
  std::string logFile;  // default <data.dir>/logs/labgated.log
  bool logConsole = true;
  std::string logFormat = "text";                // log.format: text | json (one object per line)
  std::string logRotation = "10 M";              // log.rotation: Poco FileChannel rotation
  std::string logKeep = "10";                    // log.keep: archives kept, or their maximum age
  std::map<std::string, std::string> logLevels;  // log.level.COMPONENT = level
  std::vector<ConnectorConfig> connectors;
  std::vector<DestinationConfig> destinations;
  api::SecuritySettings security;  // security.* and role.NAME.permissions
  std::string keyFile;             // security.key_file
  std::string previousKeyFile;     // security.previous_key_file
  BackupSettings backup;           // backup.*
  RetentionSettings retention;     // retention.* (issue 17)
  /// audit.forward = NAME, ... and audit.forwarder.NAME.* (docs/audit.md), in listed order.
  std::vector<AuditForwarderSettings> auditForwarders;
  /// Accepted but worth an operator's attention (e.g. connector.NAME.allow = any on a network
  /// address): logged at start-up, printed by --check-config.
  std::vector<std::string> warnings;
};

/// Reads a Java-properties file. Errors name the file or the key.
StatusOr<EngineConfig> loadEngineConfig(const std::string& path);
/// Checks and converts already-read key/value pairs (the file's whole content).
StatusOr<EngineConfig> parseEngineConfig(const std::map<std::string, std::string>& keys);

/// Splits "a, b,c" into {"a","b","c"}; empty items dropped.
std::vector<std::string> splitList(const std::string& text);

}  // namespace labgate
