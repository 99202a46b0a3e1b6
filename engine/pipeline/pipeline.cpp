// Pipeline runner (see pipeline.h).
#include "engine/pipeline/pipeline.h"

#include <Poco/Logger.h>

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
  Message out = message;
  out.samples.clear();
  size_t index = 0;
  for (const Sample& sample : message.samples) {
    Sample kept = sample;
    kept.results.clear();
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
  // batch would silently lose its tail.
  while (!(refused && screening.hits.size() >= kMaxHits)) {
    Record& record = doc.records.front();
    StatusOr<bool> more = parse.next(record);
    if (!more.isOk()) {
      if (refused) break;
      return reject(meta, profile, more.status());
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
    if (!accepted.isOk()) return reject(meta, profile, accepted);
  }
  if (refused) return refuse(meta, profile, "", screening);

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
    RulesContext context;
    context.orgId = profile.orgId;
    context.instrument = profile.instrument;
    if (store_ && !dryRun_) {
      context.qcHistory = [this, &profile](const std::string& analyte) {
        return store_->qcHistory(profile.orgId, profile.instrument, analyte, 200);
      };
      context.metricHistory = [this, &profile](const std::string& analyte,
                                               const std::string& metric) {
        return store_->batchMetricHistory(profile.orgId, profile.instrument, analyte, metric, 20);
      };
    } else {
      context.qcHistory = [](const std::string&) { return std::vector<QcValue>{}; };
      context.metricHistory = [](const std::string&, const std::string&) {
        return std::vector<double>{};
      };
    }
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
