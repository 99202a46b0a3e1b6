// astm-tcp source (see astm_source.h).
#include "connectors/astm/astm_source.h"

#include <Poco/Logger.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/Net/TCPServerParams.h>
#include <Poco/ThreadPool.h>

#include <atomic>
#include <cctype>
#include <chrono>

#include "connectors/astm/framing.h"
#include "connectors/astm/options.h"
#include "connectors/astm/records.h"
#include "engine/log/log.h"
#include "engine/net/tcp_listener.h"
#include "engine/store/audit.h"

namespace labgate::astm {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("astm"); }

constexpr int kPollMillis = 250;
constexpr std::chrono::seconds kBusyAfterFailure{10};

/// The ASTM codec with a connector's astm.* options: what the source parses with, and what
/// `labgate dry-run` gets from the registry for the same connector.
class AstmCodec : public FormatCodec {
 public:
  explicit AstmCodec(AstmOptions options) : options_(std::move(options)) {}
  const AstmOptions& options() const { return options_; }
  StatusOr<Document> parse(std::string_view text) const override {
    return parseRecords(text, options_);
  }
  StatusOr<Message> build(const Document& document) const override {
    return buildMessage(document, options_);
  }
  const std::string& formatTag() const override {
    static const std::string tag = "astm";
    return tag;
  }
  /// A capture as the wire carried it (ENQ, STX frames with checksums, EOT) goes through the
  /// E1381 receiver the source uses, which removes the framing and checks every checksum; records
  /// without framing (a text file) are split as the receiver's messages are.
  StatusOr<std::vector<std::string>> split(std::string_view capture) const override {
    if (capture.find(kEnq) == std::string_view::npos &&
        capture.find(kStx) == std::string_view::npos) {
      return splitMessages(capture, options_);
    }
    std::vector<std::string> messages;
    Receiver receiver(options_, [&](std::string_view text) {
      for (std::string& one : splitMessages(text, options_)) messages.push_back(std::move(one));
      return true;
    });
    // Fed byte by byte so that the first problem is the one reported (after a refused frame the
    // frames that follow fail too when the capture holds no retransmission of it).
    std::string reply, problem;
    const auto now = std::chrono::steady_clock::now();
    for (char c : capture) {
      receiver.feed(std::string_view(&c, 1), now, reply);
      const Receiver::Stats& stats = receiver.stats();
      if (problem.empty() && (stats.framesRejected > 0 || stats.messagesDiscarded > 0)) {
        problem = receiver.lastProblem().empty() ? "a frame was refused" : receiver.lastProblem();
      }
    }
    receiver.connectionClosed();
    if (problem.empty()) problem = receiver.lastProblem();
    // As on the link: a refused frame that the capture then holds again (the instrument's
    // retransmission) costs nothing; a message thrown away, or none at all, is what went wrong.
    if (messages.empty() || receiver.stats().messagesDiscarded > 0) {
      return Status::invalid(
          "E1381 framing",
          problem.empty() ? std::string("no complete message (ENQ, frames, EOT) in the capture")
                          : problem);
    }
    return messages;
  }

 private:
  AstmOptions options_;
};

/// The codec of a connector's astm.* keys (other keys are the source's).
StatusOr<std::shared_ptr<const FormatCodec>> makeAstmCodec(const std::string& prefix,
                                                           const KeyValues& keys) {
  AstmOptions options;
  for (const auto& [key, value] : keys) {
    if (key.rfind("astm.", 0) != 0) continue;
    Status status = setAstmOption(options, key.substr(5), value);
    if (!status.isOk()) return Status::config(prefix + key, status.reason());
  }
  return std::shared_ptr<const FormatCodec>(std::make_shared<AstmCodec>(options));
}

/// State shared by the source and its connections.
struct Shared {
  std::string name;
  std::string instrument;
  std::shared_ptr<const AstmCodec> codec;  // the connector's codec (SourceContext::codec)
  const AstmOptions& options;              // its astm.* options, for framing and splitting
  IntakeHandler handler;
  std::atomic<bool> stopping{false};
  IntakeCounters counters;
  std::atomic<int64_t> discarded{0};
  std::atomic<int64_t> lastFailure{0};  // steady_clock ticks of the last failed commit

  /// True for a while after a commit failed: new sessions are answered NAK (busy) so the
  /// instruments wait and bid again instead of sending messages that cannot be stored.
  bool unableToCommit(std::chrono::steady_clock::time_point now) const {
    int64_t last = lastFailure.load();
    return last != 0 && now.time_since_epoch().count() - last <
                            std::chrono::steady_clock::duration(kBusyAfterFailure).count();
  }

