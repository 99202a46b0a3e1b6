// The one list of plug-ins this build has: every connector kind, destination kind, export format
// and pipeline stage, registered by kind. The only file that names them all; adding a connector
// adds one line here (docs/adding-a-connector.md).
#pragma once

#include "engine/net/interfaces.h"

namespace labgate {

/// Registers every plug-in of this build into `registry` (connector kinds astm-tcp, hl7-mllp,
/// file-drop, upload; destination kind hl7-mllp; the csv and xml export formats; the mapping and
/// rules stages).
void registerPlugins(Registry& registry);

}  // namespace labgate
