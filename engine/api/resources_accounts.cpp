// Resources of accounts: the caller (me), organisations, users, roles and API keys.
#include <Poco/String.h>

#include <regex>

#include "engine/api/api_impl.h"
#include "engine/log/log.h"
#include "engine/security/crypto.h"
#include "engine/security/totp.h"

namespace labgate::api {
namespace {

const std::regex kUsername("[a-z0-9][a-z0-9._@-]{0,63}");
const std::regex kOrgId("[a-z0-9][a-z0-9-]{0,31}");

/// A write the caller waits for: 503 when the store could not commit it (nothing changed).
void mustStore(const Status& saved) {
  if (!saved.isOk()) {
    fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE,
         "the change could not be stored; nothing changed; try again");
  }
}

void noContent(Call& call) {
  call.response.setStatusAndReason(HttpStatus::HTTP_NO_CONTENT);
  call.response.send();
}

std::string printedName(const std::string& text) {
  refuseControlCharacters("printed_name", text);
  std::string name = Poco::trim(text);
  if (name.empty() || name.size() > 128) {
    fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY, "\"printed_name\" must be 1 to 128 characters");
  }
  return name;
}

/// A change people make to their own account: no reason asked (the action is the reason).
Object::Ptr ownChange(const std::string& element, bool before, bool after) {
  ChangeDetail change;
  change.element(element, before, after);
  return change.detail("");
}

/// The password is never recorded, old or new: only that it changed and who chose it.
Object::Ptr ownPasswordChange() {
  ChangeDetail change;
  change.element("password", "(previous)", "(new, chosen by the user)");
  return change.detail("");
}

}  // namespace

void Api::Impl::registerAccountRoutes() {
  registerCallerRoutes();
  registerOrganisationRoutes();
  registerUserRoutes();
  registerUserActionRoutes();
  registerRoleRoutes();
  registerApiKeyRoutes();
}

void Api::Impl::registerCallerRoutes() {
  // ---- the caller ---------------------------------------------------------------------------
  on("GET", "/api/v1/me", [](Call& call) {
    const Principal& p = call.principal;
    Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("kind", p.kind == Principal::Kind::kUser ? "user" : "api_key");
    out->set("org", p.orgId);
    out->set("user", p.user ? Poco::Dynamic::Var(userJson(*p.user)) : Poco::Dynamic::Var());
    out->set("api_key", p.key ? Poco::Dynamic::Var(apiKeyJson(*p.key)) : Poco::Dynamic::Var());
    Array::Ptr roleList = new Array, permissions = new Array;
    for (const auto& r : p.roles) roleList->add(r);
    for (const auto& x : p.permissions) permissions->add(x);
    out->set("roles", roleList);
    out->set("permissions", permissions);
    out->set("password_change_required", p.restriction == "password_change");
    out->set("totp_enrolment_required", p.restriction == "totp_enrolment");
    out->set("session_expires_at",
             p.session ? Poco::Dynamic::Var(p.session->expiresAt) : Poco::Dynamic::Var());
    sendJson(call.response, HttpStatus::HTTP_OK, out);
  });

  on("POST", "/api/v1/me/password", [this](Call& call) {
    Object::Ptr body = call.body();
    const std::string current = needString(body, "current_password");
    const std::string next = needString(body, "new_password");
    User user = *call.principal.user;
    reauthenticate(call, current, "the current password");
    if (next == current) {
      fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY,
           "the new password must differ from the current one");
    }
    checkPassword(next, user.username, user.orgId);
    user.passwordHash = hasher.hash(next);
    user.passwordChangedAt = isoAt(unixMillisNow());
    user.mustChangePassword = false;
    // The other sessions end in the same transaction: the change stands only with them ended.
    Status changed = accounts.updateUser(
        user, event(call, "user.password_changed", "user:" + user.username, ownPasswordChange()),
        "password changed", call.principal.session->id);
    if (!changed.isOk()) {
      logError(Poco::Logger::get("api"),
               "SECURITY: the password change of user {} of organisation {} was not stored ({}); "
               "the password and the user's sessions are as they were",
               user.username, user.orgId, changed.toString());
    }
    mustStore(changed);
    noContent(call);
  });

  on("POST", "/api/v1/me/totp", [this](Call& call) {
    Object::Ptr body = call.body();
    User user = *call.principal.user;
    reauthenticate(call, needString(body, "password"), "the password");
    if (user.totpEnabled) {
      fail(HttpStatus::HTTP_CONFLICT,
           "a second factor is enrolled already; an administrator removes it before a new "
           "enrolment");
    }
    const std::string secret = security::newTotpSecret();
    user.totpSecret = security::base32Encode(secret);
    user.totpEnabled = false;
    user.totpLastStep = 0;
    mustStore(accounts.updateUser(
        user, event(call, "user.totp_enrolment_started", "user:" + user.username,
                    ownChange("totp_enrolment_pending", false, true))));
    Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("secret", user.totpSecret);
    out->set("uri",
             security::totpProvisioningUri("LabGate", user.orgId + ":" + user.username, secret));
    sendJson(call.response, HttpStatus::HTTP_OK, out);
  });

  on("POST", "/api/v1/me/totp/confirm", [this](Call& call) {
    Object::Ptr body = call.body();
    const std::string code = needString(body, "code");
    User user = *call.principal.user;
    if (user.totpEnabled || user.totpSecret.empty()) {
      fail(HttpStatus::HTTP_CONFLICT, "no TOTP enrolment is in progress (POST /api/v1/me/totp)");
    }
    std::optional<std::string> secret = security::base32Decode(user.totpSecret);
    std::optional<int64_t> step =
        secret ? security::totpVerify(*secret, code, unixMillisNow() / 1000, user.totpLastStep)
               : std::nullopt;
    if (!step) {
      fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY,
           "the code does not match: check the device's clock and enter the current code");
    }
    user.totpEnabled = true;
    user.totpLastStep = *step;
    mustStore(accounts.updateUser(user, event(call, "user.totp_enrolled", "user:" + user.username,
                                              ownChange("totp_enabled", false, true))));
    noContent(call);
  });
}