  Shared(std::string n, std::string i, std::shared_ptr<const AstmCodec> c, IntakeHandler h)
      : name(std::move(n)),
        instrument(std::move(i)),
        codec(std::move(c)),
        options(codec->options()),
        handler(std::move(h)) {}
};

class AstmConnection : public Poco::Net::TCPServerConnection {
 public:
  AstmConnection(const Poco::Net::StreamSocket& socket, std::shared_ptr<Shared> shared,
                 ConnectionSlot slot)
      : TCPServerConnection(socket), shared_(std::move(shared)), slot_(std::move(slot)) {}

  void run() override {
    Poco::Net::StreamSocket& socket = this->socket();
    std::string peer;
    try {
      peer = socket.peerAddress().toString();
      socket.setNoDelay(true);
    } catch (const Poco::Exception&) {
      return;  // the peer is already gone
    }
    ++shared_->counters.connections;
    logInfo(logger(), "connector {}: instrument connected from {}", shared_->name, peer);
    Receiver receiver(shared_->options,
                      [&](std::string_view text) { return onMessage(text, peer); });
    Receiver::Stats seen = receiver.stats();
    std::string reply;
    char buffer[16384];
    try {
      while (!shared_->stopping) {
        auto now = std::chrono::steady_clock::now();
        if (!socket.poll(Poco::Timespan(0, kPollMillis * 1000), Poco::Net::Socket::SELECT_READ)) {
          if (receiver.checkTimeout(now)) report(receiver, seen, peer);
          slot_.setInTransfer(receiver.busy());  // a session: E1381's timeout, not the idle rule
          continue;
        }
        int n = socket.receiveBytes(buffer, sizeof buffer);
        if (n <= 0) break;
        slot_.touch();
        slot_.setInTransfer(true);  // what arrived is being handled (the pipeline may run)
        if (!receiver.busy())
          noticeUnframed(std::string_view(buffer, static_cast<size_t>(n)), peer);
        reply.clear();
        receiver.setRefuseSessions(shared_->unableToCommit(now));
        receiver.feed(std::string_view(buffer, static_cast<size_t>(n)), now, reply);
        slot_.setInTransfer(receiver.busy());
        if (!reply.empty()) socket.sendBytes(reply.data(), static_cast<int>(reply.size()));
        slot_.touch();
        report(receiver, seen, peer);
      }
    } catch (const Poco::Exception& e) {
      logWarning(logger(), "connector {}: connection from {} failed: {}", shared_->name, peer,
                 e.displayText());
    }
    if (receiver.connectionClosed()) report(receiver, seen, peer);
    --shared_->counters.connections;
    logInfo(logger(), "connector {}: instrument at {} disconnected", shared_->name, peer);
  }

 private:
  /// The sink of the Receiver: runs the pipeline; true = ACK the completing frame. A sender
  /// that packs several H..L messages into one frame gets ACK only if every one is accepted.
  /// What was refused is remembered so its retransmissions are NAKed without being processed
  /// again; a failed commit is not, so its retransmission retries the commit.
  bool onMessage(std::string_view text, const std::string& peer) {
    // A retransmission of what we just refused (hashed only then: the pipeline hashes every
    // message it stores anyway).
    if (!lastRefusedDigest_.empty() && sha256Hex(std::string(text)) == lastRefusedDigest_) {
      return false;
    }
    std::vector<std::string> messages = splitMessages(text, shared_->options);
    if (messages.empty()) messages.emplace_back(text);  // let the pipeline say what is wrong
    bool refused = false, failed = false;
    for (const std::string& one : messages) {
      switch (process(one, peer)) {
        case Intake::Outcome::kAccepted:
        case Intake::Outcome::kDuplicate:
          break;
        case Intake::Outcome::kRefused:
        case Intake::Outcome::kInvalid:
          refused = true;
          break;
        case Intake::Outcome::kFailed:
          failed = true;
          break;
      }
    }
    lastRefusedDigest_ = refused && !failed ? sha256Hex(std::string(text)) : std::string();
    return !refused && !failed;
  }

  Intake::Outcome process(std::string_view text, const std::string& peer) {
    Envelope envelope;
    envelope.bytes.assign(text);
    envelope.connectorId = shared_->name;
    envelope.peer = peer;
    envelope.receivedAt = std::chrono::system_clock::now();
    Intake intake = shared_->handler(envelope, *shared_->codec);
    shared_->counters.count(intake.outcome);
    if (intake.outcome == Intake::Outcome::kFailed) {
      shared_->lastFailure = std::chrono::steady_clock::now().time_since_epoch().count();
    }
    return intake.outcome;
  }

