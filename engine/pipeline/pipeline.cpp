// Pipeline runner (see pipeline.h).
#include "engine/pipeline/pipeline.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>

#include "engine/log/log.h"
#include "engine/metrics/metrics.h"
#include "engine/model/json_text.h"
#include "engine/store/audit.h"

namespace labgate {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("pipeline"); }

/// "[{"location":"P-6","pattern":"structural.P-6"},...]": what the audit and log may say.
std::string hitsJson(const phi::Screening& screening) {
  std::string out = "[";
  for (size_t i = 0; i < screening.hits.size(); ++i) {
    if (i) out += ",";
    out += "{\"location\":" + jsonQuote(screening.hits[i].location) +
           ",\"pattern\":" + jsonQuote(screening.hits[i].patternId) + "}";
  }
  return out + "]";
}

/// Counts each distinct pattern id of `screening` once on `counter` (labels: connector, pattern).
void countPatterns(const metrics::Counter& counter, const std::string& connector,
                   const phi::Screening& screening) {
  std::set<std::string> patterns;
  for (const auto& hit : screening.hits) patterns.insert(hit.patternId);
  for (const auto& pattern : patterns) counter.inc({connector, pattern});
}

/// Counts the findings of a stored message by rule id and severity.
void countFindings(const std::string& connector, const Message& message) {
  metrics::Counter findings = metrics::ruleFindings();
  for (const Sample& sample : message.samples) {
    for (const Result& result : sample.results) {
      for (const Finding& f : result.findings) {
        findings.inc({connector, f.ruleId, toString(f.severity)});
      }
    }
  }
  for (const BatchFinding& b : message.batchFindings) {
    findings.inc({connector, b.finding.ruleId, toString(b.finding.severity)});
  }
}

std::string hitsSummary(const phi::Screening& screening) {
  std::string out;
  for (const auto& hit : screening.hits) {
    if (!out.empty()) out += ", ";
    out += hit.location + " (" + hit.patternId + ")";
  }
  return out;
}

/// The first sample id of the document (ASTM O-3) unless a hit touched it: the refusal audit may
/// name the sample, but never a field the gate found identifying.
std::string refusedSampleId(const Document& doc, const phi::Screening& screening) {
  for (const Record& record : doc.records) {
    if (record.type != "O" || record.fields.size() <= 3) continue;
    for (const auto& hit : screening.hits) {
      if (hit.recordOrdinal == record.ordinal && hit.field == 3) return "";
    }
    return std::string(record.fields[3].text());
  }
  return "";
}

/// How log lines name a message or file: a prefix of the SHA-256 of the bytes received, never a
/// field of it (a control id or file name may be what the gate refused). The same reference is
/// in the connector's own log line about the message.
std::string reference(const Pipeline::CommitMeta& meta) {
  if (meta.contentSha256.empty()) return "(unhashed)";
  return "sha256:" + meta.contentSha256.substr(0, 12);
}

/// Exports: the file (name only when the gate passed it) and its content hash, for the audit.
std::string exportDetail(const Pipeline::CommitMeta& meta) {
  if (meta.dedupeSender.empty()) return "";
  return ",\"file\":" + jsonQuote(meta.sourceName) + ",\"sha256\":" + jsonQuote(meta.contentSha256);
}

/// The commit of a message from `profile`'s connector, saying where it came from (`meta`).
InboundCommit newCommit(const ConnectorProfile& profile, const Pipeline::CommitMeta& meta) {
  InboundCommit commit;
  commit.orgId = profile.orgId;
  commit.connector = profile.name;
  commit.instrument = profile.instrument;
  commit.format = meta.format;
  commit.peer = meta.peer;
  commit.receivedAt = isoNow();
  commit.contentSha256 = meta.contentSha256;
  commit.sourceName = meta.sourceName;
  commit.dedupeSender = meta.dedupeSender;
  return commit;
}

}  // namespace

std::vector<Disposition> decideDispositions(const Message& message) {
  std::vector<Disposition> out;
  for (const Sample& sample : message.samples) {
    for (const Result& result : sample.results) {
      Disposition d;
      for (const Finding& f : result.findings) {
        if (f.severity != Severity::kInfo && f.action > d.kind) d.kind = f.action;
        d.findings.push_back(f);
      }
      out.push_back(std::move(d));
    }
  }
  return out;
}

