// labgate dry-run (see dry_run_command.h).
#include "console/cli/dry_run_command.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/SHA2Engine.h>

#include <fstream>
#include <sstream>

#include "engine/phi/phi_gate.h"
#include "engine/pipeline/pipeline.h"
#include "engine/service/config.h"
#include "engine/service/profiles.h"

namespace labgate::cli {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

const char* kUsage =
    "usage: labgate dry-run [--config FILE] [--connector NAME] INPUT...\n"
    "\n"
    "Runs each input (an ASTM message as text or as an E1381-framed capture, an HL7 message or\n"
    "batch, or an LC-MS/MS export in any supported format) through the connector's parser with\n"
    "its own options, the PHI gate, mapping and the rules exactly as the engine would, and\n"
    "prints one JSON object per message with its findings and dispositions. Nothing is stored,\n"
    "audited or sent.\n"
    "\n"
    "options:\n"
    "  --config FILE     the engine configuration (default config/labgate.properties)\n"
    "  --connector NAME  the connector whose kind, options, mapping set, rule set and PHI\n"
    "                    policy apply\n"
    "                    (default: the first connector of a kind that takes the input)\n"
    "  -h, --help        show this help\n"
    "\n"
    "exit status: 0 every input was accepted; 1 some input was refused or invalid; 2 usage or\n"
    "configuration error.\n";

/// The format tag of a message input ("astm", "hl7"), or "" for an export file: used to choose
/// a connector when none is named.
std::string sniffTag(const std::string& bytes) {
  size_t i = bytes.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;
  while (i < bytes.size() && (bytes[i] == ' ' || bytes[i] == '\r' || bytes[i] == '\n')) ++i;
  std::string_view head = std::string_view(bytes).substr(i, 4);
  if (head.starts_with("MSH") || head.starts_with("FHS") || head.starts_with("BHS") ||
      head.starts_with("\x0bMSH")) {
    return "hl7";
  }
  // An E1381 capture starts with ENQ (or a frame's STX); records as text with "H" and a delimiter.
  if (head.starts_with("\x05") || head.starts_with("\x02")) return "astm";
  if (head.size() >= 2 && head[0] == 'H' && !std::isalnum(static_cast<unsigned char>(head[1]))) {
    return "astm";
  }
  return "";
}

Object::Ptr findingJson(const Finding& f) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("rule", f.ruleId);
  o->set("severity", toString(f.severity));
  o->set("action", toString(f.action));
  o->set("subject", f.subject);
  o->set("message", f.message);
  if (!f.measured.empty()) o->set("measured", f.measured);
  if (!f.limit.empty()) o->set("limit", f.limit);
  return o;
}

Object::Ptr messageJson(const Message& message, const std::vector<Disposition>& dispositions) {
  Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  out->set("sender", message.sender);
  out->set("rules_version", message.rulesVersion);
  Array::Ptr samples = new Array;
  size_t index = 0;
  size_t counts[3] = {0, 0, 0};
  for (const Sample& sample : message.samples) {
    Object::Ptr s = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    s->set("sample_id", sample.sampleId);
    s->set("kind", toString(sample.kind));
    if (!sample.level.empty()) s->set("level", sample.level);
    Array::Ptr results = new Array;
    for (const Result& r : sample.results) {
      const Disposition* d = index < dispositions.size() ? &dispositions[index] : nullptr;
      ++index;
      Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      o->set("code", r.instrumentCode);
      if (!r.lisCode.empty()) o->set("lis_code", r.lisCode);
      o->set("value", r.value);
      if (!r.flags.empty()) o->set("flags", r.flags);
      if (r.internalStandard) o->set("internal_standard", true);
      DispositionKind kind = d ? d->kind : DispositionKind::kHold;
      ++counts[static_cast<int>(kind)];
      o->set("disposition", toString(kind));
      Array::Ptr findings = new Array;
      for (const Finding& f : r.findings) findings->add(findingJson(f));
      if (findings->size() > 0) o->set("findings", findings);
      results->add(o);
    }
    s->set("results", results);
    samples->add(s);
  }
  Array::Ptr batch = new Array;
  for (const BatchFinding& b : message.batchFindings) {
    Object::Ptr o = findingJson(b.finding);
    o->set("analyte", b.analyte);
    batch->add(o);
  }
  Object::Ptr summary = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  summary->set("release", counts[0]);
  summary->set("hold", counts[1]);
  summary->set("reject", counts[2]);
  out->set("summary", summary);
  out->set("batch_findings", batch);
  out->set("samples", samples);
  return out;
}