void Api::Impl::registerOrganisationRoutes() {
  // ---- organisations ------------------------------------------------------------------------
  auto ownOrg = [this](Call& call) {
    auto it = call.params.find("id");
    if (it == call.params.end() || it->second != call.principal.orgId) {
      fail(HttpStatus::HTTP_NOT_FOUND, "no such organisation");
    }
    std::optional<Organisation> org = accounts.organisation(call.principal.orgId);
    if (!org) fail(HttpStatus::HTTP_NOT_FOUND, "no such organisation");
    return *org;
  };
  on("GET", "/api/v1/organisations", [this](Call& call) {
    Array::Ptr items = new Array;
    if (std::optional<Organisation> org = accounts.organisation(call.principal.orgId)) {
      items->add(organisationJson(*org));
    }
    sendItems(call, items);
  });
  on("GET", "/api/v1/organisations/{id}", [ownOrg](Call& call) {
    sendJson(call.response, HttpStatus::HTTP_OK, organisationJson(ownOrg(call)));
  });
  on("PATCH", "/api/v1/organisations/{id}", [this, ownOrg](Call& call) {
    Organisation org = ownOrg(call);
    Object::Ptr body = call.body();
    Object::Ptr before = organisationJson(org);
    if (auto name = optString(body, "name")) {
      refuseControlCharacters("name", *name);
      org.name = Poco::trim(*name);
      if (org.name.empty() || org.name.size() > 128) {
        fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY, "\"name\" must be 1 to 128 characters");
      }
    }
    if (auto days = optInt(body, "password_expiry_days")) {
      if (*days < 0 || *days > 3650) {
        fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY,
             "\"password_expiry_days\" must be 0 (never) to 3650");
      }
      org.passwordExpiryDays = static_cast<int>(*days);
    }
    if (auto mfa = optBool(body, "mfa_required")) org.mfaRequired = *mfa;
    if (auto list = optStrings(body, "ip_allowlist")) {
      StatusOr<security::AllowList> parsed = security::AllowList::parse(*list);
      if (!parsed.isOk()) {
        fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY, "ip_allowlist: " + parsed.status().toString());
      }
      if (!parsed.value().allows(call.request.clientAddress().host())) {
        fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY,
             "this allow-list does not include your own address (" + call.peer() +
                 "): you would be locked out");
      }
      org.ipAllowList = parsed.value().toStrings();
    }
    ChangeDetail change;
    change.differences(before, organisationJson(org));
    mustStore(accounts.updateOrganisation(
        org, event(call, "organisation.updated", "organisation:" + org.id,
                   change.detail(changeReason(call)))));
    sendJson(call.response, HttpStatus::HTTP_OK, organisationJson(org));
  });
  on("POST", "/api/v1/organisations", [this](Call& call) {
    if (call.principal.orgId != "default") {
      fail(HttpStatus::HTTP_FORBIDDEN,
           "only administrators of the operator organisation \"default\" create organisations");
    }
    Object::Ptr body = call.body();
    Organisation org;
    org.id = needString(body, "id");
    refuseControlCharacters("id", org.id);
    refuseControlCharacters("name", needString(body, "name"));
    org.name = Poco::trim(needString(body, "name"));
    if (!std::regex_match(org.id, kOrgId)) {
      fail(
          HttpStatus::HTTP_UNPROCESSABLE_ENTITY,
          "\"id\" must be 1 to 32 characters of a-z, 0-9 and '-', starting with a letter or digit");
    }
    if (org.name.empty() || org.name.size() > 128) {
      fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY, "\"name\" must be 1 to 128 characters");
    }
    Object::Ptr admin = body->getObject("admin");
    if (!admin)
      fail(HttpStatus::HTTP_BAD_REQUEST,
           "\"admin\" {username, printed_name, password} is required");
    User first;
    first.orgId = org.id;
    refuseControlCharacters("admin.username", needString(admin, "username"));
    first.username = Poco::toLower(needString(admin, "username"));
    if (!std::regex_match(first.username, kUsername)) {
      fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY,
           "admin.username must be 1 to 64 characters of a-z, 0-9, '.', '_', '@' and '-'");
    }
    first.printedName = printedName(needString(admin, "printed_name"));
    const std::string password = needString(admin, "password");
    checkPassword(password, first.username, org.id);
    const std::string now = isoAt(unixMillisNow());
    org.createdAt = now;
    first.roles = {"admin"};
    checkGrantable(call, first.roles);
    first.passwordHash = hasher.hash(password);
    first.passwordChangedAt = now;
    first.mustChangePassword = true;
    first.createdAt = now;
    ChangeDetail change;
    change.created("id", org.id);
    change.created("name", org.name);
    change.created("admin", first.username);
    StatusOr<int64_t> made =
        accounts.createOrganisation(org, first,
                                    event(call, "organisation.created", "organisation:" + org.id,
                                          change.detail(changeReason(call))));
    if (!made.isOk()) {
      if (made.status().location() == "id") fail(HttpStatus::HTTP_CONFLICT, made.status().reason());
      fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE, "not stored; try again");
    }
    Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("organisation", organisationJson(org));
    std::optional<User> stored = accounts.userByName(org.id, first.username);
    out->set("admin", userJson(stored ? *stored : first));
    call.response.set("Location", "/api/v1/organisations/" + org.id);
    sendJson(call.response, HttpStatus::HTTP_CREATED, out);
  });
}

