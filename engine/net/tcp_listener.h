// TcpListener: the listening half every TCP connector needs, written once. Binds without port
// sharing (a second engine on the same port fails loudly: POCO-NOTES trap 1), serves each
// connection on a thread of its own pool (joined at stop: trap 7), and turns bind failures into a
// Status naming the connector's listen key.
//
// It also keeps idle peers from locking instruments out (issue 18, finding 2). Every accepted
// connection is tracked from the moment it is accepted (POCO's TCPServer queues the ones beyond
// max_connections, so the queued ones are tracked too) with the time of its last byte. A
// connection silent for idle_timeout_seconds outside a transfer is closed; a TLS handshake that
// has not completed within its own limit is closed; and when a new connection arrives while
// max_connections are taken, the one idle the longest is closed to make room for it. Closing is
// a shutdown() of the socket by the listener (under the lock that keeps the socket open), which
// wakes a connection thread whatever call it is blocked in; the connection then ends as it does
// when its peer hangs up. Each close is logged (logger "net", naming connector and peer) and
// counted (describeListener, then /metrics).
#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/ThreadPool.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "engine/model/document.h"
#include "engine/model/model.h"
#include "engine/model/status.h"
#include "engine/net/interfaces.h"

namespace labgate {

/// Why binding `host`:`port` failed, in words a person acts on: "cannot listen on H:P: the port is
/// in use by another program ..." (the common causes by name, else the socket library's text).
std::string listenFailure(const std::string& host, int port, const Poco::Exception& e);

/// The limits a TcpListener enforces on its connections.
struct ConnectionLimits {
  /// connector.NAME.max_connections: connections served at once.
  int maxConnections = 16;
  /// connector.NAME.idle_timeout_seconds: a served connection without a byte in either direction
  /// for this long, outside a transfer, is closed. 0: never closed for silence (eviction still
  /// applies).
  std::chrono::seconds idleTimeout{60};
  /// connector.NAME.tls_handshake_timeout_seconds: from the moment a connection is served, its TLS
  /// handshake must complete within this long.
  std::chrono::seconds handshakeTimeout{10};
};

class ConnectionTracker;   // tcp_listener.cpp
struct TrackedConnection;  // tcp_listener.cpp

/// A connection's place in its listener, held by the connection for as long as it runs (the
/// place is given up when the slot is destroyed). Connections report what the listener cannot
/// see on the socket: when bytes moved and whether a transfer is under way. Thread-safe.
class ConnectionSlot {
 public:
  ConnectionSlot(std::shared_ptr<ConnectionTracker> tracker, const Poco::Net::StreamSocket& socket);
  ~ConnectionSlot();
  ConnectionSlot(ConnectionSlot&& other) noexcept;
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;

  /// Bytes were received or sent: the idle clock starts again.
  void touch();
  /// While in a transfer (an ASTM session or unframed message, a partial MLLP frame) the idle
  /// rule does not apply: the protocol's own receive timeout does.
  void setInTransfer(bool inTransfer);
  /// A TLS handshake starts now: it is closed unless endHandshake() comes within the limit.
  void beginHandshake();
  void endHandshake();
  /// True once the listener has closed this connection (evicted, idle, handshake too slow).
  bool closedByListener() const;

 private:
  std::shared_ptr<ConnectionTracker> tracker_;
  std::shared_ptr<TrackedConnection> state_;
};

/// The connection factory a TcpListener takes: it gives every connection its ConnectionSlot.
class TrackingConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
 public:
  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) final {
    return create(socket, ConnectionSlot(tracker_, socket));
  }

 protected:
  virtual Poco::Net::TCPServerConnection* create(const Poco::Net::StreamSocket& socket,
                                                 ConnectionSlot slot) = 0;

 private:
  friend class TcpListener;
  std::shared_ptr<ConnectionTracker> tracker_;
};