void printJson(std::ostream& out, const Object::Ptr& o) {
  Poco::JSON::Stringifier::stringify(o, out);
  out << "\n";
}

}  // namespace

int runDryRun(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
              const Registry& registry) {
  std::string configPath = "config/labgate.properties", connector;
  std::vector<std::string> inputs;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      out << kUsage;
      return 0;
    }
    if ((a == "--config" || a == "--connector") && i + 1 < args.size()) {
      (a == "--config" ? configPath : connector) = args[++i];
    } else if (a.rfind("--", 0) == 0) {
      err << "labgate dry-run: unknown option " << a << "\n" << kUsage;
      return 2;
    } else {
      inputs.push_back(a);
    }
  }
  if (inputs.empty()) {
    err << "labgate dry-run: no input files\n" << kUsage;
    return 2;
  }
  StatusOr<EngineConfig> config = loadEngineConfig(configPath);
  if (!config.isOk()) {
    err << "labgate dry-run: " << config.status().toString() << "\n";
    return 2;
  }
  StatusOr<std::vector<ConnectorProfile>> profiles =
      buildConnectorProfiles(config.value(), registry);
  if (!profiles.isOk()) {
    err << "labgate dry-run: " << configPath << ": " << profiles.status().toString() << "\n";
    return 2;
  }
  StatusOr<phi::PhiGate> gate = phi::PhiGate::loadFile(config.value().phiPatterns);
  if (!gate.isOk()) {
    err << "labgate dry-run: phi.patterns: " << gate.status().toString() << "\n";
    return 2;
  }
  if (!connector.empty()) {
    bool known = false;
    for (const auto& p : profiles.value()) known = known || p.name == connector;
    if (!known) {
      err << "labgate dry-run: no connector named \"" << connector << "\" in " << configPath
          << "\n";
      return 2;
    }
  }

  Pipeline pipeline(nullptr, std::make_shared<const phi::PhiGate>(std::move(gate.value())), {});
  Object::Ptr lastMessage;
  pipeline.setDryRun([&](const Message& m, const std::vector<Disposition>& d) {
    lastMessage = messageJson(m, d);
  });

  int status = 0;
  for (const std::string& path : inputs) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
      err << "labgate dry-run: cannot read " << path << "\n";
      status = std::max(status, 1);
      continue;
    }
    std::ostringstream buffer;
    buffer << file.rdbuf();
    const std::string bytes = buffer.str();
    // The named connector, or the first whose kind reads this input (by its format tag).
    const std::string tag = sniffTag(bytes);
    const ConnectorProfile* profile = nullptr;
    const ConnectorConfig* connectorConfig = nullptr;
    for (size_t i = 0; i < profiles.value().size(); ++i) {
      const auto& p = profiles.value()[i];
      const ConnectorConfig& c = config.value().connectors[i];
      const SourceKind* k = registry.sourceKind(c.kind);
      if (connector.empty() ? k && k->formatTag == tag : p.name == connector) {
        profile = &p;
        connectorConfig = &c;
        break;
      }
    }
    if (connectorConfig && !connectorConfig->mappingSet.empty()) {
      // The store is the engine's: dry-run reads mapping files only.
      err << "labgate dry-run: connector " << connectorConfig->name << " uses the mapping set \""
          << connectorConfig->mappingSet << "\" stored in the database (connector."
          << connectorConfig->name
          << ".mapping_set); dry-run reads mapping files: export the set (labgate mappings export "
          << connectorConfig->mappingSet << ") and name it with connector." << connectorConfig->name
          << ".mappings in a copy of the configuration\n";
      return 2;
    }
    ConnectorProfile fallback;
    if (!profile) {
      fallback.name = "dry-run";
      fallback.instrument = "dry-run";
      profile = &fallback;
    }
    // The codec, built through the registry from the connector's own keys (astm.*, hl7.*), or
    // with the defaults of the kind that reads the input when no connector takes it. None: an
    // export connector, whose format is chosen per file.
    std::shared_ptr<const FormatCodec> codec;
    {
      const SourceKind* k = connectorConfig ? registry.sourceKind(connectorConfig->kind) : nullptr;
      KeyValues keys;
      if (k) {
        keys = connectorConfig->keys;
      } else {
        for (const std::string& name : registry.sourceKinds()) {
          const SourceKind* candidate = registry.sourceKind(name);
          if (!tag.empty() && candidate->formatTag == tag) {
            k = candidate;
            break;
          }
        }
      }
      if (k && k->codec) {
        StatusOr<std::shared_ptr<const FormatCodec>> made =
            k->codec("connector." + profile->name + ".", keys);
        if (!made.isOk()) {
          err << "labgate dry-run: " << configPath << ": " << made.status().toString() << "\n";
          return 2;
        }
        codec = made.value();
      }
    }
    auto report = [&](size_t n, const Intake& intake) {
      Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      o->set("input", path);
      o->set("message", n);
      o->set("connector", profile->name);
      const char* outcome = intake.outcome == Intake::Outcome::kAccepted  ? "accepted"
                            : intake.outcome == Intake::Outcome::kRefused ? "refused"
                            : intake.outcome == Intake::Outcome::kInvalid ? "invalid"
                                                                          : "failed";
      o->set("outcome", outcome);
      if (intake.outcome == Intake::Outcome::kAccepted && lastMessage) {
        std::vector<std::string> names;
        lastMessage->getNames(names);
        for (const auto& name : names) o->set(name, lastMessage->get(name));
      } else {
        Array::Ptr problems = new Array;
        for (const auto& d : intake.details) {
          Object::Ptr p = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
          p->set("location", d.location);
          p->set("reason", d.reason);
          problems->add(p);
        }
        o->set("problems", problems);
        status = std::max(status, 1);
      }
      printJson(out, o);
      lastMessage = nullptr;
    };
    if (!codec) {
      ExportSettings settings;
      settings.keyPrefix = "connector." + profile->name + ".";
      settings.configDir = config.value().configDir;  // as the engine resolves layout paths
      for (size_t i = 0; i < config.value().connectors.size(); ++i) {
        if (config.value().connectors[i].name != profile->name) continue;
        for (const auto& [k, v] : config.value().connectors[i].keys) {
          if (ExportSelection::isExportKey(registry.exportFormats(), k)) settings.keys[k] = v;
        }
      }
      StatusOr<ExportSelection> selection =
          ExportSelection::configure(registry.exportFormats(), settings);
      if (!selection.isOk()) {
        err << "labgate dry-run: " << selection.status().toString() << "\n";
        return 2;
      }
      std::istringstream in(bytes);
      ExportJob job;
      job.in = &in;
      selection->assign(job, std::string_view(bytes).substr(0, 65536), "");
      job.fileName = path.substr(path.find_last_of('/') + 1);
      job.peer = "dry-run";
      Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
      sha.update(bytes);
      job.contentSha256 = Poco::DigestEngine::digestToHex(sha.digest());
      job.sizeBytes = static_cast<int64_t>(bytes.size());
      report(1, pipeline.processExport(job, *profile));
    } else {
      // As the source hands them to the pipeline: framing removed, a batch split into messages.
      StatusOr<std::vector<std::string>> messages = codec->split(bytes);
      if (!messages.isOk()) {
        Intake intake;
        intake.outcome = Intake::Outcome::kInvalid;
        intake.details.push_back({messages.status().location(), messages.status().reason()});
        report(1, intake);
        continue;
      }
      for (size_t n = 0; n < messages.value().size(); ++n) {
        Envelope e;
        e.bytes = messages.value()[n];
        e.connectorId = profile->name;
        e.peer = "dry-run";
        report(n + 1, pipeline.process(e, *profile, *codec));
      }
    }
  }
  return status;
}

}  // namespace labgate::cli