Message releasedPart(const Message& message, const std::vector<Disposition>& dispositions) {
  // Everything but the samples, without copying them first (a batch export's are many).
  Message out;
  out.controlId = message.controlId;
  out.sender = message.sender;
  out.processingId = message.processingId;
  out.version = message.version;
  out.sentAt = message.sentAt;
  out.listedInRunOrder = message.listedInRunOrder;
  out.curves = message.curves;
  out.rulesVersion = message.rulesVersion;
  out.batchFindings = message.batchFindings;
  out.qcValues = message.qcValues;
  out.metrics = message.metrics;
  size_t index = 0;
  for (const Sample& sample : message.samples) {
    Sample kept;
    kept.sampleId = sample.sampleId;
    kept.kind = sample.kind;
    kept.level = sample.level;
    kept.lot = sample.lot;
    kept.nominalConcentration = sample.nominalConcentration;
    kept.dilution = sample.dilution;
    kept.position = sample.position;
    kept.acquiredAt = sample.acquiredAt;
    kept.injection = sample.injection;
    kept.dataFile = sample.dataFile;
    kept.location = sample.location;
    // Calibrators, QCs and blanks of an LC-MS/MS batch are the batch's own evidence (kept for the
    // rules), not results for a patient: only unknowns go to the LIS, and never an internal
    // standard's peak.
    const bool reportable = sample.kind == SampleKind::kUnknown;
    for (const Result& result : sample.results) {
      bool released =
          index < dispositions.size() && dispositions[index].kind == DispositionKind::kRelease;
      ++index;
      if (released && reportable && !result.internalStandard) kept.results.push_back(result);
    }
    if (!kept.results.empty()) out.samples.push_back(std::move(kept));
  }
  return out;
}

std::vector<OutboundDraft> renderForDestinations(const Message& released,
                                                 const ConnectorProfile& profile,
                                                 const Pipeline::DestinationMap& destinations) {
  std::vector<OutboundDraft> out;
  if (released.samples.empty()) return out;
  for (const std::string& name : profile.destinations) {
    auto it = destinations.find(name);
    if (it == destinations.end()) continue;  // validated at start-up
    std::string controlId = newControlId();
    out.push_back({name, controlId, it->second->render(released, controlId, profile.instrument)});
  }
  return out;
}

std::string newControlId() {
  static std::atomic<uint32_t> sequence{0};
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "LG%011llX%04X", static_cast<unsigned long long>(millis),
                static_cast<unsigned>(sequence.fetch_add(1) & 0xFFFF));
  return buf;
}

Pipeline::Pipeline(std::shared_ptr<Store> store, std::shared_ptr<const phi::PhiGate> gate,
                   DestinationMap destinations)
    : store_(std::move(store)), gate_(std::move(gate)), destinations_(std::move(destinations)) {}

void Pipeline::setQueuedListener(std::function<void(const std::string&)> listener) {
  queuedListener_ = std::move(listener);
}

void Pipeline::setDryRun(DryRunSink sink) { dryRun_ = std::move(sink); }

Intake Pipeline::process(const Envelope& envelope, const ConnectorProfile& profile,
                         const FormatCodec& codec) {
  StatusOr<Document> parsed = codec.parse(envelope.bytes);
  CommitMeta meta;
  meta.format = codec.formatTag();
  meta.peer = envelope.peer;
  // Hashed first: a refusal's log line names the message by this digest (never by a field).
  meta.contentSha256 =
      envelope.contentSha256.empty() ? sha256Hex(envelope.bytes) : envelope.contentSha256;
  if (!parsed.isOk()) return reject(meta, profile, parsed.status());
  Document& doc = parsed.value();
  phi::Screening screening = gate_->screen(doc, profile.policy);
  if (!screening.clean() && profile.policy == phi::Policy::kRefuse) {
    return refuse(meta, profile, refusedSampleId(doc, screening), screening);
  }

  StatusOr<Message> built = codec.build(doc);
  if (!built.isOk()) return reject(meta, profile, built.status());
  // Encryption at rest (ADR 0008): the received bytes are kept, sealed, only when the gate passed
  // them unchanged; bytes that held what the gate stripped are never stored.
  if (screening.clean() && store_ && !dryRun_ && store_->encryptsAtRest()) {
    meta.rawBody = envelope.bytes;
  }
  return commitBuilt(std::move(built).value(), profile, meta, screening);
}

