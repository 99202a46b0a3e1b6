// The pipeline: parse -> PHI gate -> build -> map -> decide -> render -> commit, for one message.
// Each stage is a pure function of its input and explicit state (gate patterns, mapping set);
// the runner here does the I/O around them (the store commit, waking delivery workers).
//
// Nothing is written anywhere before the gate has passed the message: a refused message leaves
// one audit event naming connector, field locations and pattern ids, never a value.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/mapping_stage.h"
#include "engine/model/rules_stage.h"
#include "engine/net/interfaces.h"
#include "engine/phi/phi_gate.h"
#include "engine/store/store.h"

namespace labgate {

/// What the pipeline needs to know about the connector a message came through.
struct ConnectorProfile {
  std::string name;
  std::string instrument;
  std::string orgId = "default";
  phi::Policy policy = phi::Policy::kRefuse;
  /// The connector's mapping set (connector.NAME.mappings); null: codes pass unmapped.
  std::shared_ptr<const MappingStage> mappings;
  std::vector<std::string> destinations;
  /// Recognise resends by (sender, control id) and store them once (HL7 MSH-10).
  bool deduplicate = false;
  /// The connector's rule set (connector.NAME.rules); null: mapping findings only.
  std::shared_ptr<const RulesStage> rules;
};

/// The decide stage: each result gets the worst action of its findings of warning severity or
/// above (hold by default, reject for a re-run); a result without such findings is released. One
/// Disposition per result, in message order.
std::vector<Disposition> decideDispositions(const Message& message);

/// The released part of a message, what destinations receive: samples keep only released
/// results; calibrators, QCs, blanks and internal standards are never sent; samples left empty are
/// dropped. Pure.
Message releasedPart(const Message& message, const std::vector<Disposition>& dispositions);

/// A new outbound control id, unique per engine: "LG" + time + sequence (at most 20 characters,
/// the length of HL7 MSH-10).
std::string newControlId();

class Pipeline {
 public:
  using DestinationMap = std::map<std::string, std::shared_ptr<Destination>>;

  Pipeline(std::shared_ptr<Store> store, std::shared_ptr<const phi::PhiGate> gate,
           DestinationMap destinations);

  /// Runs every stage on one envelope and commits what passes. Never throws for bad input.
  Intake process(const Envelope& envelope, const ConnectorProfile& profile,
                 const FormatCodec& codec);

  /// Runs one batch export (a whole file) through the same stages, streaming: the file name and
  /// then every record the format reads are screened by the gate before the format interprets
  /// them. A file whose content was stored before (same SHA-256, same connector) is recognised
  /// before it is read and reported as kDuplicate. Under the refuse policy the rest of the file is
  /// still screened (up to 1000 hits) so that the refusal lists every location.
  Intake processExport(const ExportJob& job, const ConnectorProfile& profile);

  /// What a commit records about where the message came from.
  struct CommitMeta {
    std::string format;  // "astm", "hl7", "masshunter", ...
    std::string peer;
    std::string contentSha256;
    std::string sourceName;    // exports: the file name, if the gate passed it
    std::string dedupeSender;  // exports: "file" (the dedupe key is the content hash)
    std::string rawBody;       // encryption at rest: the bytes to store sealed (gate-clean only)
    std::optional<SealedBodyFile> bodyFile;  // exports: the received file, sealed
    const char* what() const { return dedupeSender.empty() ? "message" : "file"; }
  };

  /// Called after a commit that queued items for a destination (wakes its delivery worker).
  void setQueuedListener(std::function<void(const std::string& destination)> listener);

  /// Dry run (`labgate dry-run`): nothing is stored or audited; each message that would be
  /// committed is handed to `sink` with its dispositions instead, and counts as accepted.
  using DryRunSink =
      std::function<void(const Message& message, const std::vector<Disposition>& dispositions)>;
  void setDryRun(DryRunSink sink);

  /// Batch exports in bounded memory (docs/adr/0017-bounded-export-import.md): once a format
  /// that hands its samples over as it reads (ExportParse::takeSamples) holds `results` results,
  /// the file is mapped, judged by the rules and stored window by window, each window of about
  /// that many results, inside the batch's one commit. 0: every file is held whole (as before).
  void setExportWindow(size_t results) { exportWindow_ = results; }
  size_t exportWindow() const { return exportWindow_; }
  /// The most results one window of the last windowed export held (its own samples and the
  /// calibrators carried into it): what bounds the pipeline's memory, for tests and benchmarks.
  size_t largestExportWindow() const { return largestWindow_.load(); }
  static constexpr size_t kDefaultExportWindow = 20000;

 private:
  enum class ExportRead { kEnd, kFull, kFailed };
  /// What processExport hands over when a file turns out too large to hold whole.
  struct ExportStreamIo {
    const ExportJob& job;
    const ConnectorProfile& profile;
    CommitMeta& meta;
    phi::Screening& screening;
    bool& refused;
    Status& readError;
    size_t window;
    std::function<ExportRead(size_t window)> read;
  };
  class WindowedExport;
  /// Reads the rest of the file window by window into Store::commitExportStream.
  Intake streamExport(ExportParse& parse, ExportStreamIo& io);
  RulesContext rulesContext(const ConnectorProfile& profile) const;

  /// Map, decide, render and commit a built message.
  Intake commitBuilt(Message message, const ConnectorProfile& profile, const CommitMeta& meta,
                     const phi::Screening& screening);
  /// Not a valid message: audit event (location and reason, no values) and log.
  Intake reject(const CommitMeta& meta, const ConnectorProfile& profile, const Status& why);
  Intake refuse(const CommitMeta& meta, const ConnectorProfile& profile,
                const std::string& sampleId, const phi::Screening& screening);

  std::shared_ptr<Store> store_;
  std::shared_ptr<const phi::PhiGate> gate_;
  DestinationMap destinations_;
  std::function<void(const std::string&)> queuedListener_;
  DryRunSink dryRun_;
  size_t exportWindow_ = kDefaultExportWindow;
  std::atomic<size_t> largestWindow_{0};
};

/// `released` (see releasedPart) rendered for every destination of `profile`, each with a new
/// control id: what the pipeline queues for auto-released results, and a re-evaluation for the
/// results it releases (engine/pipeline/reevaluation.h). Empty when `released` has no sample.
std::vector<OutboundDraft> renderForDestinations(const Message& released,
                                                 const ConnectorProfile& profile,
                                                 const Pipeline::DestinationMap& destinations);

}  // namespace labgate