void Api::Impl::registerUserRoutes() {
  // ---- users --------------------------------------------------------------------------------
  on("GET", "/api/v1/users", [this](Call& call) {
    Array::Ptr items = new Array;
    for (const auto& u : accounts.users(call.principal.orgId)) items->add(userJson(u));
    sendItems(call, items);
  });
  on("GET", "/api/v1/users/{id}",
     [this](Call& call) { sendJson(call.response, HttpStatus::HTTP_OK, userJson(userOf(call))); });
  on("POST", "/api/v1/users", [this](Call& call) {
    Object::Ptr body = call.body();
    User user;
    user.orgId = call.principal.orgId;
    refuseControlCharacters("username", needString(body, "username"));
    user.username = Poco::toLower(needString(body, "username"));
    if (!std::regex_match(user.username, kUsername)) {
      fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY,
           "\"username\" must be 1 to 64 characters of a-z, 0-9, '.', '_', '@' and '-'");
    }
    user.printedName = printedName(needString(body, "printed_name"));
    user.roles = optStrings(body, "roles").value_or(std::vector<std::string>{});
    if (user.roles.empty())
      fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY, "\"roles\" must name at least one role");
    checkGrantable(call, user.roles);
    const std::string password = needString(body, "password");
    checkPassword(password, user.username, user.orgId);
    const std::string now = isoAt(unixMillisNow());
    user.passwordHash = hasher.hash(password);
    user.passwordChangedAt = now;
    user.mustChangePassword = true;  // an initial password: the user chooses their own
    user.createdAt = now;
    ChangeDetail change;
    change.created("username", user.username);
    change.created("printed_name", user.printedName);
    change.created("roles", userJson(user)->getArray("roles"));
    StatusOr<int64_t> made = accounts.createUser(
        user,
        event(call, "user.created", "user:" + user.username, change.detail(changeReason(call))));
    if (!made.isOk()) {
      if (made.status().location() == "username")
        fail(HttpStatus::HTTP_CONFLICT, made.status().reason());
      fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE, "not stored; try again");
    }
    std::optional<User> stored = accounts.user(user.orgId, made.value());
    call.response.set("Location", "/api/v1/users/" + std::to_string(made.value()));
    sendJson(call.response, HttpStatus::HTTP_CREATED, userJson(stored ? *stored : user));
  });
  on("PATCH", "/api/v1/users/{id}", [this](Call& call) {
    User user = userOf(call);
    checkManageable(call, user);
    Object::Ptr body = call.body();
    const Object::Ptr before = userJson(user);
    if (auto name = optString(body, "printed_name")) user.printedName = printedName(*name);
    if (auto roleNames = optStrings(body, "roles")) {
      if (roleNames->empty())
        fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY, "\"roles\" must name at least one role");
      checkGrantable(call, *roleNames);
      user.roles = *roleNames;
    }
    std::string action = "user.updated";
    if (auto disabled = optBool(body, "disabled"); disabled && *disabled != user.disabled) {
      if (*disabled && call.principal.user && call.principal.user->id == user.id) {
        fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY, "you cannot disable your own account");
      }
      user.disabled = *disabled;
      action = *disabled ? "user.disabled" : "user.enabled";
    }
    ChangeDetail change;
    change.differences(before, userJson(user));
    Status saved = accounts.updateUser(
        user, event(call, action, "user:" + user.username, change.detail(changeReason(call))),
        user.disabled ? "user disabled" : "");
    if (!saved.isOk() && saved.location() == "administrator") {
      fail(HttpStatus::HTTP_CONFLICT, saved.reason());
    }
    mustStore(saved);
    sendJson(call.response, HttpStatus::HTTP_OK, userJson(user));
  });
}