Intake Pipeline::processExport(const ExportJob& job, const ConnectorProfile& profile) {
  CommitMeta meta;
  meta.format = job.formatName;
  meta.peer = job.peer;
  meta.contentSha256 = job.contentSha256;
  meta.dedupeSender = "file";
  const std::string controlId = "sha256:" + job.contentSha256;

  if (profile.deduplicate && !dryRun_) {
    std::optional<int64_t> earlier = store_->findInbound(
        profile.orgId, profile.name, meta.dedupeSender, controlId, job.contentSha256);
    if (earlier) {
      Intake intake;
      intake.outcome = Intake::Outcome::kDuplicate;
      intake.messageId = *earlier;
      intake.details.push_back(
          {"file", "identical content was imported before as batch " + std::to_string(*earlier)});
      AuditEvent event;
      event.orgId = profile.orgId;
      event.actor = "connector:" + profile.name;
      event.action = "message.duplicate";
      event.subject = "message:" + std::to_string(*earlier);
      event.detail = "{\"sha256\":" + jsonQuote(job.contentSha256) + "}";
      Status audited = store_->appendAudit(event);
      if (!audited.isOk()) {
        logError(logger(), "connector {}: could not record a duplicate: {}", profile.name,
                 audited.toString());
      }
      logInfo(logger(),
              "connector {}: file from {} has the content of batch {}; not imported "
              "again",
              profile.name, job.peer, static_cast<Poco::Int64>(*earlier));
      return intake;
    }
  }

  // The syntax the gate's per-format rules apply to: the chosen format's own (no format was
  // recognised: the file name is screened as delimited text).
  const SourceFormat source = job.syntax;
  phi::Screening screening;
  constexpr size_t kMaxHits = 1000;
  bool refused = false;
  auto collect = [&](const phi::Screening& found) {
    for (const auto& hit : found.hits) {
      if (screening.hits.size() < kMaxHits) screening.hits.push_back(hit);
    }
    if (!found.clean() && profile.policy == phi::Policy::kRefuse) refused = true;
  };

  // The file name first: lab staff name files, and a name can carry a patient's.
  {
    Document name;
    name.format = source;
    Record record;
    record.type = "file name";
    record.fields.resize(2);
    record.fields[0].setRaw(record.type);
    record.fields[1].setRaw(job.fileName);
    record.fields[1].setText(job.fileName);
    name.records.push_back(std::move(record));
    phi::Screening found = gate_->screen(name, profile.policy);
    for (auto& hit : found.hits) hit.location = "file name";
    collect(found);
    if (found.clean()) meta.sourceName = job.fileName;
  }

  if (!job.format) {
    if (refused) return refuse(meta, profile, "", screening);
    return reject(meta, profile, job.formatError);
  }
  StatusOr<std::unique_ptr<ExportParse>> opened = job.format->open(*job.in);
  if (!opened.isOk()) {
    if (refused) return refuse(meta, profile, "", screening);
    return reject(meta, profile, opened.status());
  }
  ExportParse& parse = *opened.value();
  Document doc;
  doc.format = source;
  doc.records.resize(1);
  std::shared_ptr<const std::vector<std::string>> names;
  std::shared_ptr<const std::vector<std::string>> nameRules;
  // Every record is read and screened. Only a refusal may stop early, once it has named
  // kMaxHits locations: under strip the whole file must be read, whatever the hits, or the
  // batch would silently lose its tail. With `window` > 0 the reading pauses (kFull) once the
  // parse holds that many results in complete samples (ADR 0017).
  Status readError;
  auto readRecords = [&](size_t window) -> ExportRead {
    while (!(refused && screening.hits.size() >= kMaxHits)) {
      Record& record = doc.records.front();
      StatusOr<bool> more = parse.next(record);
      if (!more.isOk()) {
        if (refused) break;
        readError = more.status();
        return ExportRead::kFailed;
      }
      if (!more.value()) break;
      if (record.names != names) {
        names = record.names;
        nameRules = names ? gate_->classifyNames(*names) : nullptr;
      }
      record.nameRules = nameRules;
      collect(gate_->screen(doc, profile.policy));
      if (refused) continue;  // screen on, so the refusal lists every location; interpret no more
      Status accepted = parse.accept(record);
      if (!accepted.isOk()) {
        readError = accepted;
        return ExportRead::kFailed;
      }
      if (window > 0 && parse.completeResults() >= window) return ExportRead::kFull;
    }
    return ExportRead::kEnd;
  };
  const size_t window = store_ && !dryRun_ ? exportWindow_ : 0;
  const ExportRead read = readRecords(window);
  if (read == ExportRead::kFailed) return reject(meta, profile, readError);
  if (refused) return refuse(meta, profile, "", screening);
  if (read == ExportRead::kFull) {
    // Too large to hold whole: the rest is read, judged and stored window by window inside the
    // batch's commit.
    ExportStreamIo io{job, profile, meta, screening, refused, readError, window, readRecords};
    return streamExport(parse, io);
  }

  StatusOr<Message> built = parse.finish();
  if (!built.isOk()) return reject(meta, profile, built.status());
  Message message = std::move(built).value();
  message.controlId = controlId;
  if (message.processingId.empty()) message.processingId = "P";
  if (screening.clean() && store_ && !dryRun_ && store_->encryptsAtRest()) {
    // The file as received, read again from its start and sealed under data.dir/bodies in
    // bounded memory (ADR 0008); a commit that stores nothing removes it again.
    StatusOr<SealedBodyFile> sealed = store_->sealBodyFile(profile.orgId, *job.in);
    if (!sealed.isOk()) {
      Intake intake;
      intake.outcome = Intake::Outcome::kFailed;
      intake.status = sealed.status();
      logError(logger(), "connector {}: the received file could not be sealed: {}", profile.name,
               intake.status.toString());
      return intake;
    }
    meta.bodyFile = std::move(sealed).value();
  }
  return commitBuilt(std::move(message), profile, meta, screening);
}

