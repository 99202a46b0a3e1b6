// TcpListener (see tcp_listener.h).
#include "engine/net/tcp_listener.h"

#include <Poco/Logger.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/TCPServerParams.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "engine/log/log.h"

namespace labgate {

std::string listenFailure(const std::string& host, int port, const Poco::Exception& e) {
  const std::string where = host + ":" + std::to_string(port);
  std::string why;
  switch (e.code()) {
    case EADDRINUSE:
      why =
          "the port is in use by another program (another labgated?); stop it or choose "
          "another port (`ss -ltnp` shows which program listens)";
      break;
    case EACCES:
      why = "permission denied (ports below 1024 need privileges; choose a port from 1024)";
      break;
    case EADDRNOTAVAIL:
      why = "this machine has no address " + host + " (use 127.0.0.1, 0.0.0.0 or one of its own)";
      break;
    default:
      why = e.displayText();
  }
  return "cannot listen on " + where + ": " + why;
}

using Clock = std::chrono::steady_clock;

/// One accepted connection, from accept until its connection object is destroyed.
struct TrackedConnection {
  // A copy of the socket: while tracked, its descriptor stays open, so shutdown() on it never
  // reaches another socket that reused the number.
  Poco::Net::StreamSocket socket;
  std::string peer;
  std::atomic<int64_t> lastActivity{0};  // Clock ticks of the last byte (or of the accept)
  std::atomic<bool> inTransfer{false};
  // The rest under ConnectionTracker::mutex_.
  bool served = false;  // a connection thread has it; else it waits in TCPServer's queue
  bool closed = false;  // shut down by the listener
  bool handshaking = false;
  Clock::time_point handshakeDeadline;

  int64_t idleSeconds(Clock::time_point now) const {
    return std::chrono::duration_cast<std::chrono::seconds>(
               now - Clock::time_point(Clock::duration(lastActivity.load())))
        .count();
  }
};

/// The live connections of one listener and the rules that close them (see the file comment of
/// tcp_listener.h). admit() runs on TCPServer's accepting thread, attach()/release() on the
/// connection threads, the sweep on a thread of its own that wakes every kSweepMillis.
class ConnectionTracker {
 public:
  ConnectionTracker(std::string name, ConnectionLimits limits, security::AllowList allow)
      : name_(std::move(name)), limits_(limits), allow_(std::move(allow)) {}

  /// TCPServer's upper bound on queued connections; admit() refuses before it is reached, so
  /// that every connection TCPServer takes is one the tracker knows (none is dropped unseen).
  int queueLimit() const { return std::max(64, 4 * limits_.maxConnections) + 1; }

  /// A connection was accepted: false closes it (not on the allow-list, or far too many open).
  /// When max_connections are taken, the one idle the longest is closed to make room.
  bool admit(const Poco::Net::StreamSocket& socket) {
    Poco::Net::SocketAddress peer;
    try {
      peer = socket.peerAddress();
    } catch (const Poco::Exception&) {
      return false;  // already gone
    }
    if (!allow_.empty() && !allow_.allows(peer.host())) {
      logWarning(logger(), "connector {}: connection from {} refused: not on connector.{}.allow",
                 name_, peer.host().toString(), name_);
      return false;
    }
    const Clock::time_point now = Clock::now();
    std::lock_guard<std::mutex> lock(mutex_);
    if (connections_.size() + 1 >= static_cast<size_t>(queueLimit())) {
      ++counters_.refusedFull;
      logWarning(logger(),
                 "connector {}: connection from {} refused: {} connections are open or closing; "
                 "connector.{}.max_connections is {}",
                 name_, peer.toString(), connections_.size(), name_, limits_.maxConnections);
      return false;
    }
    int open = 0;
    for (const auto& [impl, c] : connections_) open += c->closed ? 0 : 1;
    if (open >= limits_.maxConnections) {
      if (TrackedConnection* victim = longestIdle(now)) {
        ++counters_.evicted;
        logWarning(
            logger(),
            "connector {}: connection from {} closed after {} s without data to make room for a "
            "new connection from {}: all {} connections (connector.{}.max_connections) were taken",
            name_, victim->peer, static_cast<Poco::Int64>(victim->idleSeconds(now)),
            peer.toString(), limits_.maxConnections, name_);
        close(*victim);
      } else {
        logNotice(logger(),
                  "connector {}: connection from {} waits: all {} connections "
                  "(connector.{}.max_connections) are in the middle of transfers",
                  name_, peer.toString(), limits_.maxConnections, name_);
      }
    }
    auto tracked = std::make_shared<TrackedConnection>();
    tracked->socket = socket;
    tracked->peer = peer.toString();
    tracked->lastActivity = now.time_since_epoch().count();
    connections_[socket.impl()] = tracked;
    return true;
  }

