// labgated --check-config (see check_config.h).
#include "server/check_config.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "engine/api/permissions.h"
#include "engine/net/tls.h"
#include "engine/phi/phi_gate.h"
#include "engine/pipeline/pipeline.h"
#include "engine/security/keyring.h"
#include "engine/security/password.h"
#include "engine/service/profiles.h"

namespace labgate {
namespace {

/// A file-drop connector's inbox must exist: the engine does not create it (a typo would
/// otherwise watch a folder nobody drops into), and start-up stops on it. --check-config says so
/// before the restart. (A Windows path is refused by the connector's own key check.)
Status checkInbox(const ConnectorConfig& c) {
  if (c.kind != "file-drop") return Status::ok();
  auto it = c.keys.find("inbox");
  if (it == c.keys.end() || it->second.empty()) return Status::ok();  // the factory names it
  const std::string key = "connector." + c.name + ".inbox";
  struct stat info {};
  if (::stat(it->second.c_str(), &info) != 0) {
    return Status::config(key, "cannot use " + it->second +
                                   ": the folder does not exist (LabGate does not create the "
                                   "inbox; create it, or correct the key)");
  }
  if (!S_ISDIR(info.st_mode)) {
    return Status::config(key, "cannot use " + it->second + ": it is not a folder");
  }
  return Status::ok();
}

/// Connector kinds whose messages carry single results without peak data, calibrators or the
/// batch's QC (ASTM, HL7): the checks of a rule set that need those can never pass there.
bool carriesNoBatchData(const std::string& kind) {
  return kind == "astm-tcp" || kind == "hl7-mllp";
}

/// The findings that say a check lacked data the connector's format cannot carry (peaks, a
/// calibration curve or the limits that stand in for it, QC injections in the same batch), as
/// opposed to the lab's own choices (critical limits, Lua rules, autoverification switched off).
bool needsBatchData(const std::string& ruleId) {
  static const std::set<std::string> kGates = {
      "autoverify.calibration", "autoverify.qc",  "autoverify.qc_bracketing",
      "autoverify.blanks",      "autoverify.sst", "autoverify.measuring_range"};
  return ruleId.rfind("peak.", 0) == 0 || ruleId.rfind("calibration.", 0) == 0 ||
         ruleId.rfind("qc.", 0) == 0 || kGates.count(ruleId) > 0;
}

/// The analytes a rule set names (analytes.NAME, keyed by instrument code); empty when it names
/// none or the file cannot be read again (the loader has already checked it).
std::vector<std::string> ruleSetAnalytes(const std::string& path) {
  std::vector<std::string> names;
  try {
    std::ifstream in(path, std::ios::binary);
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var root = parser.parse(in);
    Poco::JSON::Object::Ptr object = root.extract<Poco::JSON::Object::Ptr>();
    Poco::JSON::Object::Ptr analytes = object ? object->getObject("analytes") : nullptr;
    if (analytes) {
      for (const auto& [name, value] : *analytes) names.push_back(name);
    }
  } catch (const Poco::Exception&) {
    names.clear();
  }
  return names;
}

/// The findings of the connector's rules on a probe message shaped like what ASTM and HL7
/// connectors deliver (one patient sample, one mapped numeric result of `code`, no peak, no
/// calibrator, no QC) that hold it for data such a message can never carry.
std::vector<std::string> heldForMissingData(const ConnectorConfig& c, const RulesStage& rules,
                                            const std::string& code) {
  Message probe;
  Sample sample;
  sample.sampleId = "CHECK-CONFIG-PROBE";
  sample.kind = SampleKind::kUnknown;
  Result result;
  result.instrumentCode = code;
  result.lisCode = code;
  result.value = "1.0";
  result.numeric = 1.0;
  result.status = "F";
  result.location = "R-1";
  sample.results.push_back(std::move(result));
  probe.samples.push_back(std::move(sample));
  RulesContext context;
  context.orgId = c.orgId;
  context.instrument = c.instrument;
  context.qcHistory = [](const std::string&) { return std::vector<QcValue>(); };
  context.metricHistory = [](const std::string&, const std::string&) {
    return std::vector<double>();
  };
  rules.evaluate(probe, context);
  std::vector<std::string> holding;
  for (const Finding& f : probe.samples.at(0).results.at(0).findings) {
    if (f.severity == Severity::kInfo || f.action == DispositionKind::kRelease) continue;
    if (!needsBatchData(f.ruleId)) continue;
    if (std::find(holding.begin(), holding.end(), f.ruleId) == holding.end()) {
      holding.push_back(f.ruleId);
    }
  }
  return holding;
}

/// A rule set on an ASTM or HL7 connector that holds every result: each analyte the set names
/// (or an analyte it does not name, when it names none) is probed; when every probe is held for
/// data those messages never carry, so would every result of the connector be.
Status checkRulesCanRelease(const ConnectorConfig& c, const ConnectorProfile& profile) {
  if (!profile.rules || !carriesNoBatchData(c.kind)) return Status::ok();
  std::vector<std::string> codes = ruleSetAnalytes(c.rulesPath);
  if (codes.empty()) codes.emplace_back("PROBE");
  std::vector<std::string> holding;
  for (const std::string& code : codes) {
    holding = heldForMissingData(c, *profile.rules, code);
    if (holding.empty()) return Status::ok();
  }
  std::string names;
  for (const std::string& id : holding) names += (names.empty() ? "" : ", ") + id;
  return Status::config(
      "connector." + c.name + ".rules",
      c.rulesPath + " would hold every result of this " + c.kind + " connector: " + names +
          " need peak data, calibrators or QC in the same batch (or, without calibrators, "
          "limits.lloq and limits.uloq), which " +
          c.kind +
          " messages do not carry; remove the key, or use a rule set made for single results "
          "(checks.peaks, checks.calibration and checks.qc false, limits per analyte; "
          "docs/rules.md, \"Enabling a rule set\")");
}

}  // namespace

Status checkConfiguration(const EngineConfig& config, const Registry& registry) {
  StatusOr<phi::PhiGate> gate = phi::PhiGate::loadFile(config.phiPatterns);
  if (!gate.isOk()) return Status::config("phi.patterns", gate.status().toString());

  for (const auto& d : config.destinations) {
    StatusOr<const DestinationKind*> kind = registry.requireDestination(d.name, d.kind);
    if (!kind.isOk()) return kind.status();
    StatusOr<std::unique_ptr<Destination>> made =
        kind.value()->factory(DestinationContext{d.name, d.keys});
    if (!made.isOk()) return made.status();
  }

  StatusOr<std::vector<ConnectorProfile>> profiles = buildConnectorProfiles(config, registry);
  if (!profiles.isOk()) return profiles.status();
  for (size_t i = 0; i < config.connectors.size() && i < profiles.value().size(); ++i) {
    if (Status s = checkRulesCanRelease(config.connectors[i], profiles.value()[i]); !s.isOk()) {
      return s;
    }
  }

  // The sources are made (their factories check every key and load TLS files) and dropped:
  // nothing is bound or started.
  for (const auto& c : config.connectors) {
    SourceContext context;
    context.name = c.name;
    context.instrument = c.instrument;
    context.keys = c.keys;
    context.handler = [](const Envelope&, const FormatCodec&) { return Intake{}; };
    context.exportHandler = [](const ExportJob&) { return Intake{}; };
    context.exportFormats = &registry.exportFormats();
    context.configDir = config.configDir;
    context.allow = c.allow;
    // As the engine makes it: the codec from the connector's own keys (astm.*, hl7.*), then
    // the source with that codec.
    StatusOr<std::unique_ptr<Source>> source = registry.createSource(c.kind, context);
    if (!source.isOk()) return source.status();
    if (Status inbox = checkInbox(c); !inbox.isOk()) return inbox;
  }

  // Encryption at rest: the key files (security.key_file, security.previous_key_file).
  StatusOr<std::shared_ptr<security::Keyring>> keyring =
      security::openKeyring(config.keyFile, config.previousKeyFile, config.dataDir);
  if (!keyring.isOk()) return keyring.status();

  if (!config.httpsHost.empty()) {
    StatusOr<Poco::Net::Context::Ptr> tls = makeTlsContext("", config.tlsKeys);
    if (!tls.isOk()) return tls.status();
  }

  StatusOr<security::PasswordPolicy> policy = security::PasswordPolicy::load(
      static_cast<size_t>(config.security.minPasswordLength), config.security.blocklistPath);
  if (!policy.isOk()) {
    return Status::config("security.password.blocklist", policy.status().toString());
  }
  api::RoleTable roles;
  return roles.addCustom(config.security.customRoles);
}

}  // namespace labgate