Intake Pipeline::commitBuilt(Message message, const ConnectorProfile& profile,
                             const CommitMeta& meta, const phi::Screening& screening) {
  Intake intake;
  if (profile.mappings) profile.mappings->apply(message);
  if (profile.rules) {
    RulesContext context = rulesContext(profile);
    profile.rules->evaluate(message, context);
    message.rulesVersion = profile.rules->version();
  }
  std::vector<Disposition> dispositions = decideDispositions(message);
  if (dryRun_) {
    for (const Sample& sample : message.samples) intake.results += sample.results.size();
    for (const auto& d : dispositions) {
      if (d.kind != DispositionKind::kRelease) ++intake.held;
    }
    dryRun_(message, dispositions);
    intake.outcome = Intake::Outcome::kAccepted;
    return intake;
  }

  InboundCommit commit = newCommit(profile, meta);
  commit.rawBody = meta.rawBody;
  commit.bodyFile = meta.bodyFile;
  commit.outbound =
      renderForDestinations(releasedPart(message, dispositions), profile, destinations_);
  if (!screening.clean()) {
    AuditEvent stripped;
    stripped.orgId = profile.orgId;
    stripped.actor = "connector:" + profile.name;
    stripped.action = "message.phi_stripped";
    stripped.detail =
        "{\"connector\":" + jsonQuote(profile.name) + ",\"removed\":" + hitsJson(screening) + "}";
    commit.audit.push_back(std::move(stripped));
  }
  commit.message = std::move(message);
  commit.dispositions = std::move(dispositions);
  commit.deduplicate = profile.deduplicate;

  for (const Sample& sample : commit.message.samples) {
    for (const Result& r : sample.results) {
      if (!r.internalStandard) ++intake.results;
    }
  }
  size_t index = 0;
  for (const Sample& sample : commit.message.samples) {
    for (const Result& r : sample.results) {
      const Disposition& d = commit.dispositions[index++];
      if (!r.internalStandard && d.kind != DispositionKind::kRelease) ++intake.held;
    }
  }
  StatusOr<InboundReceipt> committed = store_->commitInbound(commit);
  if (!committed.isOk()) {
    intake.outcome = Intake::Outcome::kFailed;
    intake.status = committed.status();
    logError(logger(), "connector {}: commit failed: {}", profile.name, intake.status.toString());
    return intake;
  }
  intake.messageId = committed->messageId;
  if (committed->duplicate) {
    intake.outcome = Intake::Outcome::kDuplicate;
    logInfo(logger(),
            "connector {}: {} {} from {} is a resend of message {} (same sender, control id and "
            "content); acknowledged, not stored again",
            profile.name, std::string(meta.what()), reference(meta), meta.peer,
            static_cast<Poco::Int64>(intake.messageId));
    return intake;
  }
  if (committed->reusedControlIdOf != 0) {
    metrics::controlIdReused().inc({profile.name});
    logWarning(
        logger(),
        "connector {}: {} {} from {} reuses the control id of message {} with different "
        "content; stored as new message {} (did the instrument restart its message counter?)",
        profile.name, std::string(meta.what()), reference(meta), meta.peer,
        static_cast<Poco::Int64>(committed->reusedControlIdOf),
        static_cast<Poco::Int64>(intake.messageId));
  }
  intake.outcome = Intake::Outcome::kAccepted;
  countFindings(profile.name, commit.message);
  if (!screening.clean()) countPatterns(metrics::phiStripped(), profile.name, screening);
  logInfo(logger(), "connector {}: message {} ({}) accepted from {}: {} results, {} held{}",
          profile.name, static_cast<Poco::Int64>(intake.messageId), reference(meta), meta.peer,
          intake.results, intake.held,
          std::string(screening.clean() ? "" : ", PHI stripped at " + hitsSummary(screening)));
  if (queuedListener_) {
    for (const auto& o : commit.outbound) queuedListener_(o.destination);
  }
  return intake;
}

