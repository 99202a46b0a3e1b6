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
// The folder is shared with people and other software, so nothing in it is trusted: symbolic
// links and files with other names (hard links) are refused into rejected/, nothing is followed,
// created or replaced through a link, and a file is read once, from one descriptor, into a
// private copy that is hashed and parsed (inbox_folder.h). A processed/, rejected/ or
// quarantine/ folder that is not a real folder is a fault shown on /health: no file is taken
// until it is mended, and the engine serves on. Each import attempt is recorded under data.dir
// before it starts; a file whose import the engine did not survive (or that threw) twice is moved
// to <inbox>/quarantine/ with a .reason instead of being tried again.
//
// inotify wakes the scanner when something is written or moved in; polling every `poll_ms` is
// the fallback (and the only mode with watch = poll, e.g. for network shares where inotify sees
// nothing).
#pragma once

#include "engine/net/interfaces.h"

namespace labgate::file {

/// Registers kind "file-drop". Keys: inbox (required), pattern (glob, default "*"), format
/// (auto or a format name), watch (inotify|poll), poll_ms, settle_ms, max_bytes,
/// processed_dir, rejected_dir, quarantine_dir, and the keys of the export formats.
void registerFileDropSource(Registry& registry);

}  // namespace labgate::file
