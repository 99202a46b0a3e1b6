// The astm-tcp source: a TCP server for instruments speaking ASTM E1381/E1394 (LIS2-A2).
// One thread per connection runs an E1381 Receiver; each complete message goes through the
// pipeline synchronously, so the frame that completes it is acknowledged only after the commit
// (NAK when refused). Bad bytes, stalls and disconnects discard only that connection's partial
// message; other connections carry on.
#pragma once

#include "engine/net/interfaces.h"

namespace labgate::astm {

/// Registers kind "astm-tcp". Keys: listen (host:port, required), max_connections, astm.* (the
/// tolerance options of options.h).
void registerAstmSource(Registry& registry);

}  // namespace labgate::astm