RulesContext Pipeline::rulesContext(const ConnectorProfile& profile) const {
  RulesContext context;
  context.orgId = profile.orgId;
  context.instrument = profile.instrument;
  if (!store_ || dryRun_) {  // nothing stored to compare with: no history
    context.qcHistory = [](const std::string&) { return std::vector<QcValue>{}; };
    context.metricHistory = [](const std::string&, const std::string&) {
      return std::vector<double>{};
    };
    return context;
  }
  std::shared_ptr<Store> store = store_;
  const std::string org = profile.orgId, instrument = profile.instrument;
  context.qcHistory = [store, org, instrument](const std::string& analyte) {
    return store->qcHistory(org, instrument, analyte, 200);
  };
  context.metricHistory = [store, org, instrument](const std::string& analyte,
                                                   const std::string& metric) {
    return store->batchMetricHistory(org, instrument, analyte, metric, 20);
  };
  return context;
}

/// An export too large to hold whole (ADR 0017), handed to Store::commitExportStream one window
/// at a time: each window of about exportWindow_ results is mapped, judged by the rules as a batch
/// of its own (with the file's latest calibrators carried in when the window has none), decided
/// and rendered; only its own samples are stored. Batch findings are kept once (the same finding
/// of several windows once), per-batch metrics from the first window that has them.
class Pipeline::WindowedExport : public ExportChunkSource {
 public:
  WindowedExport(const Pipeline& pipeline, ExportParse& parse, ExportStreamIo& io)
      : pipeline_(pipeline), parse_(parse), io_(io) {
    if (io_.profile.rules) context_ = pipeline_.rulesContext(io_.profile);
  }

