// hl7-mllp source (see mllp_source.h).
#include "connectors/hl7/mllp_source.h"

#include <Poco/DateTimeFormatter.h>
#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/Net/TCPServerParams.h>
#include <Poco/ThreadPool.h>
#include <Poco/Timestamp.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>

#include "connectors/hl7/ack.h"
#include "connectors/hl7/ack_policy.h"
#include "connectors/hl7/builder.h"
#include "connectors/hl7/mllp.h"
#include "connectors/hl7/parser.h"
#include "engine/log/log.h"
#include "engine/net/tcp_listener.h"
#include "engine/net/tls.h"
#include "engine/pipeline/pipeline.h"
#include "engine/store/audit.h"

namespace labgate::hl7 {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("hl7"); }

constexpr int kPollMillis = 250;
// Bound on one blocking socket call (a TLS record in flight, a handshake, a peer that does not
// read its ACKs): past it the connection is closed.
constexpr int kIoTimeoutSeconds = 10;

/// The HL7 codec with a connector's hl7.* options (hl7.sample_id_field, ...): what the source
/// parses with, and what `labgate dry-run` gets from the registry for the same connector.
class Hl7Codec : public FormatCodec {
 public:
  explicit Hl7Codec(Hl7Options options) : options_(std::move(options)) {}
  StatusOr<Document> parse(std::string_view text) const override {
    return parseHl7(text, options_);
  }
  StatusOr<Message> build(const Document& document) const override {
    return buildMessage(document, options_);
  }
  const std::string& formatTag() const override {
    static const std::string tag = "hl7";
    return tag;
  }
  /// A capture (one message, a batch file, MLLP leftovers) as splitBatch() reads it.
  StatusOr<std::vector<std::string>> split(std::string_view capture) const override {
    return splitBatch(capture);
  }

 private:
  Hl7Options options_;
};

struct Settings {
  std::string name;
  std::string instrument;
  size_t maxMessageBytes = 1024 * 1024;
  std::chrono::seconds receiveTimeout{60};
  bool tls = false;
};

/// State shared by the source and its connections.
struct Shared {
  Settings settings;
  std::shared_ptr<const FormatCodec> codec;  // the connector's codec (SourceContext::codec)
  IntakeHandler handler;
  std::atomic<bool> stopping{false};
  IntakeCounters counters;  // invalid: unreadable header or body, and unsupported types
  std::atomic<int64_t> unsupported{0};
  std::atomic<int64_t> framesDropped{0};

  Shared(Settings s, std::shared_ptr<const FormatCodec> c, IntakeHandler h)
      : settings(std::move(s)), codec(std::move(c)), handler(std::move(h)) {}

  void count(Verdict verdict) {
    switch (verdict) {
      case Verdict::kAccepted:
        counters.count(Intake::Outcome::kAccepted);
        break;
      case Verdict::kDuplicate:
        counters.count(Intake::Outcome::kDuplicate);
        break;
      case Verdict::kRefusedPhi:
        counters.count(Intake::Outcome::kRefused);
        break;
      case Verdict::kUnsupported:
        ++unsupported;
        counters.count(Intake::Outcome::kInvalid);
        break;
      case Verdict::kInvalid:
      case Verdict::kBadHeader:
        counters.count(Intake::Outcome::kInvalid);
        break;
      case Verdict::kFailed:
        counters.count(Intake::Outcome::kFailed);
        break;
      case Verdict::kTooLarge:
        break;  // counted in framesDropped
    }
  }
};

class MllpConnection : public Poco::Net::TCPServerConnection {
 public:
  MllpConnection(const Poco::Net::StreamSocket& socket, std::shared_ptr<Shared> shared,
                 ConnectionSlot slot)
      : TCPServerConnection(socket),
        shared_(std::move(shared)),
        slot_(std::move(slot)),
        decoder_(shared_->settings.maxMessageBytes) {}

