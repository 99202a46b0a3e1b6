// The hl7-mllp source: an MLLP server (plain TCP or TLS) for instruments and middleware sending
// HL7 v2 results (ORU^R01, OUL^R22). One thread per connection reassembles MLLP frames; each frame
// is split into its messages (FHS/BHS batches, several MSH), and each message goes through the
// pipeline synchronously, so its ACK is sent only after the commit and tells the truth (AA, or
// AR/AE with an ERR segment naming the field; see ack_policy.h for every answer). Garbage outside
// frames is ignored; an oversize frame is answered AR and the connection stays usable; a stall or
// disconnect mid-frame drops only that connection's partial frame.
#pragma once

#include "engine/net/interfaces.h"

namespace labgate::hl7 {

/// Registers source kind "hl7-mllp" (deduplicating: a resend with the same sender and MSH-10 is
/// acknowledged again but stored once). Keys under connector.NAME.: listen (host:port, required),
/// max_connections (16), max_message_bytes (1048576), receive_timeout_seconds (60), tls.cert and
/// tls.key (PEM, both or neither), tls.ca (clients must present a certificate it signed),
/// hl7.* (the parser options, see parser.h).
void registerMllpSource(Registry& registry);

}  // namespace labgate::hl7