/// What a listener closed or refused, for /health and /metrics.
struct ListenerCounters {
  int64_t closedIdle = 0;         // silent for idle_timeout_seconds outside a transfer
  int64_t evicted = 0;            // closed to make room for a new connection
  int64_t handshakeTimeouts = 0;  // TLS handshake not completed in time
  int64_t refusedFull = 0;        // refused: too many connections open or waiting
};

class TcpListener {
 public:
  /// `allow` (connector.NAME.allow): connections from other addresses are closed as soon as
  /// they are accepted, before any byte is read, and logged under `name`.
  explicit TcpListener(ConnectionLimits limits, security::AllowList allow = {},
                       std::string name = "");
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  /// Binds `socket` (plain or TLS) to host:port and starts serving connections made by
  /// `factory` (owned by the listener from now on). `key` names the listen key for errors.
  Status start(Poco::Net::ServerSocket socket, const std::string& host, uint16_t port,
               TrackingConnectionFactory* factory, const std::string& key);
  /// Stops accepting and waits for the connection threads (they must see their stop flag).
  void stop();
  bool running() const { return server_ != nullptr; }
  /// The port actually bound (differs from the configured one when that was 0).
  uint16_t boundPort() const { return boundPort_; }
  ListenerCounters counters() const;

 private:
  ConnectionLimits limits_;
  std::shared_ptr<ConnectionTracker> tracker_;
  Poco::ThreadPool pool_;
  std::unique_ptr<Poco::Net::TCPServer> server_;
  uint16_t boundPort_ = 0;
};

/// What every source counts, by pipeline outcome, and how /health shows it. Thread-safe.
struct IntakeCounters {
  std::atomic<int64_t> connections{0};
  std::atomic<int64_t> accepted{0};
  std::atomic<int64_t> duplicate{0};
  std::atomic<int64_t> refusedPhi{0};
  std::atomic<int64_t> invalid{0};
  std::atomic<int64_t> failed{0};

  void count(Intake::Outcome outcome);
  /// Sets connections, messages_accepted, messages_duplicate, messages_refused (PHI + invalid),
  /// messages_refused_phi, messages_invalid and messages_failed on `out`.
  void describe(Poco::JSON::Object& out) const;
};

/// Sets name, kind, state ("listening"/"stopped"), listen (host:bound port),
/// connections_closed_idle and connections_evicted on `out`.
void describeListener(Poco::JSON::Object& out, const std::string& name, const std::string& kind,
                      const TcpListener& listener, const std::string& host, uint16_t port);

/// Where and how widely a TCP source listens: the keys listen, max_connections and
/// idle_timeout_seconds.
struct ListenSettings {
  std::string host;
  uint16_t port = 0;
  int64_t maxConnections = 16;
  int64_t idleTimeoutSeconds = 60;
  bool haveListen = false;

  /// Takes `key` if it is listen, max_connections, idle_timeout_seconds or one of the engine's
  /// keys (skipped): returns true and sets `status` (naming prefix + key when the value is bad).
  /// False: not such a key.
  bool take(const std::string& prefix, const std::string& key, const std::string& value,
            Status& status);
  /// Status::config naming prefix + "listen" when it was not given.
  Status complete(const std::string& prefix) const;
  /// max_connections and idle_timeout_seconds as listener limits (the handshake limit default).
  ConnectionLimits limits() const;
};

/// A connection factory that makes `Connection(socket, shared, slot)` for every accepted socket.
template <typename Connection, typename Shared>
class ConnectionFactoryOf : public TrackingConnectionFactory {
 public:
  explicit ConnectionFactoryOf(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

 protected:
  Poco::Net::TCPServerConnection* create(const Poco::Net::StreamSocket& socket,
                                         ConnectionSlot slot) override {
    return new Connection(socket, shared_, std::move(slot));
  }

 private:
  std::shared_ptr<Shared> shared_;
};

/// True for the keys every connector has, which the engine checks (kind, instrument, mappings,
/// destinations, phi.policy, org, rules, allow): connector factories skip them.
bool isEngineConnectorKey(const std::string& key);

}  // namespace labgate