  void run() override {
    const std::string& name = shared_->settings.name;
    try {
      peer_ = socket().peerAddress().toString();
      socket_ = socket();
      if (shared_->settings.tls) {
        // Not static_cast<SecureStreamSocket&>(socket()): undefined behaviour (POCO trap 6).
        Poco::Net::SecureStreamSocket secure(socket());
        socket_ = secure;
      }
      socket_.setNoDelay(true);
      socket_.setReceiveTimeout(Poco::Timespan(kIoTimeoutSeconds, 0));
      socket_.setSendTimeout(Poco::Timespan(kIoTimeoutSeconds, 0));
    } catch (const Poco::Exception&) {
      return;  // the peer is already gone
    }
    ++shared_->counters.connections;
    logInfo(logger(), "connector {}: connection from {}{}", name, peer_,
            std::string(shared_->settings.tls ? " (TLS)" : ""));
    try {
      if (!shared_->settings.tls || handshake()) serve();
    } catch (const Poco::Exception& e) {
      logWarning(logger(), "connector {}: connection from {} failed: {}", name, peer_,
                 e.displayText());
    }
    if (decoder_.inFrame()) {
      ++shared_->framesDropped;
      logWarning(logger(),
                 "connector {}: {} closed the connection inside a frame; partial frame dropped",
                 name, peer_);
    }
    --shared_->counters.connections;
    logInfo(logger(), "connector {}: {} disconnected", name, peer_);
  }

 private:
  /// Waits for the client's hello (so stop() is not held up by an idle peer), then completes the
  /// TLS handshake. The listener closes the connection when the whole handshake takes longer than
  /// tls_handshake_timeout_seconds. False (logged) when it fails.
  bool handshake() {
    slot_.beginHandshake();
    while (!shared_->stopping) {
      if (!socket_.poll(Poco::Timespan(0, kPollMillis * 1000), Poco::Net::Socket::SELECT_READ))
        continue;
      try {
        Poco::Net::SecureStreamSocket(socket_).completeHandshake();
        slot_.endHandshake();
        return true;
      } catch (const Poco::Exception& e) {
        if (!slot_.closedByListener()) {  // else the listener logged why it closed it
          logWarning(logger(), "connector {}: TLS handshake with {} failed: {}",
                     shared_->settings.name, peer_, e.displayText());
        }
        return false;
      }
    }
    return false;
  }

  void serve() {
    char buffer[16384];
    auto lastByte = std::chrono::steady_clock::now();
    while (!shared_->stopping) {
      // available(): TLS may hold decrypted bytes that poll() on the socket cannot see.
      if (socket_.available() <= 0 &&
          !socket_.poll(Poco::Timespan(0, kPollMillis * 1000), Poco::Net::Socket::SELECT_READ)) {
        slot_.setInTransfer(decoder_.inFrame());  // a partial frame: receive_timeout_seconds
        if (decoder_.inFrame() &&
            std::chrono::steady_clock::now() - lastByte > shared_->settings.receiveTimeout) {
          decoder_.reset();
          ++shared_->framesDropped;
          logWarning(logger(),
                     "connector {}: partial frame from {} dropped after {} s without data",
                     shared_->settings.name, peer_,
                     static_cast<Poco::Int64>(shared_->settings.receiveTimeout.count()));
        }
        continue;
      }
      int n = socket_.receiveBytes(buffer, sizeof buffer);
      if (n <= 0) break;
      slot_.touch();
      slot_.setInTransfer(true);  // what arrived is being handled (the pipeline may run)
      lastByte = std::chrono::steady_clock::now();
      onBytes(std::string_view(buffer, static_cast<size_t>(n)));
      slot_.setInTransfer(decoder_.inFrame());
      slot_.touch();  // the ACKs went out
    }
  }

