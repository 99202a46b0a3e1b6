// Batch exports: the files LC-MS/MS quantitation software writes (MassHunter CSV, MultiQuant TSV,
// TargetLynx XML, Skyline, TASQ, layout-driven generic formats). Unlike ASTM and HL7 they arrive
// whole, can be hundreds of megabytes, and are read as a stream.
//
// A format is registered by name (connectors/csv, connectors/xml) with a signature detector and a
// factory that validates the connector's own keys once, at start-up. For each file the pipeline
// opens an ExportParse over the bytes and runs, record by record:
//
//     next(record)  ->  PHI gate screens record  ->  accept(record)      ... until next() is false
//     finish()      ->  the canonical Message (one batch)
//
// so the gate sees every header cell, every data cell and every XML attribute before the format
// interprets it, and the stream is never held whole in memory by the delimited formats.
#pragma once

#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/document.h"
#include "engine/model/model.h"
#include "engine/model/status.h"

namespace labgate {

/// One file being read. Not thread-safe; used by one thread from open() to finish().
class ExportParse {
 public:
  virtual ~ExportParse() = default;

  /// Reads the next record the PHI gate must see, header rows included: `type`, `ordinal`, `line`
  /// (1-based, where the record starts), `fields[1..]` (the cells or attribute values, decoded to
  /// UTF-8; fields[0] unused), `names` (column header or attribute names, may be null).
  /// Returns false at the end of the input. Malformed input is a Status::invalid whose location is
  /// "line N" (or "line N column C") and whose reason names the rule broken, never a value.
  virtual StatusOr<bool> next(Record& record) = 0;

  /// Takes back the record next() produced, after screening: fields the gate stripped are empty.
  /// Structural problems found while interpreting the record are a Status::invalid as above.
  virtual Status accept(const Record& record) = 0;

  /// After the last record: the batch. Status::invalid (e.g. "no sample rows") when the file as a
  /// whole does not make a batch. After takeSamples(): the samples not taken yet, and what the
  /// batch as a whole says (sender, curves, run order); "no sample rows" counts the taken ones.
  virtual StatusOr<Message> finish() = 0;

  /// Bounded memory (ADR 0017): the number of results the parse holds in complete samples now,
  /// i.e. what takeSamples() would hand over. Formats whose samples are complete only at the end
  /// of the file (a compound-per-row table, XML sorted by name) keep the default 0 and are read
  /// whole as before.
  virtual size_t completeResults() const { return 0; }

  /// Moves the complete samples read so far to the end of `out.samples`, in file order, and
  /// forgets them; sets out's batch-level fields (sender, run order, curves) to what the file has
  /// said so far. The samples' values are final: whatever finish() would have settled for the
  /// whole file (a date order, say) is settled from what was read so far. Returns the number of
  /// samples moved.
  virtual size_t takeSamples(Message& out) {
    (void)out;
    return 0;
  }
};

/// A format configured for one connector. Immutable; open() may be called from any thread.
class ExportFormat {
 public:
  virtual ~ExportFormat() = default;
  /// Starts reading `in`, which must outlive the returned parse.
  virtual StatusOr<std::unique_ptr<ExportParse>> open(std::istream& in) const = 0;
};

/// What a format's factory gets at start-up: the connector's keys (the part after
/// "connector.NAME."), and the prefix for error messages.
struct ExportSettings {
  std::string keyPrefix;  // "connector.lcms1."
  std::map<std::string, std::string> keys;
  std::string configDir;  // relative layout/schema paths are resolved against it
};

using ExportFormatFactory =
    std::function<StatusOr<std::shared_ptr<const ExportFormat>>(const ExportSettings&)>;

struct ExportFormatInfo {
  std::string name;  // "masshunter", "sciex", "targetlynx-xml", "layout", ...
  std::string description;
  /// Recognises the format from the file's first bytes (up to 64 KiB, raw, any encoding).
  /// Null: the format is never chosen by `format = auto` (layout-driven formats).
  std::function<bool(std::string_view head)> detect;
  ExportFormatFactory factory;
  /// The connector keys this format reads beyond the common ones, e.g. {"layout"}: the connector
  /// refuses keys no part of it knows.
  std::vector<std::string> keys;
  /// The syntax of its records, which selects the PHI gate's per-format rules (csv or xml).
  SourceFormat syntax = SourceFormat::kCsv;
};

/// Export formats by name, in registration order (auto-detection tries them in that order).
class ExportFormats {
 public:
  void add(ExportFormatInfo info);
  const ExportFormatInfo* find(const std::string& name) const;
  /// The first registered format whose detector accepts `head`, or null.
  const ExportFormatInfo* detect(std::string_view head) const;
  std::vector<std::string> names() const;
  const std::vector<ExportFormatInfo>& all() const { return formats_; }

 private:
  std::vector<ExportFormatInfo> formats_;
};

struct ExportJob;

/// The formats one export connector reads, configured at start-up from its keys:
///   format = auto | NAME   (auto: recognised by signature from each file's first bytes)
/// plus the keys of the formats (layout, encoding, decimal, xml.schema, ...).
class ExportSelection {
 public:
  /// Configures the named format, or every detectable one for "auto". Errors are Status::config
  /// naming the full key.
  static StatusOr<ExportSelection> configure(const ExportFormats& formats,
                                             const ExportSettings& settings);
  /// True when `key` (after "connector.NAME.") belongs to the export formats ("format" or a key
  /// some registered format reads).
  static bool isExportKey(const ExportFormats& formats, const std::string& key);

  struct Choice {
    std::string name;
    std::shared_ptr<const ExportFormat> format;
  };
  /// The format for one file: `requested` if not empty (an upload's ?format=), else the
  /// connector's own, else the first format whose signature matches `head`. Status::invalid
  /// ("line 1", ...) when nothing recognises the file, listing what was tried.
  StatusOr<Choice> choose(std::string_view head, const std::string& requested) const;

  const std::string& configuredName() const { return fixed_; }

  /// Sets job.format, job.formatName and job.syntax from choose(head, requested), or
  /// job.formatError (and formatName "unknown") when nothing recognises the file: the pipeline then
  /// rejects it with that reason, audited like any invalid message.
  void assign(ExportJob& job, std::string_view head, const std::string& requested) const;

 private:
  const ExportFormats* formats_ = nullptr;
  ExportSettings settings_;
  std::string fixed_;  // "" = auto
  std::vector<Choice> configured_;
};

/// One export to process, as a file-drop source or the upload endpoint hands it to the pipeline.
struct ExportJob {
  std::istream* in = nullptr;                  // positioned at the start of the file
  std::shared_ptr<const ExportFormat> format;  // null: no format recognised it (formatError says)
  Status formatError;
  std::string formatName;                    // the chosen format's tag, stored with the batch
  SourceFormat syntax = SourceFormat::kCsv;  // the chosen format's (ExportFormatInfo::syntax)
  std::string fileName;       // as dropped or uploaded; screened by the gate before it is logged
  std::string peer;           // "file-drop" or the uploader's "host:port"
  std::string contentSha256;  // of the whole file: recognises a copy dropped again
  int64_t sizeBytes = 0;
};

}  // namespace labgate