  /// The tracked connection of `socket`, now served by a connection thread.
  std::shared_ptr<TrackedConnection> attach(const Poco::Net::StreamSocket& socket) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = connections_.find(socket.impl());
    if (it == connections_.end()) {  // not seen by admit() (cannot happen): track it from now
      auto tracked = std::make_shared<TrackedConnection>();
      tracked->socket = socket;
      try {
        tracked->peer = socket.peerAddress().toString();
      } catch (const Poco::Exception&) {
        tracked->peer = "(gone)";
      }
      it = connections_.emplace(socket.impl(), tracked).first;
    }
    it->second->served = true;
    it->second->lastActivity = Clock::now().time_since_epoch().count();
    return it->second;
  }

  void release(const TrackedConnection& tracked) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = connections_.find(tracked.socket.impl());
    if (it != connections_.end() && it->second.get() == &tracked) connections_.erase(it);
  }

  void beginHandshake(TrackedConnection& tracked) {
    std::lock_guard<std::mutex> lock(mutex_);
    tracked.handshaking = true;
    tracked.handshakeDeadline = Clock::now() + limits_.handshakeTimeout;
  }

  void endHandshake(TrackedConnection& tracked) {
    std::lock_guard<std::mutex> lock(mutex_);
    tracked.handshaking = false;
    tracked.lastActivity = Clock::now().time_since_epoch().count();
  }

  bool closed(const TrackedConnection& tracked) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return tracked.closed;
  }

  ListenerCounters counters() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return counters_;
  }

  void startSweeping() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (sweeper_.joinable()) return;
    stopping_ = false;
    sweeper_ = std::thread([this] { sweepUntilStopped(); });
  }

  void stopSweeping() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (sweeper_.joinable()) sweeper_.join();
  }

  ~ConnectionTracker() { stopSweeping(); }

 private:
  static constexpr int kSweepMillis = 200;

  static Poco::Logger& logger() { return Poco::Logger::get("net"); }

  /// Closes served connections that stayed silent outside a transfer, and TLS handshakes past
  /// their limit.
  void sweepUntilStopped() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, std::chrono::milliseconds(kSweepMillis));
      if (stopping_) break;
      const Clock::time_point now = Clock::now();
      for (auto& [impl, c] : connections_) {
        if (c->closed || !c->served) continue;
        if (c->handshaking) {
          if (now < c->handshakeDeadline) continue;
          ++counters_.handshakeTimeouts;
          logWarning(logger(),
                     "connector {}: TLS handshake with {} not completed within {} s "
                     "(connector.{}.tls_handshake_timeout_seconds); connection closed",
                     name_, c->peer, static_cast<Poco::Int64>(limits_.handshakeTimeout.count()),
                     name_);
          close(*c);
        } else if (limits_.idleTimeout.count() > 0 && !c->inTransfer &&
                   c->idleSeconds(now) >= limits_.idleTimeout.count()) {
          ++counters_.closedIdle;
          logInfo(logger(),
                  "connector {}: connection from {} closed after {} s without data outside a "
                  "transfer (connector.{}.idle_timeout_seconds)",
                  name_, c->peer, static_cast<Poco::Int64>(c->idleSeconds(now)), name_);
          close(*c);
        }
      }
    }
  }

  /// The connection to close for a new one, or nullptr: the longest idle outside a transfer;
  /// failing that, the longest idle of the transfers silent for idle_timeout_seconds (stalled).
  /// The caller holds mutex_.
  TrackedConnection* longestIdle(Clock::time_point now) {
    TrackedConnection* best = nullptr;
    TrackedConnection* stalled = nullptr;
    for (auto& [impl, c] : connections_) {
      if (c->closed) continue;
      if (!c->inTransfer) {
        if (!best || c->lastActivity < best->lastActivity) best = c.get();
      } else if (limits_.idleTimeout.count() > 0 &&
                 c->idleSeconds(now) >= limits_.idleTimeout.count()) {
        if (!stalled || c->lastActivity < stalled->lastActivity) stalled = c.get();
      }
    }
    return best ? best : stalled;
  }

  /// Shuts the connection's socket down: its thread (or the one that later takes it from the
  /// queue) sees the connection end. The caller holds mutex_, which keeps the descriptor open.
  static void close(TrackedConnection& tracked) {
    tracked.closed = true;
    const poco_socket_t fd = tracked.socket.impl()->sockfd();
    if (fd != POCO_INVALID_SOCKET) ::shutdown(fd, SHUT_RDWR);
  }

  const std::string name_;
  const ConnectionLimits limits_;
  const security::AllowList allow_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread sweeper_;
  std::map<const Poco::Net::SocketImpl*, std::shared_ptr<TrackedConnection>> connections_;
  ListenerCounters counters_;
};

