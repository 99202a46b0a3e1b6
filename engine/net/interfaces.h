// The two plug-in interfaces every connector implements, and the registry that creates them by
// name from configuration (`connector.NAME.kind = astm-tcp`, `destination.NAME.kind = hl7-mllp`),
// the way Envoy registers filters: adding a format adds one folder and one line in
// server/plugins.cpp (docs/adding-a-connector.md).
//
// A Source listens for instruments and hands each complete message, as an Envelope, to the
// pipeline through the IntakeHandler it was given; it answers the instrument from the Intake.
// A Destination renders the payload of a released message (pure) and delivers one queued item,
// returning the peer's answer; the DeliveryWorker owns order, retries and the queue.
#pragma once

#include <Poco/JSON/Object.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/model/document.h"
#include "engine/model/mapping_stage.h"
#include "engine/model/model.h"
#include "engine/model/outbound.h"
#include "engine/model/rules_stage.h"
#include "engine/model/status.h"
#include "engine/net/export.h"
#include "engine/security/cidr.h"

namespace labgate {

/// The parse and build steps of one wire format. Pure; thread-safe.
class FormatCodec {
 public:
  virtual ~FormatCodec() = default;
  virtual StatusOr<Document> parse(std::string_view text) const = 0;
  virtual StatusOr<Message> build(const Document& document) const = 0;
  /// The format's tag, stored with each message ("astm", "hl7").
  virtual const std::string& formatTag() const = 0;
  /// The messages of a capture as a file holds it (`labgate dry-run`): wire framing removed and
  /// a batch split into single messages, each then given to parse(). Status::invalid (location,
  /// reason) when the framing is broken.
  virtual StatusOr<std::vector<std::string>> split(std::string_view capture) const {
    return std::vector<std::string>{std::string(capture)};
  }
};

/// What the pipeline did with one inbound message.
struct Intake {
  /// kDuplicate: the same message (sender and control id) was stored before; nothing was stored
  /// now, and the sender is told it arrived (it did, earlier).
  enum class Outcome { kAccepted, kRefused, kInvalid, kFailed, kDuplicate };
  Outcome outcome = Outcome::kFailed;
  Status status;          // why not accepted; locations and pattern ids only
  int64_t messageId = 0;  // row id when accepted
  size_t results = 0;
  size_t held = 0;
  /// Every problem found, for a reason file or a problem document (locations, rule ids and
  /// reasons only, never a value).
  struct Problem {
    std::string location;  // "line 12 column 4", "file name", "PID-5"
    std::string reason;
    std::string toString() const { return location.empty() ? reason : location + ": " + reason; }
  };
  std::vector<Problem> details;
  bool accepted() const { return outcome == Outcome::kAccepted || outcome == Outcome::kDuplicate; }
};

using IntakeHandler = std::function<Intake(const Envelope&, const FormatCodec&)>;

/// Runs one batch export through the pipeline (sources of kind file-drop, the upload endpoint).
using ExportHandler = std::function<Intake(const ExportJob&)>;

/// Configuration keys of one connector or destination: the part after "connector.NAME." mapped
/// to its value, e.g. {"listen": "127.0.0.1:9500", "astm.max_frame_bytes": "65536"}.
using KeyValues = std::map<std::string, std::string>;

struct SourceContext {
  std::string name;
  std::string instrument;
  KeyValues keys;
  IntakeHandler handler;
  /// For export sources: the pipeline entry for whole files, and the formats they may name.
  ExportHandler exportHandler;
  const ExportFormats* exportFormats = nullptr;
  std::string configDir;  // relative paths in the connector's keys are resolved against it
  /// data.dir: a source's private working files (file-drop: copies being read, import attempts;
  /// uploads: request bodies spooled as they arrive).
  /// Empty when the source is only checked (--check-config), not run.
  std::string dataDir;
  /// connector.NAME.allow: the peer addresses this connector serves (empty = any). TCP sources
  /// close other connections at once; the REST API checks uploads against it.
  security::AllowList allow;
  /// Message sources: the codec Registry::createSource() built through the kind's CodecFactory
  /// from `keys`. The source parses with it and hands it to `handler`, so what the engine, `labgate
  /// dry-run` and `--check-config` build is what runs. Null for export sources.
  std::shared_ptr<const FormatCodec> codec;
};

class Source {
 public:
  virtual ~Source() = default;
  /// Binds and starts serving; a bind failure is a Status naming the listen key.
  virtual Status start() = 0;
  /// Stops accepting, closes connections, waits for their threads.
  virtual void stop() = 0;
  /// State for /health: name, kind, state, listen, counters.
  virtual Poco::JSON::Object::Ptr health() const = 0;
};

/// The peer's answer to one delivery.
struct Delivery {
  enum class Outcome { kDelivered, kRejected, kRetry };
  Outcome outcome = Outcome::kRetry;
  std::string ackCode;  // AA, AE, AR, ...
  std::string detail;   // why rejected or why to retry (no payload content)
};

class Destination {
 public:
  virtual ~Destination() = default;
  /// Renders the payload for the released part of `message`. Pure.
  virtual std::string render(const Message& released, const std::string& controlId,
                             const std::string& instrument) const = 0;
  /// Sends one payload and waits for the answer (blocking, bounded by the ack timeout).
  virtual Delivery deliver(const OutboundItem& item) = 0;
  /// Gives up on any blocking operation (called at shutdown).
  virtual void cancel() {}
};

struct DestinationContext {
  std::string name;
  KeyValues keys;
};

using SourceFactory = std::function<StatusOr<std::unique_ptr<Source>>(const SourceContext&)>;
using DestinationFactory =
    std::function<StatusOr<std::unique_ptr<Destination>>(const DestinationContext&)>;
/// Builds a message source's codec from the connector's own keys (the part after
/// "connector.NAME."), reading the keys of its format (astm.*, hl7.*) and ignoring the others;
/// errors are Status::config naming the full key (`keyPrefix` + key).
using CodecFactory = std::function<StatusOr<std::shared_ptr<const FormatCodec>>(
    const std::string& keyPrefix, const KeyValues& keys)>;
/// Loads a connector's mapping set (connector.NAME.mappings) or rule set (connector.NAME.rules)
/// from its file; the error names the file and line, the caller adds the key.
using MappingLoader =
    std::function<StatusOr<std::shared_ptr<const MappingStage>>(const std::string& path)>;
using RulesLoader =
    std::function<StatusOr<std::shared_ptr<const RulesStage>>(const std::string& path)>;
/// Parses a mapping spreadsheet's bytes (an upload, a stored version, a connector's file) into
/// its stage, rows and every problem found; `source` names it in messages.
using MappingParser =
    std::function<ParsedMappings(std::string_view bytes, const std::string& source)>;

/// What a connector kind says about itself: one registration per kind.
struct SourceKind {
  SourceFactory factory;
  /// Message sources (astm-tcp, hl7-mllp): the codec built from the connector's keys, exactly
  /// the one the source parses with. Null for export sources (file-drop, upload), whose format
  /// is chosen per file from the export formats.
  CodecFactory codec;
  /// The format tag of the messages ("astm", "hl7"); "" for export sources (each file's format
  /// name is its tag).
  std::string formatTag;
  /// The format has reliable message ids (HL7 MSH-10, an export's content hash), so resends from
  /// the same sender are recognised and stored once.
  bool deduplicate = false;
};

struct DestinationKind {
  DestinationFactory factory;
  std::string formatTag;  // what it sends ("hl7")
};

/// Plug-ins by kind: connector kinds (`connector.NAME.kind = astm-tcp`), destination kinds
/// (`destination.NAME.kind = hl7-mllp`), export formats, and the mapping and rules stages.
/// server/plugins.cpp fills one at start-up; the engine, `labgated --check-config` and `labgate
/// dry-run` look everything up here. Factories validate their own keys and answer Status::config
/// naming the full key ("connector.lab1.astm.max_frame_bytes") and what is wrong.
class Registry {
 public:
  /// Registers `kind`; a kind registered twice is a programming error (std::logic_error).
  void addSource(const std::string& kind, SourceKind info);
  void addDestination(const std::string& kind, DestinationKind info);
  const SourceKind* sourceKind(const std::string& kind) const;
  const DestinationKind* destinationKind(const std::string& kind) const;
  /// Creates a source of `kind` (unknown: requireSource's error): builds its codec through the
  /// kind's CodecFactory (when it has one) from context.keys into context.codec, then calls its
  /// factory. The one way the engine and `--check-config` make sources.
  StatusOr<std::unique_ptr<Source>> createSource(const std::string& kind,
                                                 SourceContext context) const;
  const DestinationFactory* destination(const std::string& kind) const;
  bool deduplicates(const std::string& kind) const;
  std::vector<std::string> sourceKinds() const;
  std::vector<std::string> destinationKinds() const;
  /// The connector kind `kind` of connector `name`, or Status::config naming the key
  /// connector.NAME.kind and listing the known kinds.
  StatusOr<const SourceKind*> requireSource(const std::string& name, const std::string& kind) const;
  /// The same for destination.NAME.kind.
  StatusOr<const DestinationKind*> requireDestination(const std::string& name,
                                                      const std::string& kind) const;
  /// Batch export formats (connectors/csv, connectors/xml register theirs).
  ExportFormats& exportFormats() { return exportFormats_; }
  const ExportFormats& exportFormats() const { return exportFormats_; }
  /// The stages a connector profile loads (mappings/, rules/ register them).
  void setMappingLoader(MappingLoader loader) { mappingLoader_ = std::move(loader); }
  void setRulesLoader(RulesLoader loader) { rulesLoader_ = std::move(loader); }
  const MappingLoader& mappingLoader() const { return mappingLoader_; }
  const RulesLoader& rulesLoader() const { return rulesLoader_; }
  /// The mapping stage's parser for mapping sets stored in the database (mappings/).
  void setMappingParser(MappingParser parser) { mappingParser_ = std::move(parser); }
  const MappingParser& mappingParser() const { return mappingParser_; }

 private:
  std::map<std::string, SourceKind> sources_;
  std::map<std::string, DestinationKind> destinations_;
  ExportFormats exportFormats_;
  MappingLoader mappingLoader_;
  RulesLoader rulesLoader_;
  MappingParser mappingParser_;
};

/// The export formats of a source of `kind` (file-drop, upload), configured from `settings`:
/// Status::config when the engine gave the source no export pipeline or a format key is bad.
StatusOr<ExportSelection> exportSelectionFor(const SourceContext& context, const std::string& kind,
                                             const ExportSettings& settings);

/// Splits "host:port" (IPv4, name, or [IPv6]) into its parts; Status::config naming `key` if bad.
Status parseHostPort(const std::string& key, const std::string& text, std::string& host,
                     uint16_t& port);
/// Parses a whole number in [min, max]; Status::config naming `key` if bad.
Status parseInteger(const std::string& key, const std::string& text, int64_t min, int64_t max,
                    int64_t& out);

}  // namespace labgate