  StatusOr<bool> next(ExportChunk& chunk) override {
    if (done_) return false;
    Message window;
    if (first_) {
      first_ = false;  // the window that filled while processExport read
      parse_.takeSamples(window);
    } else {
      ExportRead read = io_.read(io_.window);
      if (read == ExportRead::kFailed) return invalid(io_.readError);
      if (io_.refused) return Status::phiRefused("export", "patient-identifying data");
      if (read == ExportRead::kEnd) {
        StatusOr<Message> finished = parse_.finish();
        if (!finished.isOk()) return invalid(finished.status());
        window = std::move(finished).value();
        done_ = true;
      } else {
        parse_.takeSamples(window);
      }
    }
    header_.sender = window.sender;
    header_.curves = window.curves;
    if (window.samples.empty()) return false;
    judge(std::move(window), chunk);
    return true;
  }

  Status finish(InboundCommit& commit) override {
    Message& m = commit.message;
    m.sender = header_.sender;
    m.curves = std::move(header_.curves);
    m.listedInRunOrder = runOrderKnown_;
    m.rulesVersion = io_.profile.rules ? io_.profile.rules->version() : "";
    m.batchFindings = std::move(tail_.batchFindings);
    m.qcValues = std::move(tail_.qcValues);
    m.metrics = std::move(tail_.metrics);
    for (const BatchFinding& b : m.batchFindings) {
      metrics::ruleFindings().inc(
          {io_.profile.name, b.finding.ruleId, toString(b.finding.severity)});
    }
    if (!io_.screening.clean()) {
      AuditEvent stripped;
      stripped.orgId = io_.profile.orgId;
      stripped.actor = "connector:" + io_.profile.name;
      stripped.action = "message.phi_stripped";
      stripped.detail = "{\"connector\":" + jsonQuote(io_.profile.name) +
                        ",\"removed\":" + hitsJson(io_.screening) + "}";
      commit.audit.push_back(std::move(stripped));
    } else if (pipeline_.store_->encryptsAtRest()) {
      // The whole file has been read: seal it from its start (ADR 0008), as processExport does.
      StatusOr<SealedBodyFile> sealed =
          pipeline_.store_->sealBodyFile(io_.profile.orgId, *io_.job.in);
      if (!sealed.isOk()) return sealed.status();
      commit.bodyFile = std::move(sealed).value();
    }
    return Status::ok();
  }

  /// The file itself is not a valid batch (the pipeline rejects it, as processExport would).
  const Status& invalidFile() const { return invalid_; }
  size_t results = 0;  // not internal standards, as Intake::results
  size_t held = 0;
  size_t largest = 0;  // the most results one window held, carried calibrators included
  std::set<std::string> destinations;  // queued for

 private:
  Status invalid(const Status& why) {
    invalid_ = why;
    return why;
  }