/// What an administrator does to one account: unlock, password reset, second factor removal.
void Api::Impl::registerUserActionRoutes() {
  on("POST", "/api/v1/users/{id}/unlock", [this](Call& call) {
    User user = userOf(call);
    checkManageable(call, user);
    ChangeDetail change;
    change.element("locked_until", user.lockedUntil, "");
    change.element("failed_attempts", user.failedAttempts, 0);
    user.failedAttempts = 0;
    user.lockedUntil.clear();
    mustStore(accounts.updateUser(user, event(call, "user.unlocked", "user:" + user.username,
                                              change.detail(changeReason(call)))));
    noContent(call);
  });
  on("POST", "/api/v1/users/{id}/password-reset", [this](Call& call) {
    User user = userOf(call);
    checkManageable(call, user);
    // The administrator never chooses the password, and this one only allows setting a new one.
    const std::string temporary = security::base64UrlEncode(security::randomBytes(15));
    ChangeDetail change;  // the password itself is never recorded, old or new
    change.element("password", "(set by the user)", "(temporary, shown once to the administrator)");
    change.element("must_change_password", user.mustChangePassword, true);
    change.element("locked_until", user.lockedUntil, "");
    const std::string reason = changeReason(call);
    user.passwordHash = hasher.hash(temporary);
    user.passwordChangedAt = isoAt(unixMillisNow());
    user.mustChangePassword = true;
    user.failedAttempts = 0;
    user.lockedUntil.clear();
    mustStore(accounts.updateUser(
        user, event(call, "user.password_reset", "user:" + user.username, change.detail(reason)),
        "password reset"));
    Object::Ptr out = new Object;
    out->set("temporary_password", temporary);
    sendJson(call.response, HttpStatus::HTTP_OK, out);
  });
  on("DELETE", "/api/v1/users/{id}/totp", [this](Call& call) {
    User user = userOf(call);
    checkManageable(call, user);
    ChangeDetail change;
    change.element("totp_enabled", user.totpEnabled, false);
    change.element("totp_enrolment_pending", !user.totpEnabled && !user.totpSecret.empty(), false);
    const std::string reason = changeReason(call);
    user.totpSecret.clear();
    user.totpEnabled = false;
    user.totpLastStep = 0;
    mustStore(accounts.updateUser(
        user, event(call, "user.totp_removed", "user:" + user.username, change.detail(reason))));
    noContent(call);
  });
}

