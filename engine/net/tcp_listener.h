// TcpListener: the listening half every TCP connector needs, written once. Binds without port
// sharing (a second engine on the same port fails loudly: POCO-NOTES trap 1), serves each
// connection on a thread of its own pool (joined at stop: trap 7), and turns bind failures into a
// Status naming the connector's listen key.
#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/ThreadPool.h>

#include <atomic>
#include <memory>
#include <string>

#include "engine/model/document.h"
#include "engine/model/model.h"
#include "engine/model/status.h"
#include "engine/net/interfaces.h"

namespace labgate {

class TcpListener {
 public:
  /// `allow` (connector.NAME.allow): connections from other addresses are closed as soon as
  /// they are accepted, before any byte is read, and logged under `name`.
  explicit TcpListener(int maxConnections, security::AllowList allow = {}, std::string name = "");
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  /// Binds `socket` (plain or TLS) to host:port and starts serving connections made by
  /// `factory` (owned by the listener from now on). `key` names the listen key for errors.
  Status start(Poco::Net::ServerSocket socket, const std::string& host, uint16_t port,
               Poco::Net::TCPServerConnectionFactory* factory, const std::string& key);
  /// Stops accepting and waits for the connection threads (they must see their stop flag).
  void stop();
  bool running() const { return server_ != nullptr; }
  /// The port actually bound (differs from the configured one when that was 0).
  uint16_t boundPort() const { return boundPort_; }

 private:
  int maxConnections_;
  security::AllowList allow_;
  std::string name_;
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

/// Sets name, kind, state ("listening"/"stopped") and listen (host:bound port) on `out`.
void describeListener(Poco::JSON::Object& out, const std::string& name, const std::string& kind,
                      const TcpListener& listener, const std::string& host, uint16_t port);

/// Where and how widely a TCP source listens: the keys listen and max_connections.
struct ListenSettings {
  std::string host;
  uint16_t port = 0;
  int64_t maxConnections = 16;
  bool haveListen = false;

  /// Takes `key` if it is listen, max_connections or one of the engine's keys (skipped): returns
  /// true and sets `status` (naming prefix + key when the value is bad). False: not such a key.
  bool take(const std::string& prefix, const std::string& key, const std::string& value,
            Status& status);
  /// Status::config naming prefix + "listen" when it was not given.
  Status complete(const std::string& prefix) const;
};

/// A connection factory that makes `Connection(socket, shared)` for every accepted socket.
template <typename Connection, typename Shared>
class ConnectionFactoryOf : public Poco::Net::TCPServerConnectionFactory {
 public:
  explicit ConnectionFactoryOf(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override {
    return new Connection(socket, shared_);
  }

 private:
  std::shared_ptr<Shared> shared_;
};

/// True for the keys every connector has, which the engine checks (kind, instrument, mappings,
/// destinations, phi.policy, org, rules, allow): connector factories skip them.
bool isEngineConnectorKey(const std::string& key);

/// A FormatCodec from a format's parse and build functions and its options.
template <typename Options, StatusOr<Document> (*Parse)(std::string_view, const Options&),
          StatusOr<Message> (*Build)(const Document&, const Options&)>
class CodecOf : public FormatCodec {
 public:
  explicit CodecOf(Options options) : options_(std::move(options)) {}
  StatusOr<Document> parse(std::string_view text) const override { return Parse(text, options_); }
  StatusOr<Message> build(const Document& document) const override {
    return Build(document, options_);
  }

 private:
  Options options_;
};

}  // namespace labgate
