// Pipeline runner (see pipeline.h).
#include "engine/pipeline/pipeline.h"

#include <Poco/Logger.h>

#include <atomic>
#include <chrono>
#include <cstdio>

#include "engine/store/audit.h"

namespace labgate {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("pipeline"); }

std::string jsonString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

/// "[{"location":"P-6","pattern":"structural.P-6"},...]": what the audit and log may say.
std::string hitsJson(const phi::Screening& screening) {
  std::string out = "[";
  for (size_t i = 0; i < screening.hits.size(); ++i) {
    if (i) out += ",";
    out += "{\"location\":" + jsonString(screening.hits[i].location) +
           ",\"pattern\":" + jsonString(screening.hits[i].patternId) + "}";
  }
  return out + "]";
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
    return record.fields[3].text;
  }
  return "";
}

const char* formatName(SourceFormat format) {
  switch (format) {
    case SourceFormat::kAstm:
      return "astm";
    case SourceFormat::kHl7:
      return "hl7";
    case SourceFormat::kCsv:
      return "csv";
    case SourceFormat::kXml:
      return "xml";
  }
  return "unknown";
}

}  // namespace

std::vector<Disposition> decideDispositions(const Message& message) {
  std::vector<Disposition> out;
  for (const Sample& sample : message.samples) {
    for (const Result& result : sample.results) {
      Disposition d;
      for (const Finding& f : result.findings) {
        if (f.severity != Severity::kInfo) d.kind = DispositionKind::kHold;
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
    for (const Result& result : sample.results) {
      bool released =
          index < dispositions.size() && dispositions[index].kind == DispositionKind::kRelease;
      ++index;
      if (released) kept.results.push_back(result);
    }
    if (!kept.results.empty()) out.samples.push_back(std::move(kept));
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

Intake Pipeline::process(const Envelope& envelope, const ConnectorProfile& profile,
                         const FormatCodec& codec) {
  Intake intake;
  StatusOr<Document> parsed = codec.parse(envelope.bytes);
  if (!parsed.isOk()) return reject(envelope, profile, parsed.status());
  Document& doc = parsed.value();
  phi::Screening screening = gate_->screen(doc, profile.policy);
  if (!screening.clean() && profile.policy == phi::Policy::kRefuse) {
    return refuse(envelope, profile, doc, screening);
  }

  StatusOr<Message> built = codec.build(doc);
  if (!built.isOk()) return reject(envelope, profile, built.status());
  Message& message = built.value();
  if (profile.mappings) applyMappings(message, *profile.mappings);
  std::vector<Disposition> dispositions = decideDispositions(message);

  InboundCommit commit;
  commit.orgId = profile.orgId;
  commit.connector = profile.name;
  commit.instrument = profile.instrument;
  commit.format = formatName(envelope.format);
  commit.peer = envelope.peer;
  commit.receivedAt = isoNow();
  commit.contentSha256 = sha256Hex(envelope.bytes);
  Message released = releasedPart(message, dispositions);
  if (!released.samples.empty()) {
    for (const std::string& name : profile.destinations) {
      auto it = destinations_.find(name);
      if (it == destinations_.end()) continue;  // validated at start-up
      std::string controlId = newControlId();
      commit.outbound.push_back(
          {name, controlId, it->second->render(released, controlId, profile.instrument)});
    }
  }
  if (!screening.clean()) {
    AuditEvent stripped;
    stripped.orgId = profile.orgId;
    stripped.actor = "connector:" + profile.name;
    stripped.action = "message.phi_stripped";
    stripped.detail =
        "{\"connector\":" + jsonString(profile.name) + ",\"removed\":" + hitsJson(screening) + "}";
    commit.audit.push_back(std::move(stripped));
  }
  commit.message = std::move(message);
  commit.dispositions = std::move(dispositions);
  commit.deduplicate = profile.deduplicate;

  intake.results = commit.message.resultCount();
  for (const auto& d : commit.dispositions) {
    if (d.kind != DispositionKind::kRelease) ++intake.held;
  }
  StatusOr<InboundReceipt> committed = store_->commitInbound(commit);
  if (!committed.isOk()) {
    intake.outcome = Intake::Outcome::kFailed;
    intake.status = committed.status();
    logger().error("connector %s: commit failed: %s", profile.name, intake.status.toString());
    return intake;
  }
  intake.messageId = committed->messageId;
  if (committed->duplicate) {
    intake.outcome = Intake::Outcome::kDuplicate;
    logger().information(
        "connector %s: message from %s is a resend of message %Ld; not stored again", profile.name,
        envelope.peer, static_cast<Poco::Int64>(intake.messageId));
    return intake;
  }
  intake.outcome = Intake::Outcome::kAccepted;
  logger().information(
      "connector %s: message %Ld accepted from %s: %z results, %z held%s", profile.name,
      static_cast<Poco::Int64>(intake.messageId), envelope.peer, intake.results, intake.held,
      std::string(screening.clean() ? "" : ", PHI stripped at " + hitsSummary(screening)));
  if (queuedListener_) {
    for (const auto& o : commit.outbound) queuedListener_(o.destination);
  }
  return intake;
}

Intake Pipeline::reject(const Envelope& envelope, const ConnectorProfile& profile,
                        const Status& why) {
  Intake intake;
  intake.outcome = Intake::Outcome::kInvalid;
  intake.status = why;
  AuditEvent event;
  event.orgId = profile.orgId;
  event.actor = "connector:" + profile.name;
  event.action = "message.invalid";
  event.subject = "connector:" + profile.name;
  event.detail = "{\"connector\":" + jsonString(profile.name) +
                 ",\"peer\":" + jsonString(envelope.peer) +
                 ",\"location\":" + jsonString(why.location()) +
                 ",\"reason\":" + jsonString(why.reason()) + "}";
  Status audited = store_->appendAudit(event);
  if (!audited.isOk()) {
    logger().error("connector %s: could not record an invalid message: %s", profile.name,
                   audited.toString());
  }
  logger().warning("connector %s: message from %s not accepted: %s", profile.name, envelope.peer,
                   why.toString());
  return intake;
}

Intake Pipeline::refuse(const Envelope& envelope, const ConnectorProfile& profile,
                        const Document& doc, const phi::Screening& screening) {
  Intake intake;
  intake.outcome = Intake::Outcome::kRefused;
  intake.status = Status::phiRefused(screening.hits.front().location,
                                     "patient-identifying data (" + hitsSummary(screening) + ")");
  AuditEvent event;
  event.orgId = profile.orgId;
  event.actor = "connector:" + profile.name;
  event.action = "message.refused";
  event.subject = "connector:" + profile.name;
  event.detail = "{\"connector\":" + jsonString(profile.name) +
                 ",\"peer\":" + jsonString(envelope.peer) +
                 ",\"sample_id\":" + jsonString(refusedSampleId(doc, screening)) +
                 ",\"hits\":" + hitsJson(screening) + "}";
  Status audited = store_->appendAudit(event);
  if (!audited.isOk()) {
    logger().error("connector %s: could not record a refusal: %s", profile.name,
                   audited.toString());
  }
  logger().warning("connector %s: message from %s refused: PHI at %s", profile.name, envelope.peer,
                   hitsSummary(screening));
  return intake;
}

}  // namespace labgate