  /// Once per connection, when accept_unframed is off and what arrived outside a session looks
  /// like the start of unframed records (a line beginning "H" and a delimiter): says that they are
  /// ignored and which key takes them, so that an instrument that sends them is not lost silently.
  void noticeUnframed(std::string_view bytes, const std::string& peer) {
    if (shared_->options.acceptUnframed || unframedNoticed_) return;
    for (size_t i = 0; i + 1 < bytes.size(); ++i) {
      const bool lineStart = i == 0 || bytes[i - 1] == '\r' || bytes[i - 1] == '\n';
      const auto next = static_cast<unsigned char>(bytes[i + 1]);
      if (lineStart && bytes[i] == 'H' && std::ispunct(next)) {
        unframedNoticed_ = true;
        logWarning(
            logger(),
            "connector {}: records without E1381 framing from {} ignored: "
            "connector.{}.astm.accept_unframed is off; set it to true if this instrument sends "
            "unframed records (with connector.{}.allow naming it)",
            shared_->name, peer, shared_->name, shared_->name);
        return;
      }
    }
  }

  /// Logs what the receiver discarded or NAKed since the last call (words, never values).
  void report(const Receiver& receiver, Receiver::Stats& seen, const std::string& peer) {
    const Receiver::Stats& now = receiver.stats();
    if (now.messagesAbandoned > seen.messagesAbandoned) {
      // Already counted as refused or failed when it was NAKed; not a second time as discarded.
      logInfo(logger(), "connector {}: instrument at {} gave up on the NAKed message",
              shared_->name, peer);
    }
    if (now.messagesDiscarded > seen.messagesDiscarded) {
      shared_->discarded += static_cast<int64_t>(now.messagesDiscarded - seen.messagesDiscarded);
      logWarning(logger(), "connector {}: partial message from {} discarded: {}", shared_->name,
                 peer, receiver.lastProblem());
    } else if (now.framesRejected > seen.framesRejected) {
      logNotice(logger(), "connector {}: frame from {} rejected (NAK): {}", shared_->name, peer,
                receiver.lastProblem());
    }
    seen = now;
  }

  std::shared_ptr<Shared> shared_;
  ConnectionSlot slot_;
  std::string lastRefusedDigest_;
  bool unframedNoticed_ = false;
};

using ConnectionFactory = ConnectionFactoryOf<AstmConnection, Shared>;

class AstmSource : public Source {
 public:
  AstmSource(std::shared_ptr<Shared> shared, std::string host, uint16_t port,
             ConnectionLimits limits, const security::AllowList& allow)
      : shared_(std::move(shared)),
        host_(std::move(host)),
        port_(port),
        listener_(limits, allow, shared_->name) {}

  ~AstmSource() override { stop(); }

  Status start() override {
    Status started =
        listener_.start(Poco::Net::ServerSocket(), host_, port_, new ConnectionFactory(shared_),
                        "connector." + shared_->name + ".listen");
    if (!started.isOk()) return started;
    logInfo(logger(), "connector {}: listening for ASTM on {}:{}", shared_->name, host_,
            listener_.boundPort());
    return Status::ok();
  }

  void stop() override {
    if (!listener_.running()) return;
    shared_->stopping = true;
    listener_.stop();
  }

  Poco::JSON::Object::Ptr health() const override {
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    describeListener(*out, shared_->name, "astm-tcp", listener_, host_, port_);
    shared_->counters.describe(*out);
    out->set("messages_discarded", shared_->discarded.load());
    return out;
  }

 private:
  std::shared_ptr<Shared> shared_;
  std::string host_;
  uint16_t port_;
  TcpListener listener_;
};

StatusOr<std::unique_ptr<Source>> createAstmSource(const SourceContext& context) {
  const std::string prefix = "connector." + context.name + ".";
  // The astm.* keys are the codec's, which Registry::createSource() built from them.
  auto codec = std::dynamic_pointer_cast<const AstmCodec>(context.codec);
  if (!codec) return Status::config(prefix + "kind", "astm-tcp source made without its codec");
  ListenSettings listen;
  for (const auto& [key, value] : context.keys) {
    if (key.rfind("astm.", 0) == 0) continue;
    Status status;  // listen, max_connections, or one of the engine's keys
    if (!listen.take(prefix, key, value, status)) {
      return Status::config(prefix + key, "unknown key for a connector of kind astm-tcp");
    }
    if (!status.isOk()) return status;
  }
  if (Status complete = listen.complete(prefix); !complete.isOk()) return complete;
  auto shared = std::make_shared<Shared>(context.name, context.instrument, codec, context.handler);
  return std::unique_ptr<Source>(
      new AstmSource(shared, listen.host, listen.port, listen.limits(), context.allow));
}

}  // namespace

void registerAstmSource(Registry& registry) {
  SourceKind kind;
  kind.factory = createAstmSource;
  kind.codec = makeAstmCodec;
  kind.formatTag = "astm";
  registry.addSource("astm-tcp", std::move(kind));
}

}  // namespace labgate::astm