  /// Feeds the decoder one end-of-frame at a time, so that an oversize frame's AR goes out in
  /// stream order: before the ACKs of any frame that follows it.
  void onBytes(std::string_view bytes) {
    while (!bytes.empty()) {
      size_t end = bytes.find(kMllpEnd);
      size_t take = end == std::string_view::npos ? bytes.size() : end + 1;
      uint64_t oversizeBefore = decoder_.oversizeFrames();
      uint64_t droppedBefore = decoder_.droppedFrames();
      std::vector<std::string> frames = decoder_.feed(bytes.substr(0, take));
      bytes.remove_prefix(take);
      uint64_t oversize = decoder_.oversizeFrames() - oversizeBefore;
      uint64_t dropped = decoder_.droppedFrames() - droppedBefore;
      if (dropped > 0) {
        shared_->framesDropped += static_cast<int64_t>(dropped);
        if (dropped > oversize) {
          logWarning(logger(), "connector {}: frame from {} dropped: {}", shared_->settings.name,
                     peer_, decoder_.lastProblem());
        }
      }
      for (uint64_t i = 0; i < oversize; ++i) answerTooLarge();
      for (const std::string& frame : frames) onFrame(frame);
    }
  }

  void onFrame(const std::string& frame) {
    std::vector<std::string> messages = splitBatch(frame);
    if (messages.empty()) messages.push_back(frame);  // let the header check say what is wrong
    for (const std::string& message : messages) onMessage(message);
  }

  /// MSH-10 read by position when the header as a whole is unusable (e.g. a malformed MSH-2), so
  /// the AE still names the message it answers; "" when even that is not possible. Control ids
  /// are the sender's message ids, not patient data.
  static std::string controlIdByPosition(std::string_view text) {
    if (text.size() < 4 || text.substr(0, 3) != "MSH") return "";
    const char separator = text[3];
    std::string_view segment = text.substr(0, text.find_first_of("\r\n"));
    size_t at = 3;  // the separator after "MSH" starts MSH-2; MSH-10 follows eight more
    for (int field = 2; field <= 10 && at != std::string_view::npos; ++field) {
      at = segment.find(separator, at + 1);
      if (field == 9 && at != std::string_view::npos) {
        std::string_view value = segment.substr(at + 1);
        value = value.substr(0, value.find(separator));
        if (value.size() > 199) return "";  // not a control id
        for (char c : value) {
          if (static_cast<unsigned char>(c) < 0x20) return "";
        }
        return std::string(value);
      }
    }
    return "";
  }

  /// One message: header, pipeline, ACKs. Never throws for bad input.
  void onMessage(const std::string& text) {
    // Log lines name the message by a digest prefix (the pipeline's lines use the same), never by
    // MSH-10: the sender's control id is a field the PHI gate screens and may refuse.
    const std::string digest = sha256Hex(text);  // handed to the pipeline: hashed once
    const std::string reference = "sha256:" + digest.substr(0, 12);
    StatusOr<MessageHeader> header = parseHeader(text);
    if (!header.isOk()) {
      shared_->count(Verdict::kBadHeader);
      MessageHeader known;
      known.controlId = controlIdByPosition(text);
      answer(known, Verdict::kBadHeader, header.status(), reference);
      return;
    }
    Envelope envelope;
    envelope.bytes = text;
    envelope.connectorId = shared_->settings.name;
    envelope.peer = peer_;
    envelope.receivedAt = std::chrono::system_clock::now();
    envelope.contentSha256 = digest;
    Intake intake;
    try {
      intake = shared_->handler(envelope, *shared_->codec);
    } catch (const std::exception& e) {  // a broken invariant below: the message is not stored
      intake.outcome = Intake::Outcome::kFailed;
      intake.status = Status::io("pipeline", e.what());
    }
    Verdict verdict = verdictOf(intake);
    shared_->count(verdict);
    answer(header.value(), verdict, intake.status,
           isSuccess(verdict) ? reference + " (message " + std::to_string(intake.messageId) + ")"
                              : reference);
  }

  void answerTooLarge() {
    logWarning(logger(), "connector {}: frame from {} exceeded {} bytes; dropped, answered AR",
               shared_->settings.name, peer_, shared_->settings.maxMessageBytes);
    answer(MessageHeader(), Verdict::kTooLarge, Status(), "(unread)");
  }

