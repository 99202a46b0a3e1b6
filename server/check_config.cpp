// labgated --check-config (see check_config.h).
#include "server/check_config.h"

#include "engine/api/permissions.h"
#include "engine/net/tls.h"
#include "engine/phi/phi_gate.h"
#include "engine/security/keyring.h"
#include "engine/security/password.h"
#include "engine/service/profiles.h"

namespace labgate {

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