void Api::Impl::registerRoleRoutes() {
  // ---- roles --------------------------------------------------------------------------------
  on("GET", "/api/v1/roles", [this](Call& call) {
    Array::Ptr items = new Array;
    for (const auto& [name, role] : roles.roles()) items->add(roleJson(role));
    sendItems(call, items);
  });
  on("GET", "/api/v1/roles/{name}", [this](Call& call) {
    const Role* role = roles.find(call.params["name"]);
    if (!role) fail(HttpStatus::HTTP_NOT_FOUND, "no such role");
    sendJson(call.response, HttpStatus::HTTP_OK, roleJson(*role));
  });
}

void Api::Impl::registerApiKeyRoutes() {
  // ---- API keys -----------------------------------------------------------------------------
  on("GET", "/api/v1/api-keys", [this](Call& call) {
    Array::Ptr items = new Array;
    for (const auto& k : accounts.apiKeys(call.principal.orgId)) items->add(apiKeyJson(k));
    sendItems(call, items);
  });
  on("GET", "/api/v1/api-keys/{id}", [this](Call& call) {
    std::optional<ApiKeyRecord> key = accounts.apiKey(call.principal.orgId, call.idParam("id"));
    if (!key) fail(HttpStatus::HTTP_NOT_FOUND, "no such API key");
    sendJson(call.response, HttpStatus::HTTP_OK, apiKeyJson(*key));
  });
  on("POST", "/api/v1/api-keys", [this](Call& call) {
    Object::Ptr body = call.body();
    ApiKeyRecord key;
    key.orgId = call.principal.orgId;
    refuseControlCharacters("name", needString(body, "name"));
    key.name = Poco::trim(needString(body, "name"));
    if (key.name.empty() || key.name.size() > 128) {
      fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY, "\"name\" must be 1 to 128 characters");
    }
    key.roles = optStrings(body, "roles").value_or(std::vector<std::string>{});
    if (key.roles.empty())
      fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY, "\"roles\" must name at least one role");
    checkGrantable(call, key.roles);
    if (auto connector = optString(body, "connector"); connector && !connector->empty()) {
      bool found = false;
      for (const auto& c : engine.connectorInfo())
        found = found || (c.name == *connector && c.orgId == key.orgId);
      if (!found) {
        fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY,
             "no connector named \"" + *connector + "\" in your organisation");
      }
      key.connector = *connector;
    }
    const int64_t now = unixMillisNow();
    if (auto expires = optString(body, "expires_at"); expires && !expires->empty()) {
      std::optional<int64_t> at = parseIso(*expires);
      if (!at) fail(HttpStatus::HTTP_BAD_REQUEST, "\"expires_at\" must be an ISO-8601 time");
      if (*at <= now) fail(HttpStatus::HTTP_UNPROCESSABLE_ENTITY, "\"expires_at\" is in the past");
      key.expiresAt = isoAt(*at);
    }
    const std::string secret = security::newToken("lgk_");
    key.prefix = secret.substr(0, 12);
    key.keySha256 = security::tokenDigest(secret);
    key.createdBy = call.principal.actor();
    key.createdAt = isoAt(now);
    ChangeDetail change;
    change.created("name", key.name);
    change.created("prefix", key.prefix);
    change.created("roles", apiKeyJson(key)->getArray("roles"));
    change.created("connector", key.connector);
    change.created("expires_at", key.expiresAt);
    StatusOr<int64_t> made = accounts.createApiKey(
        key,
        event(call, "apikey.created", "apikey:" + key.prefix, change.detail(changeReason(call))));
    if (!made.isOk()) fail(HttpStatus::HTTP_SERVICE_UNAVAILABLE, "not stored; try again");
    key.id = made.value();
    Object::Ptr out = apiKeyJson(key);
    out->set("key", secret);
    call.response.set("Location", "/api/v1/api-keys/" + std::to_string(key.id));
    sendJson(call.response, HttpStatus::HTTP_CREATED, out);
  });
  on("DELETE", "/api/v1/api-keys/{id}", [this](Call& call) {
    const int64_t id = call.idParam("id");
    std::optional<ApiKeyRecord> key = accounts.apiKey(call.principal.orgId, id);
    if (!key) fail(HttpStatus::HTTP_NOT_FOUND, "no such API key");
    ChangeDetail change;
    change.element("name", key->name, key->name);
    change.element("revoked", false, true);
    mustStore(accounts.revokeApiKey(
        call.principal.orgId, id,
        event(call, "apikey.revoked", "apikey:" + key->prefix, change.detail(changeReason(call)))));
    noContent(call);
  });
}

}  // namespace labgate::api
