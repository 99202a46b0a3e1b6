// The hl7-mllp destination: renders released results as HL7 v2.5.1 ORU^R01 and delivers them to
// the LIS over one persistent MLLP connection, waiting for the ACK whose MSA-2 names the message.
// AA/CA -> delivered; AE/AR/CE/CR -> rejected (dead-letter with the reason); no connection, no
// answer within the ack timeout, or an answer for another message -> retry.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "engine/net/interfaces.h"

namespace labgate::hl7 {

struct MllpDestinationOptions {
  std::string host;
  uint16_t port = 0;
  int ackTimeoutSeconds = 30;
  int connectTimeoutSeconds = 10;
  size_t maxAckBytes = 64 * 1024;
  std::string sendingApplication = "LABGATE";
  std::string sendingFacility;
  std::string receivingApplication;
  std::string receivingFacility;
  std::string processingId = "P";
};

/// Reads the destination's keys (host, port, ack_timeout_seconds, ...). Keys handled by the
/// engine for every destination (kind, retry_*) are ignored here; anything else unknown is an
/// error.
Status parseMllpDestinationOptions(const DestinationContext& context,
                                   MllpDestinationOptions& options);

/// Registers kind "hl7-mllp".
void registerMllpDestination(Registry& registry);

}  // namespace labgate::hl7