  void judge(Message window, ExportChunk& chunk) {
    const ConnectorProfile& profile = io_.profile;
    window.controlId = "sha256:" + io_.job.contentSha256;
    if (window.processingId.empty()) window.processingId = "P";
    // The calibrators as read (before mapping and rules), kept for the windows without any.
    std::vector<Sample> own;
    for (const Sample& sample : window.samples) {
      if (sample.kind == SampleKind::kCalibrator) own.push_back(sample);
    }
    std::set<std::string> context;  // locations of the carried calibrators
    if (profile.rules && own.empty() && !calibrators_.empty()) {
      window.samples.insert(window.samples.begin(), calibrators_.begin(), calibrators_.end());
      for (const Sample& sample : calibrators_) context.insert(sample.location);
    }
    if (!own.empty()) {
      if (own.size() > kMaxCarried)
        own.erase(own.begin(), own.end() - static_cast<std::ptrdiff_t>(kMaxCarried));
      calibrators_ = std::move(own);
    }
    size_t inWindow = 0;
    for (const Sample& sample : window.samples) inWindow += sample.results.size();
    largest = std::max(largest, inWindow);

    if (profile.mappings) profile.mappings->apply(window);
    if (profile.rules) {
      profile.rules->evaluate(window, context_);
      runOrderKnown_ = runOrderKnown_ && window.listedInRunOrder;
      for (BatchFinding& b : window.batchFindings) {
        const Finding& f = b.finding;
        std::string key = b.analyte + '\x1f' + f.ruleId + '\x1f' + toString(f.severity) + '\x1f' +
                          f.subject + '\x1f' + f.message + '\x1f' + f.measured + '\x1f' + f.limit +
                          '\x1f' + toString(f.action);
        if (findingKeys_.insert(std::move(key)).second) tail_.batchFindings.push_back(std::move(b));
      }
      for (QcValue& q : window.qcValues) tail_.qcValues.push_back(std::move(q));
      for (BatchMetric& metric : window.metrics) {
        if (metricKeys_.emplace(metric.analyte, metric.metric).second) {
          tail_.metrics.push_back(std::move(metric));
        }
      }
    } else {
      runOrderKnown_ = runOrderKnown_ && window.listedInRunOrder;
    }
    // The store reads a disposition's kind only: the findings stay on the results, not copied.
    std::vector<Disposition> dispositions;
    for (const Sample& sample : window.samples) {
      for (const Result& result : sample.results) {
        Disposition& d = dispositions.emplace_back();
        for (const Finding& f : result.findings) {
          if (f.severity != Severity::kInfo && f.action > d.kind) d.kind = f.action;
        }
      }
    }

    // Only the window's own samples are stored (the carried calibrators were, with theirs).
    Message kept;
    kept.controlId = window.controlId;
    kept.sender = window.sender;
    kept.processingId = window.processingId;
    kept.version = window.version;
    kept.sentAt = window.sentAt;
    size_t index = 0;
    for (Sample& sample : window.samples) {
      const bool carried = context.count(sample.location) > 0;
      for (size_t i = 0; i < sample.results.size(); ++i, ++index) {
        if (carried) continue;
        const Result& r = sample.results[i];
        if (!r.internalStandard) {
          ++results;
          if (dispositions[index].kind != DispositionKind::kRelease) ++held;
        }
        chunk.dispositions.push_back(std::move(dispositions[index]));
      }
      if (!carried) kept.samples.push_back(std::move(sample));
    }
    // The findings by rule and severity, counted once per window rather than once per finding.
    std::map<std::pair<std::string_view, Severity>, double> counts;
    for (const Sample& sample : kept.samples) {
      for (const Result& result : sample.results) {
        for (const Finding& f : result.findings) counts[{f.ruleId, f.severity}] += 1;
      }
    }
    metrics::Counter findings = metrics::ruleFindings();
    for (const auto& [key, n] : counts) {
      findings.inc({profile.name, std::string(key.first), toString(key.second)}, n);
    }
    chunk.outbound = renderForDestinations(releasedPart(kept, chunk.dispositions), profile,
                                           pipeline_.destinations_);
    for (const OutboundDraft& o : chunk.outbound) destinations.insert(o.destination);
    chunk.samples = std::move(kept.samples);
  }

  static constexpr size_t kMaxCarried = 64;  // calibrator injections carried into a window

  const Pipeline& pipeline_;
  ExportParse& parse_;
  ExportStreamIo& io_;
  RulesContext context_;
  Status invalid_;
  bool first_ = true;
  bool done_ = false;
  bool runOrderKnown_ = true;
  Message header_;                   // sender and curves, as the parse said them last
  Message tail_;                     // batch findings, QC values and metrics kept so far
  std::vector<Sample> calibrators_;  // the file's latest calibration block, as read
  std::set<std::string> findingKeys_;
  std::set<std::pair<std::string, std::string>> metricKeys_;
};

