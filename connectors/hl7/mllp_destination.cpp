// hl7-mllp destination (see mllp_destination.h).
#include "connectors/hl7/mllp_destination.h"

#include <Poco/DateTimeFormatter.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timestamp.h>

#include <chrono>
#include <mutex>

#include "connectors/hl7/ack.h"
#include "connectors/hl7/mllp.h"
#include "connectors/hl7/oru.h"

namespace labgate::hl7 {
namespace {

constexpr int kPollMillis = 200;

class MllpDestination : public Destination {
 public:
  explicit MllpDestination(MllpDestinationOptions options) : options_(std::move(options)) {}

  std::string render(const Message& released, const std::string& controlId,
                     const std::string& instrument) const override {
    OruHeader header;
    header.sendingApplication = options_.sendingApplication;
    header.sendingFacility = options_.sendingFacility;
    header.receivingApplication = options_.receivingApplication;
    header.receivingFacility = options_.receivingFacility;
    header.controlId = controlId;
    header.timestamp = Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y%m%d%H%M%S+0000");
    header.processingId = options_.processingId;
    header.instrumentId = instrument;
    return buildOruR01(header, released.samples);
  }

  Delivery deliver(const OutboundItem& item) override {
    Delivery out;
    try {
      if (!connected_) connect();
      std::string frame = frameMllp(item.payload);
      socket_.sendBytes(frame.data(), static_cast<int>(frame.size()));
      return awaitAck(item);
    } catch (const Poco::Exception& e) {
      disconnect();
      out.outcome = Delivery::Outcome::kRetry;
      out.detail =
          "MLLP " + options_.host + ":" + std::to_string(options_.port) + ": " + e.displayText();
      return out;
    }
  }

  void cancel() override { cancelled_ = true; }

 private:
  void connect() {
    Poco::Net::SocketAddress address(options_.host, options_.port);
    socket_ = Poco::Net::StreamSocket();
    socket_.connect(address, Poco::Timespan(options_.connectTimeoutSeconds, 0));
    socket_.setNoDelay(true);
    connected_ = true;
  }

  void disconnect() {
    if (!connected_) return;
    try {
      socket_.close();
    } catch (...) {
    }
    connected_ = false;
  }

  Delivery awaitAck(const OutboundItem& item) {
    Delivery out;
    out.outcome = Delivery::Outcome::kRetry;
    MllpDecoder decoder(options_.maxAckBytes);
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(options_.ackTimeoutSeconds);
    char buffer[4096];
    while (!cancelled_ && std::chrono::steady_clock::now() < deadline) {
      if (!socket_.poll(Poco::Timespan(0, kPollMillis * 1000), Poco::Net::Socket::SELECT_READ)) {
        continue;
      }
      int n = socket_.receiveBytes(buffer, sizeof buffer);
      if (n <= 0) {
        disconnect();
        out.detail = "the LIS closed the connection before acknowledging";
        return out;
      }
      for (const std::string& frame : decoder.feed(std::string_view(buffer, n))) {
        StatusOr<AckInfo> ack = parseAck(frame);
        if (!ack.isOk()) {
          disconnect();
          out.detail = "unreadable acknowledgement: " + ack.status().reason();
          return out;
        }
        if (ack->controlId != item.controlId) continue;  // an answer to an older message
        out.ackCode = ack->code;
        if (ack->code == "AA" || ack->code == "CA") {
          out.outcome = Delivery::Outcome::kDelivered;
        } else {
          out.outcome = Delivery::Outcome::kRejected;
          out.detail = ack->text;
          if (!ack->error.empty()) out.detail += (out.detail.empty() ? "" : "; ") + ack->error;
          if (out.detail.empty()) out.detail = "rejected without a reason";
        }
        return out;
      }
    }
    disconnect();  // a late ACK on this connection must not be taken for the next message's
    out.detail = cancelled_ ? "shutting down"
                            : "no acknowledgement within " +
                                  std::to_string(options_.ackTimeoutSeconds) + " s";
    return out;
  }

  MllpDestinationOptions options_;
  Poco::Net::StreamSocket socket_;
  bool connected_ = false;
  std::atomic<bool> cancelled_{false};
};

}  // namespace

Status parseMllpDestinationOptions(const DestinationContext& context,
                                   MllpDestinationOptions& options) {
  const std::string prefix = "destination." + context.name + ".";
  bool haveHost = false, havePort = false;
  for (const auto& [key, value] : context.keys) {
    const std::string full = prefix + key;
    int64_t number = 0;
    Status status;
    if (key == "kind" || key == "org" || key == "retry_initial_ms" || key == "retry_max_ms" ||
        key == "pipeline_depth") {
      continue;
    } else if (key == "host") {
      if (value.empty()) return Status::config(full, "must not be empty");
      options.host = value;
      haveHost = true;
    } else if (key == "port") {
      status = parseInteger(full, value, 1, 65535, number);
      options.port = static_cast<uint16_t>(number);
      havePort = true;
    } else if (key == "ack_timeout_seconds") {
      status = parseInteger(full, value, 1, 3600, number);
      options.ackTimeoutSeconds = static_cast<int>(number);
    } else if (key == "connect_timeout_seconds") {
      status = parseInteger(full, value, 1, 600, number);
      options.connectTimeoutSeconds = static_cast<int>(number);
    } else if (key == "max_ack_bytes") {
      status = parseInteger(full, value, 256, 16 * 1024 * 1024, number);
      options.maxAckBytes = static_cast<size_t>(number);
    } else if (key == "sending_application") {
      options.sendingApplication = value;
    } else if (key == "sending_facility") {
      options.sendingFacility = value;
    } else if (key == "receiving_application") {
      options.receivingApplication = value;
    } else if (key == "receiving_facility") {
      options.receivingFacility = value;
    } else if (key == "processing_id") {
      if (value != "P" && value != "T" && value != "D") {
        return Status::config(full, "must be P (production), T (training) or D (debugging)");
      }
      options.processingId = value;
    } else {
      return Status::config(full, "unknown key for a destination of kind hl7-mllp");
    }
    if (!status.isOk()) return status;
  }
  if (!haveHost) return Status::config(prefix + "host", "missing (the LIS's MLLP host)");
  if (!havePort) return Status::config(prefix + "port", "missing (the LIS's MLLP port)");
  return Status::ok();
}

void registerMllpDestination(Registry& registry) {
  DestinationKind kind;
  kind.factory = [](const DestinationContext& context) -> StatusOr<std::unique_ptr<Destination>> {
    MllpDestinationOptions options;
    Status status = parseMllpDestinationOptions(context, options);
    if (!status.isOk()) return status;
    return std::unique_ptr<Destination>(new MllpDestination(std::move(options)));
  };
  kind.formatTag = "hl7";
  registry.addDestination("hl7-mllp", std::move(kind));
}

}  // namespace labgate::hl7