  /// Sends the ACKs ack_policy decides for `verdict`, and logs the event (`reference`, outcome,
  /// location; never a field value: the ACK echoes MSH-10 to its sender, the log does not).
  void answer(const MessageHeader& header, Verdict verdict, const Status& why,
              const std::string& reference) {
    std::vector<std::string> codes =
        ackCodes(header.acceptAckType, header.applicationAckType, verdict);
    std::vector<AckError> errors = ackErrors(verdict, why, shared_->settings.maxMessageBytes);
    std::string text = ackText(verdict, why);

    OruHeader ack;
    // parseHeader gives first components, escapes resolved; buildAck escapes them again.
    ack.sendingApplication =
        header.receivingApplication.empty() ? "LABGATE" : header.receivingApplication;
    ack.sendingFacility = header.receivingFacility;
    ack.receivingApplication = header.sendingApplication;
    ack.receivingFacility = header.sendingFacility;
    ack.processingId = header.processingId.empty() ? "P" : header.processingId;
    std::string version = header.version.empty() ? "2.5.1" : header.version;

    std::string reply;
    for (const std::string& code : codes) {
      ack.controlId = newControlId();
      ack.timestamp = Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y%m%d%H%M%S+0000");
      reply += frameMllp(
          buildAck(code, header.controlId, text, ack, errors, header.triggerEvent, version));
    }
    std::string answered;
    for (const std::string& code : codes) answered.append(answered.empty() ? "" : "+").append(code);
    if (answered.empty()) answered = "no ACK (MSH-15/16)";
    std::string where = why.location().empty() ? std::string() : " at " + why.location();
    // A refusal says why in words (such a Status names locations and rules, never a value; the
    // text of an internal failure stays out of this line, the pipeline logs it).
    const Status::Code kind = why.code();
    if ((kind == Status::Code::kPhiRefused || kind == Status::Code::kInvalid ||
         kind == Status::Code::kRejected) &&
        !why.reason().empty()) {
      where += " (" + why.reason() + ")";
    }
    if (isSuccess(verdict)) {
      logInfo(logger(), "connector {}: message {} from {} {}, answered {}", shared_->settings.name,
              reference, peer_, std::string(toString(verdict)), answered);
    } else {
      logWarning(logger(), "connector {}: message {} from {} {}{}, answered {}",
                 shared_->settings.name, reference, peer_, std::string(toString(verdict)), where,
                 answered);
    }
    if (!reply.empty()) socket_.sendBytes(reply.data(), static_cast<int>(reply.size()));
  }

  std::shared_ptr<Shared> shared_;
  ConnectionSlot slot_;
  MllpDecoder decoder_;
  Poco::Net::StreamSocket socket_;
  std::string peer_;
};

using ConnectionFactory = ConnectionFactoryOf<MllpConnection, Shared>;

class MllpSource : public Source {
 public:
  MllpSource(std::shared_ptr<Shared> shared, std::string host, uint16_t port,
             ConnectionLimits limits, Poco::Net::Context::Ptr tls, const security::AllowList& allow)
      : shared_(std::move(shared)),
        host_(std::move(host)),
        port_(port),
        tls_(std::move(tls)),
        listener_(limits, allow, shared_->settings.name) {}

  ~MllpSource() override { stop(); }

  Status start() override {
    const std::string key = "connector." + shared_->settings.name + ".listen";
    Poco::Net::ServerSocket socket;
    try {
      if (tls_) socket = Poco::Net::SecureServerSocket(tls_);
    } catch (const Poco::Exception& e) {
      return Status::config(key, "cannot set up TLS: " + e.displayText());
    }
    Status started = listener_.start(socket, host_, port_, new ConnectionFactory(shared_), key);
    if (!started.isOk()) return started;
    shared_->stopping = false;
    logInfo(logger(), "connector {}: listening for HL7 (MLLP{}) on {}:{}", shared_->settings.name,
            std::string(tls_ ? " over TLS" : ""), host_, listener_.boundPort());
    return Status::ok();
  }

  void stop() override {
    if (!listener_.running()) return;
    shared_->stopping = true;
    listener_.stop();
  }

  Poco::JSON::Object::Ptr health() const override {
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    describeListener(*out, shared_->settings.name, "hl7-mllp", listener_, host_, port_);
    out->set("tls", shared_->settings.tls);
    if (shared_->settings.tls)
      out->set("tls_handshake_timeouts", listener_.counters().handshakeTimeouts);
    shared_->counters.describe(*out);
    out->set("messages_unsupported", shared_->unsupported.load());
    out->set("frames_dropped", shared_->framesDropped.load());
    return out;
  }