namespace {

/// TCPServer's hook at accept time: ConnectionTracker::admit.
class AdmissionFilter : public Poco::Net::TCPServerConnectionFilter {
 public:
  explicit AdmissionFilter(std::shared_ptr<ConnectionTracker> tracker)
      : tracker_(std::move(tracker)) {}
  bool accept(const Poco::Net::StreamSocket& socket) override { return tracker_->admit(socket); }

 private:
  std::shared_ptr<ConnectionTracker> tracker_;
};

}  // namespace

ConnectionSlot::ConnectionSlot(std::shared_ptr<ConnectionTracker> tracker,
                               const Poco::Net::StreamSocket& socket)
    : tracker_(std::move(tracker)), state_(tracker_->attach(socket)) {}

ConnectionSlot::~ConnectionSlot() {
  if (tracker_ && state_) tracker_->release(*state_);
}

ConnectionSlot::ConnectionSlot(ConnectionSlot&& other) noexcept
    : tracker_(std::move(other.tracker_)), state_(std::move(other.state_)) {}

void ConnectionSlot::touch() { state_->lastActivity = Clock::now().time_since_epoch().count(); }

void ConnectionSlot::setInTransfer(bool inTransfer) { state_->inTransfer = inTransfer; }

void ConnectionSlot::beginHandshake() { tracker_->beginHandshake(*state_); }

void ConnectionSlot::endHandshake() { tracker_->endHandshake(*state_); }

bool ConnectionSlot::closedByListener() const { return tracker_->closed(*state_); }

TcpListener::TcpListener(ConnectionLimits limits, security::AllowList allow, std::string name)
    : limits_(limits),
      tracker_(std::make_shared<ConnectionTracker>(std::move(name), limits, std::move(allow))),
      pool_(1, limits.maxConnections + 1) {}

TcpListener::~TcpListener() { stop(); }

