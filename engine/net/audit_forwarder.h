// Audit forwarding (docs/audit.md): the audit trail leaves LabGate for the lab's log system as it
// happens. One AuditForwarder per audit.forwarder.NAME reads the events after its durable cursor
// (AuditLog, table audit_forward_cursors), hands them in order to its sink, and moves the cursor
// only after the sink took them: at least once, nothing lost across restarts, kills and receiver
// outages (a batch sent when the engine died is sent again). Every event carries its sequence
// number and chain hash, so a receiver sees a gap and can recompute the chain.
// Sinks: syslog (RFC 5424 over TCP, octet-counting framing of RFC 6587, TLS per RFC 5425),
// https-json (a batched POST of a JSON array) and file (JSON lines, rotated by size).
#pragma once

#include <Poco/JSON/Object.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/model/status.h"
#include "engine/store/audit_log.h"

namespace labgate {

/// audit.forwarder.NAME.* as parsed (engine/service/config.cpp checks every key).
struct AuditForwarderSettings {
  std::string name;
  std::string kind;  // syslog | https-json | file
  // syslog
  std::string host;
  uint16_t port = 0;
  bool tls = false;
  int facility = 13;  // RFC 5424 facility: 13 = log audit
  // syslog with tls, https-json: CA to verify the receiver with (besides the system's); a client
  // certificate and key (PEM) when the receiver asks for one
  std::string ca, cert, key;
  // https-json
  std::string url;
  std::string authorizationFile;  // one line: the Authorization header's value ("" = none)
  // file
  std::string path;
  int64_t maxBytes = 10 * 1024 * 1024;
  int keep = 5;
  // every kind
  int batchSize = 100;
  int64_t timeoutSeconds = 10;
  int64_t retryInitialMillis = 1000;
  int64_t retryMaxMillis = 60000;
};

/// Where a forwarder's events go. send() returns OK only once the receiver has them (as far as
/// the transport can tell); a failed send is repeated with the same events.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  virtual Status send(const std::vector<ChainedEvent>& events) = 0;
  /// Drops a connection (after a failure, or at stop).
  virtual void close() {}
};

/// The sink of `settings.kind`; Status::config naming the key when it cannot be made.
StatusOr<std::unique_ptr<AuditSink>> makeAuditSink(const AuditForwarderSettings& settings);

/// One event as an RFC 5424 message (without the RFC 6587 length prefix): PRI from the facility
/// and severity notice, the event's time, `hostname`, APP-NAME labgated, MSGID the action, the
/// structured data [labgate@32473 seq= hash= prev= org=], and the event as JSON (BOM first).
std::string syslogMessage(const ChainedEvent& event, int facility, const std::string& hostname);

class AuditForwarder {
 public:
  AuditForwarder(AuditForwarderSettings settings, std::unique_ptr<AuditSink> sink,
                 std::shared_ptr<AuditLog> log);
  ~AuditForwarder();
  AuditForwarder(const AuditForwarder&) = delete;
  AuditForwarder& operator=(const AuditForwarder&) = delete;

  void start();
  void stop();
  /// An event was written: look now instead of at the next poll.
  void wake();
  /// At a clean stop: waits (at most `timeoutMillis`) until every event up to `lastId` was
  /// forwarded, or the receiver fails. What is left goes at the next start.
  void flush(int64_t lastId, int64_t timeoutMillis);
  /// {"name","kind","state","forwarded","cursor","lag_events","oldest_age_seconds","last_error"}
  Poco::JSON::Object::Ptr health() const;

 private:
  void run();
  bool waitFor(int64_t millis);  // false when stopping

  AuditForwarderSettings settings_;
  std::unique_ptr<AuditSink> sink_;
  std::shared_ptr<AuditLog> log_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable progress_;  // the cursor moved or a send failed
  bool stopping_ = false;
  bool woken_ = false;
  std::string state_ = "idle";  // idle | forwarding | retrying
  std::string lastError_;
  int64_t cursor_ = 0;
  int64_t forwarded_ = 0;  // events sent since start
  std::thread thread_;
};

}  // namespace labgate
