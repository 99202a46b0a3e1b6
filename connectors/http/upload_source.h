// The upload source: POST /api/v1/uploads on the engine's HTTP(S) server takes one batch export
// (multipart/form-data with a "file" part, or the raw file as the body) for a connector of kind
// "upload", runs it through the pipeline and answers (the body is streamed to a 0600 spool file
// under <data.dir>/spool/<connector>/ as it arrives, never held in memory, and the pipeline reads
// it from there; the file is gone once the answer is sent):
//   202 {"batch_id", "status": "stored", "format", "sha256", "results", "held"}
//   200 {"batch_id", "status": "duplicate", ...}     the same content was imported before
//   (401 / 403 come from the REST API, which authorises the request before it gets here)
//   413 problem+json                                  over the connector's max_bytes
//   422 problem+json with "errors": [{location, reason}]   refused (PHI) or not a valid export
//   503 problem+json with Retry-After                 the store could not commit; send again
#pragma once

#include "engine/net/interfaces.h"

namespace labgate::http {

/// Registers kind "upload". Keys: max_bytes (default 256 MiB), format (auto or a format name), and
/// the keys of the export formats.
void registerUploadSource(Registry& registry);

}  // namespace labgate::http
