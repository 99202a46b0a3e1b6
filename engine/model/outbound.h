// One queued delivery: what a destination sends (the plug-in contract, engine/net/interfaces.h)
// and what the store keeps in its outbound queue.
#pragma once

#include <cstdint>
#include <string>

namespace labgate {

/// A queued outbound message as the delivery worker sees it.
struct OutboundItem {
  int64_t id = 0;
  std::string orgId;
  std::string destination;
  std::string controlId;
  std::string payload;
  int attempts = 0;
  std::string createdAt;  // ISO-8601 UTC: when it was queued (the delivery latency's start)
};

}  // namespace labgate