Status TcpListener::start(Poco::Net::ServerSocket socket, const std::string& host, uint16_t port,
                          TrackingConnectionFactory* factory, const std::string& key) {
  factory->tracker_ = tracker_;
  Poco::Net::TCPServerConnectionFactory::Ptr owned(factory);
  try {
    socket.bind(Poco::Net::SocketAddress(host, port), true, false);  // reuseAddress, not reusePort
    socket.listen(64);
    boundPort_ = socket.address().port();
    auto* params = new Poco::Net::TCPServerParams;
    params->setMaxThreads(limits_.maxConnections);
    params->setMaxQueued(tracker_->queueLimit());
    server_ = std::make_unique<Poco::Net::TCPServer>(owned, pool_, socket, params);
    server_->setConnectionFilter(new AdmissionFilter(tracker_));
    tracker_->startSweeping();
    server_->start();
  } catch (const Poco::Exception& e) {
    server_.reset();
    tracker_->stopSweeping();
    return Status::config(key, listenFailure(host, port, e));
  }
  return Status::ok();
}

void TcpListener::stop() {
  if (!server_) return;
  server_->stop();
  pool_.joinAll();  // the sweep still runs: it ends handshakes that would hold a thread up
  tracker_->stopSweeping();
  server_.reset();
}

ListenerCounters TcpListener::counters() const { return tracker_->counters(); }

void IntakeCounters::count(Intake::Outcome outcome) {
  switch (outcome) {
    case Intake::Outcome::kAccepted:
      ++accepted;
      break;
    case Intake::Outcome::kDuplicate:
      ++duplicate;
      break;
    case Intake::Outcome::kRefused:
      ++refusedPhi;
      break;
    case Intake::Outcome::kInvalid:
      ++invalid;
      break;
    case Intake::Outcome::kFailed:
      ++failed;
      break;
  }
}

void IntakeCounters::describe(Poco::JSON::Object& out) const {
  out.set("connections", connections.load());
  out.set("messages_accepted", accepted.load());
  out.set("messages_duplicate", duplicate.load());
  out.set("messages_refused", refusedPhi.load() + invalid.load());
  out.set("messages_refused_phi", refusedPhi.load());
  out.set("messages_invalid", invalid.load());
  out.set("messages_failed", failed.load());
}

void describeListener(Poco::JSON::Object& out, const std::string& name, const std::string& kind,
                      const TcpListener& listener, const std::string& host, uint16_t port) {
  out.set("name", name);
  out.set("kind", kind);
  out.set("state", listener.running() ? "listening" : "stopped");
  std::string listen = host;
  listen.append(":").append(std::to_string(listener.running() ? listener.boundPort() : port));
  out.set("listen", listen);
  const ListenerCounters counters = listener.counters();
  out.set("connections_closed_idle", counters.closedIdle);
  out.set("connections_evicted", counters.evicted);
}

bool ListenSettings::take(const std::string& prefix, const std::string& key,
                          const std::string& value, Status& status) {
  if (key == "listen") {
    status = parseHostPort(prefix + key, value, host, port);
    haveListen = true;
  } else if (key == "max_connections") {
    status = parseInteger(prefix + key, value, 1, 1024, maxConnections);
  } else if (key == "idle_timeout_seconds") {
    status = parseInteger(prefix + key, value, 0, 86400, idleTimeoutSeconds);
  } else if (isEngineConnectorKey(key)) {
    status = Status::ok();  // the engine's keys, validated there
  } else {
    return false;
  }
  return true;
}

Status ListenSettings::complete(const std::string& prefix) const {
  if (haveListen) return Status::ok();
  return Status::config(prefix + "listen", "missing (host:port to listen on)");
}

ConnectionLimits ListenSettings::limits() const {
  ConnectionLimits limits;
  limits.maxConnections = static_cast<int>(maxConnections);
  limits.idleTimeout = std::chrono::seconds(idleTimeoutSeconds);
  return limits;
}

bool isEngineConnectorKey(const std::string& key) {
  return key == "kind" || key == "instrument" || key == "mappings" || key == "mapping_set" ||
         key == "destinations" || key == "phi.policy" || key == "org" || key == "rules" ||
         key == "allow";
}

}  // namespace labgate
