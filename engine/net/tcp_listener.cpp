// TcpListener (see tcp_listener.h).
#include "engine/net/tcp_listener.h"

#include <Poco/Logger.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/TCPServerParams.h>

namespace labgate {
namespace {

/// Closes connections from addresses not on the connector's allow-list.
class AllowListFilter : public Poco::Net::TCPServerConnectionFilter {
 public:
  AllowListFilter(security::AllowList allow, std::string name)
      : allow_(std::move(allow)), name_(std::move(name)) {}
  bool accept(const Poco::Net::StreamSocket& socket) override {
    Poco::Net::IPAddress peer;
    try {
      peer = socket.peerAddress().host();
    } catch (const Poco::Exception&) {
      return false;  // already gone
    }
    if (allow_.allows(peer)) return true;
    Poco::Logger::get("net").warning(
        "connector %s: connection from %s refused: not on connector.%s.allow", name_,
        peer.toString(), name_);
    return false;
  }

 private:
  security::AllowList allow_;
  std::string name_;
};

}  // namespace

TcpListener::TcpListener(int maxConnections, security::AllowList allow, std::string name)
    : maxConnections_(maxConnections),
      allow_(std::move(allow)),
      name_(std::move(name)),
      pool_(1, maxConnections + 1) {}

TcpListener::~TcpListener() { stop(); }

Status TcpListener::start(Poco::Net::ServerSocket socket, const std::string& host, uint16_t port,
                          Poco::Net::TCPServerConnectionFactory* factory, const std::string& key) {
  Poco::Net::TCPServerConnectionFactory::Ptr owned(factory);
  try {
    socket.bind(Poco::Net::SocketAddress(host, port), true, false);  // reuseAddress, not reusePort
    socket.listen(64);
    boundPort_ = socket.address().port();
    auto* params = new Poco::Net::TCPServerParams;
    params->setMaxThreads(maxConnections_);
    params->setMaxQueued(maxConnections_);
    server_ = std::make_unique<Poco::Net::TCPServer>(owned, pool_, socket, params);
    if (!allow_.empty()) server_->setConnectionFilter(new AllowListFilter(allow_, name_));
    server_->start();
  } catch (const Poco::Exception& e) {
    std::string why = "cannot listen on ";
    why.append(host).append(":").append(std::to_string(port)).append(": ");
    return Status::config(key, why.append(e.displayText()));
  }
  return Status::ok();
}

void TcpListener::stop() {
  if (!server_) return;
  server_->stop();
  pool_.joinAll();
  server_.reset();
}

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
}

bool ListenSettings::take(const std::string& prefix, const std::string& key,
                          const std::string& value, Status& status) {
  if (key == "listen") {
    status = parseHostPort(prefix + key, value, host, port);
    haveListen = true;
  } else if (key == "max_connections") {
    status = parseInteger(prefix + key, value, 1, 1024, maxConnections);
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

bool isEngineConnectorKey(const std::string& key) {
  return key == "kind" || key == "instrument" || key == "mappings" || key == "destinations" ||
         key == "phi.policy" || key == "org" || key == "rules" || key == "allow";
}

}  // namespace labgate