Intake Pipeline::streamExport(ExportParse& parse, ExportStreamIo& io) {
  const ConnectorProfile& profile = io.profile;
  const CommitMeta& meta = io.meta;
  WindowedExport windows(*this, parse, io);
  InboundCommit commit = newCommit(profile, meta);
  commit.deduplicate = profile.deduplicate;
  commit.message.controlId = "sha256:" + io.job.contentSha256;
  StatusOr<InboundReceipt> committed = store_->commitExportStream(commit, windows);
  largestWindow_.store(windows.largest);
  Intake intake;
  if (!committed.isOk()) {
    if (io.refused) return refuse(meta, profile, "", io.screening);
    if (!windows.invalidFile().isOk()) return reject(meta, profile, windows.invalidFile());
    intake.outcome = Intake::Outcome::kFailed;
    intake.status = committed.status();
    logError(logger(), "connector {}: commit failed: {}", profile.name, intake.status.toString());
    return intake;
  }
  intake.messageId = committed->messageId;
  if (committed->duplicate) {
    intake.outcome = Intake::Outcome::kDuplicate;
    logInfo(logger(),
            "connector {}: file {} from {} has the content of batch {}; not imported again",
            profile.name, reference(meta), meta.peer, static_cast<Poco::Int64>(intake.messageId));
    return intake;
  }
  intake.outcome = Intake::Outcome::kAccepted;
  intake.results = windows.results;
  intake.held = windows.held;
  if (!io.screening.clean()) countPatterns(metrics::phiStripped(), profile.name, io.screening);
  logInfo(
      logger(),
      "connector {}: message {} ({}) accepted from {}: {} results, {} held, judged in "
      "windows of {} results{}",
      profile.name, static_cast<Poco::Int64>(intake.messageId), reference(meta), meta.peer,
      intake.results, intake.held, io.window,
      std::string(io.screening.clean() ? "" : ", PHI stripped at " + hitsSummary(io.screening)));
  if (queuedListener_) {
    for (const auto& destination : windows.destinations) queuedListener_(destination);
  }
  return intake;
}

Intake Pipeline::reject(const CommitMeta& meta, const ConnectorProfile& profile,
                        const Status& why) {
  Intake intake;
  intake.outcome = Intake::Outcome::kInvalid;
  intake.status = why;
  AuditEvent event;
  event.orgId = profile.orgId;
  event.actor = "connector:" + profile.name;
  event.action = "message.invalid";
  event.subject = "connector:" + profile.name;
  event.detail = "{\"connector\":" + jsonQuote(profile.name) +
                 ",\"instrument\":" + jsonQuote(profile.instrument) +
                 ",\"peer\":" + jsonQuote(meta.peer) + exportDetail(meta) +
                 ",\"location\":" + jsonQuote(why.location()) +
                 ",\"reason\":" + jsonQuote(why.reason()) + "}";
  Status audited = dryRun_ ? Status::ok() : store_->appendAudit(event);
  if (!audited.isOk()) {
    logError(logger(), "connector {}: could not record an invalid message: {}", profile.name,
             audited.toString());
  }
  logWarning(logger(), "connector {}: {} {} from {} not accepted: {}", profile.name,
             std::string(meta.what()), reference(meta), meta.peer, why.toString());
  intake.details.push_back({why.location(), why.reason()});
  return intake;
}

Intake Pipeline::refuse(const CommitMeta& meta, const ConnectorProfile& profile,
                        const std::string& sampleId, const phi::Screening& screening) {
  Intake intake;
  intake.outcome = Intake::Outcome::kRefused;
  intake.status = Status::phiRefused(screening.hits.front().location,
                                     "patient-identifying data (" + hitsSummary(screening) + ")");
  AuditEvent event;
  event.orgId = profile.orgId;
  event.actor = "connector:" + profile.name;
  event.action = "message.refused";
  event.subject = "connector:" + profile.name;
  event.detail = "{\"connector\":" + jsonQuote(profile.name) +
                 ",\"instrument\":" + jsonQuote(profile.instrument) +
                 ",\"peer\":" + jsonQuote(meta.peer) + exportDetail(meta) +
                 ",\"sample_id\":" + jsonQuote(sampleId) + ",\"hits\":" + hitsJson(screening) + "}";
  Status audited = dryRun_ ? Status::ok() : store_->appendAudit(event);
  if (!audited.isOk()) {
    logError(logger(), "connector {}: could not record a refusal: {}", profile.name,
             audited.toString());
  }
  if (!dryRun_) countPatterns(metrics::phiRefusals(), profile.name, screening);
  logWarning(logger(), "connector {}: {} {} from {} refused: PHI at {}", profile.name,
             std::string(meta.what()), reference(meta), meta.peer, hitsSummary(screening));
  for (const auto& hit : screening.hits) {
    intake.details.push_back({hit.location, "patient-identifying data (" + hit.patternId + ")"});
  }
  return intake;
}

}  // namespace labgate
