// The file-drop source: a watched folder for batch exports (LC-MS/MS quantitation software writes
// a CSV/TSV/XML file into a share; LabGate picks it up).
//
// A file is taken only when it is complete: its size and modification time have not changed for
// `settle_ms`, and it is not a hidden or temporary name (".x", "x.tmp", "x.part", "~x"), so a
// writer that renames a finished file into the inbox is picked up at once and one that writes in
// place is waited for. Each file goes through the pipeline once; then it is moved to
// <inbox>/processed/ (imported) or <inbox>/rejected/ (refused, invalid, or a copy of a file
// imported before), the latter with a NAME.reason file that names the line/element and the rule,
// never a value. A file the store could not commit stays in the inbox and is retried: nothing
// dropped is ever lost.
//
// inotify wakes the scanner when something is written or moved in; polling every `poll_ms` is
// the fallback (and the only mode with watch = poll, e.g. for network shares where inotify sees
// nothing).
#pragma once

#include "engine/net/interfaces.h"

namespace labgate::file {

/// Registers kind "file-drop". Keys: inbox (required), pattern (glob, default "*"), format
/// (auto or a format name), watch (inotify|poll), poll_ms, settle_ms, max_bytes,
/// processed_dir, rejected_dir, and the keys of the export formats.
void registerFileDropSource(Registry& registry);

}  // namespace labgate::file