 private:
  std::shared_ptr<Shared> shared_;
  std::string host_;
  uint16_t port_;
  Poco::Net::Context::Ptr tls_;
  TcpListener listener_;
};

StatusOr<std::unique_ptr<Source>> createMllpSource(const SourceContext& context) {
  const std::string prefix = "connector." + context.name + ".";
  Settings settings;
  settings.name = context.name;
  settings.instrument = context.instrument;
  // The hl7.* keys are the codec's, which Registry::createSource() built from them.
  if (!context.codec)
    return Status::config(prefix + "kind", "hl7-mllp source made without its codec");
  ListenSettings listen;
  int64_t maxMessageBytes = 1024 * 1024, receiveTimeout = 60, handshakeTimeout = 10;
  for (const auto& [key, value] : context.keys) {
    if (key.rfind("hl7.", 0) == 0) continue;
    Status status;
    if (listen.take(prefix, key, value, status)) {
      // listen, max_connections, or one of the engine's keys
    } else if (key == "max_message_bytes") {
      status = parseInteger(prefix + key, value, 1024, int64_t{1} << 30, maxMessageBytes);
    } else if (key == "receive_timeout_seconds") {
      status = parseInteger(prefix + key, value, 1, 86400, receiveTimeout);
    } else if (key == "tls_handshake_timeout_seconds") {
      status = parseInteger(prefix + key, value, 1, 300, handshakeTimeout);
    } else if (key == "tls.cert" || key == "tls.key" || key == "tls.ca") {
      continue;  // read together below
    } else {
      return Status::config(prefix + key, "unknown key for a connector of kind hl7-mllp");
    }
    if (!status.isOk()) return status;
  }
  if (Status complete = listen.complete(prefix); !complete.isOk()) return complete;
  StatusOr<Poco::Net::Context::Ptr> tls = makeTlsContext(prefix, context.keys);
  if (!tls.isOk()) return tls.status();
  settings.maxMessageBytes = static_cast<size_t>(maxMessageBytes);
  settings.receiveTimeout = std::chrono::seconds(receiveTimeout);
  settings.tls = !tls.value().isNull();
  auto shared = std::make_shared<Shared>(std::move(settings), context.codec, context.handler);
  ConnectionLimits limits = listen.limits();
  limits.handshakeTimeout = std::chrono::seconds(handshakeTimeout);
  return std::unique_ptr<Source>(
      new MllpSource(shared, listen.host, listen.port, limits, tls.value(), context.allow));
}

}  // namespace

/// The codec of a connector's hl7.* keys, which its source parses with (the parser's limit
/// follows max_message_bytes unless hl7.max_message_bytes is set).
StatusOr<std::shared_ptr<const FormatCodec>> makeHl7Codec(const std::string& prefix,
                                                          const KeyValues& keys) {
  Hl7Options options;
  int64_t maxMessageBytes = 1024 * 1024;
  bool parserLimitSet = false;
  for (const auto& [key, value] : keys) {
    Status status;
    if (key.rfind("hl7.", 0) == 0) {
      status = setHl7Option(options, key.substr(4), value);
      if (!status.isOk()) return Status::config(prefix + key, status.reason());
      parserLimitSet = parserLimitSet || key == "hl7.max_message_bytes";
    } else if (key == "max_message_bytes") {
      status = parseInteger(prefix + key, value, 1024, int64_t{1} << 30, maxMessageBytes);
      if (!status.isOk()) return status;
    }
  }
  if (!parserLimitSet) options.maxMessageBytes = static_cast<size_t>(maxMessageBytes);
  return std::shared_ptr<const FormatCodec>(std::make_shared<Hl7Codec>(options));
}

void registerMllpSource(Registry& registry) {
  SourceKind kind;
  kind.factory = createMllpSource;
  kind.codec = makeHl7Codec;
  kind.formatTag = "hl7";
  kind.deduplicate = true;
  registry.addSource("hl7-mllp", std::move(kind));
}

}  // namespace labgate::hl7
