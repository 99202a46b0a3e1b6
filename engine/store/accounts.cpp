// AccountStore on the Store's SQLite machinery (store_impl.h): writes are jobs of the group-commit
// writer, each with its audit events in the same transaction; reads go through the reader session.
// See accounts.h for the contract.
//
// Decisions the header leaves open:
// - Lists (roles, the IP allow list) are stored as comma-separated text: a role name or a CIDR
//   never contains a comma, and a list item that does is refused with Status::invalid.
// - Usernames are unique without regard to ASCII case (the column is COLLATE NOCASE), so
//   userByName() finds "alice" when asked for "Alice". Organisation ids are lowercase slugs.
// - An audit event passed in is recorded under the organisation of the row it concerns (its orgId
//   is overwritten); an empty subject or action is filled in ("user:12", "user.created").
// - createOrganisation() returns the first administrator's user id (the organisation's id is the
//   caller's).
// - Login records, session touches and ends, and API key touches are not audited: the logins
//   table is their record, and the hash chain is kept for changes of state.
// - Time bounds are inclusive of every time they are a prefix of: to = "2026-05-01" includes the
//   whole day.
// - PageRequest::limit 0 means the default (50); more than 1000 is read as 1000.
#include "engine/store/accounts.h"

#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>

#include <algorithm>
#include <limits>
#include <map>
#include <stdexcept>
#include <utility>

#include "engine/store/store_impl.h"
#include "util/json_quote.h"

using namespace Poco::Data::Keywords;  // NOLINT(google-build-using-namespace): SQL binding keywords
using Poco::Data::Session;
using Poco::Data::Statement;

namespace labgate {
namespace {

constexpr size_t kDefaultPageLimit = 50;
constexpr size_t kMaxPageLimit = 1000;

/// Runs `work` as one job of the Store's writer. A Refused thrown by the work rolls the job back
/// and becomes the answer; any other failure is the writer's Status.
template <typename Impl, typename Work>
Status writeJob(Impl& impl, Work&& work) {
  Status refusal;
  Status written = impl.write([&](Session& s) {
    try {
      work(s);
    } catch (const Refused& r) {
      refusal = r.status();
      throw;
    }
  });
  // The writer's promise orders the job's writes to `refusal` before this read.
  return refusal.isOk() ? written : refusal;
}

/// writeJob for a write that can change an authentication answer: once the transaction has
/// committed (or failed: a needless move costs one re-read), the accounts generation moves, so
/// that an answer cached before it is not used again (AccountStore::generation()).
template <typename Impl, typename Work>
Status changeJob(Impl& impl, Work&& work) {
  Status status = writeJob(impl, std::forward<Work>(work));
  impl.accountsGeneration.fetch_add(1, std::memory_order_acq_rel);
  return status;
}

std::string joinList(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) {
      out += ',';
    }
    out += item;
  }
  return out;
}

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) {
      comma = text.size();
    }
    if (comma > start) {
      out.push_back(text.substr(start, comma - start));
    }
    start = comma + 1;
  }
  return out;
}

/// Refuses a list item that contains a comma (it would split in two when read back).
void checkList(const std::vector<std::string>& items, const std::string& field) {
  for (const auto& item : items) {
    if (item.empty() || item.find(',') != std::string::npos) {
      throw Refused(Status::invalid(field, "an item is empty or contains a comma"));
    }
  }
}

/// A JSON string literal (for audit details).
/// The one JSON string quoting (util/json_quote.h).
std::string jsonString(const std::string& text) { return util::jsonQuote(text); }

std::string jsonList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    out += (i ? "," : "") + jsonString(items[i]);
  }
  return out + "]";
}

/// The inclusive upper bound of a time filter: every time `to` is a prefix of sorts below it.
std::string upperBound(const std::string& to) { return to.empty() ? to : to + "\x7f"; }

/// The `id < ?` bound of a page: before = 0 means from the newest.
int64_t beforeId(const PageRequest& page) {
  return page.before > 0 ? page.before : std::numeric_limits<int64_t>::max();
}

int64_t fetchLimit(const PageRequest& page) {
  size_t limit = page.limit == 0 ? kDefaultPageLimit : std::min(page.limit, kMaxPageLimit);
  return static_cast<int64_t>(limit) + 1;  // one more, to know whether a next page exists
}

/// Cuts the extra row read by fetchLimit() and sets the cursor.
template <typename T>
Page<T> toPage(std::vector<T> rows, int64_t fetched) {
  Page<T> page;
  if (static_cast<int64_t>(rows.size()) >= fetched) {
    rows.pop_back();
    page.next = rows.back().id;
  }
  page.items = std::move(rows);
  return page;
}

int64_t lastInsertId(Session& s) {
  int64_t id = 0;
  s << "SELECT last_insert_rowid()"_sql, into(id), now;
  return id;
}

/// Fills an event's defaults and binds it to the organisation of the row it concerns.
AuditEvent scoped(AuditEvent event, const std::string& orgId, const std::string& action,
                  const std::string& subject) {
  event.orgId = orgId;
  if (event.action.empty()) {
    event.action = action;
  }
  if (event.subject.empty()) {
    event.subject = subject;
  }
  return event;
}

// ---- organisations --------------------------------------------------------------------------

void checkOrganisationId(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 64 && id.front() != '-';
  for (char c : id) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  }
  if (!ok) {
    throw Refused(Status::invalid(
        "id",
        "an organisation id is 1 to 64 lowercase letters, digits and '-', not starting "
        "with '-'"));
  }
}

void insertOrganisation(Session& s, const Organisation& org) {
  checkOrganisationId(org.id);
  checkList(org.ipAllowList, "ipAllowList");
  int64_t taken = 0;
  s << "SELECT COUNT(*) FROM organisations WHERE id = ?"_sql, bind(org.id), into(taken), now;
  if (taken > 0) {
    throw Refused(Status::invalid(
        "id", "the organisation id is already used; organisation ids are never reused"));
  }
  std::string createdAt = org.createdAt.empty() ? isoNow() : org.createdAt;
  int expiry = org.passwordExpiryDays, mfa = org.mfaRequired ? 1 : 0;
  s << "INSERT INTO organisations (id, name, password_expiry_days, mfa_required, ip_allowlist, "
       "created_at) VALUES (?, ?, ?, ?, ?, ?)"_sql,
      bind(org.id), bind(org.name), use(expiry), use(mfa), bind(joinList(org.ipAllowList)),
      use(createdAt), now;
}

std::string organisationDetail(const Organisation& org) {
  return "{\"name\":" + jsonString(org.name) +
         ",\"password_expiry_days\":" + std::to_string(org.passwordExpiryDays) +
         ",\"mfa_required\":" + (org.mfaRequired ? "true" : "false") +
         ",\"ip_allowlist\":" + jsonList(org.ipAllowList) + "}";
}

/// Reads the organisations `select` finds (its SQL and bindings set; the columns of
/// kOrganisations).
std::vector<Organisation> readOrganisations(Statement& select) {
  std::vector<Organisation> out;
  Organisation row;
  int mfa = 0;
  std::string allow;
  select, into(row.id), into(row.name), into(row.passwordExpiryDays), into(mfa), into(allow),
      into(row.createdAt), range(0, 1);
  eachRow(select, [&] {
    Organisation o = row;
    o.mfaRequired = mfa != 0;
    o.ipAllowList = splitList(allow);
    out.push_back(std::move(o));
  });
  return out;
}

constexpr const char* kOrganisations =
    "SELECT id, name, password_expiry_days, mfa_required, ip_allowlist, created_at FROM "
    "organisations ";

// ---- users ----------------------------------------------------------------------------------

/// Reads the users `select` finds (its SQL and bindings set; the columns of kUsers). `impl` opens
/// the sealed TOTP secrets (encryption at rest, engine/store/encryption.cpp).
template <typename Impl>
std::vector<User> readUsers(Statement& select, const Impl& impl) {
  std::vector<User> out;
  User row;
  std::string roles;
  int mustChange = 0, disabled = 0, totpEnabled = 0;
  select, into(row.id), into(row.orgId), into(row.username), into(row.printedName), into(roles),
      into(row.passwordHash), into(row.passwordChangedAt), into(mustChange), into(disabled),
      into(row.failedAttempts), into(row.lockedUntil), into(row.totpSecret), into(totpEnabled),
      into(row.totpLastStep), into(row.createdAt), into(row.lastLoginAt), range(0, 1);
  eachRow(select, [&] {
    User u = row;
    u.roles = splitList(roles);
    u.mustChangePassword = mustChange != 0;
    u.disabled = disabled != 0;
    u.totpEnabled = totpEnabled != 0;
    u.totpSecret = impl.openColumn(u.totpSecret, totpSecretAad(u.orgId, u.username));
    out.push_back(std::move(u));
  });
  return out;
}

constexpr const char* kUsers =
    "SELECT id, org_id, username, printed_name, roles, password_hash, password_changed_at, "
    "must_change_password, disabled, failed_attempts, locked_until, totp_secret, totp_enabled, "
    "totp_last_step, created_at, last_login_at FROM users ";

std::string usernameTaken() {
  return "the username is already used in this organisation; usernames are never reused";
}

/// Inserts `user` into `orgId` and returns its id; refuses a username taken in the organisation.
template <typename Impl>
int64_t insertUser(Session& s, const Impl& impl, const std::string& orgId, const User& user) {
  if (user.username.empty()) {
    throw Refused(Status::invalid("username", "a username is required"));
  }
  checkList(user.roles, "roles");
  int64_t orgs = 0, taken = 0;
  s << "SELECT COUNT(*) FROM organisations WHERE id = ?"_sql, bind(orgId), into(orgs), now;
  if (orgs == 0) {
    throw Refused(Status::notFound("orgId", "no such organisation"));
  }
  s << "SELECT COUNT(*) FROM users WHERE org_id = ? AND username = ?"_sql, bind(orgId),
      bind(user.username), into(taken), now;
  if (taken > 0) {
    throw Refused(Status::invalid("username", usernameTaken()));
  }
  std::string createdAt = user.createdAt.empty() ? isoNow() : user.createdAt;
  int mustChange = user.mustChangePassword ? 1 : 0, disabled = user.disabled ? 1 : 0,
      totpEnabled = user.totpEnabled ? 1 : 0, failed = user.failedAttempts;
  int64_t lastStep = user.totpLastStep;
  try {
    s << "INSERT INTO users (org_id, username, printed_name, roles, password_hash, "
         "password_changed_at, must_change_password, disabled, failed_attempts, locked_until, "
         "totp_secret, totp_enabled, totp_last_step, created_at, last_login_at) VALUES (?, ?, ?, "
         "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"_sql,
        bind(orgId), bind(user.username), bind(user.printedName), bind(joinList(user.roles)),
        bind(user.passwordHash), bind(user.passwordChangedAt), use(mustChange), use(disabled),
        use(failed), bind(user.lockedUntil),
        bind(impl.sealColumn(user.totpSecret, totpSecretAad(orgId, user.username))),
        use(totpEnabled), use(lastStep), use(createdAt), bind(user.lastLoginAt), now;
  } catch (const Poco::Data::SQLite::ConstraintViolationException& e) {
    if (e.displayText().find("UNIQUE") == std::string::npos) {
      throw;
    }
    throw Refused(Status::invalid("username", usernameTaken()));
  }
  return lastInsertId(s);
}

/// What an audit event may say about a user: never its password hash or TOTP secret.
std::string userDetail(const User& user) {
  return "{\"username\":" + jsonString(user.username) + ",\"roles\":" + jsonList(user.roles) +
         ",\"disabled\":" + (user.disabled ? "true" : "false") + "}";
}

void endOpenSessions(Session& s, const std::string& orgId, int64_t userId,
                     const std::string& reason, int64_t keepSessionId = 0) {
  std::string at = isoNow();
  s << "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE org_id = ? AND user_id = ? AND "
       "id <> ? AND ended_at = ''"_sql,
      use(at), bind(reason), bind(orgId), bind(userId), bind(keepSessionId), now;
}

void insertLogin(Session& s, const LoginRecord& r) {
  std::string at = r.at.empty() ? isoNow() : r.at;
  s << "INSERT INTO logins (org_id, at, username, method, peer, user_agent, outcome) VALUES (?, "
       "?, ?, ?, ?, ?, ?)"_sql,
      bind(r.orgId), use(at), bind(r.username), bind(r.method), bind(r.peer), bind(r.userAgent),
      bind(r.outcome), now;
}

// ---- sessions and API keys ------------------------------------------------------------------

std::optional<SessionRecord> selectSession(Session& s, const std::string& tokenSha256) {
  SessionRecord r;
  Statement select(s);
  select << "SELECT id, org_id, user_id, token_sha256, csrf_sha256, created_at, last_seen_at, "
            "expires_at, ended_at, end_reason, peer, user_agent FROM sessions WHERE "
            "token_sha256 = ? AND ended_at = ''"_sql,
      bind(tokenSha256), into(r.id), into(r.orgId), into(r.userId), into(r.tokenSha256),
      into(r.csrfSha256), into(r.createdAt), into(r.lastSeenAt), into(r.expiresAt), into(r.endedAt),
      into(r.endReason), into(r.peer), into(r.userAgent);
  if (select.execute() == 0) {
    return std::nullopt;
  }
  return r;
}

/// Reads the API keys `select` finds (its SQL and bindings set; the columns of kApiKeys).
std::vector<ApiKeyRecord> readApiKeys(Statement& select) {
  std::vector<ApiKeyRecord> out;
  ApiKeyRecord row;
  std::string roles;
  select, into(row.id), into(row.orgId), into(row.name), into(row.prefix), into(row.keySha256),
      into(roles), into(row.connector), into(row.createdBy), into(row.createdAt),
      into(row.expiresAt), into(row.lastUsedAt), into(row.revokedAt), range(0, 1);
  eachRow(select, [&] {
    ApiKeyRecord k = row;
    k.roles = splitList(roles);
    out.push_back(std::move(k));
  });
  return out;
}

constexpr const char* kApiKeys =
    "SELECT id, org_id, name, prefix, key_sha256, roles, connector, created_by, created_at, "
    "expires_at, last_used_at, revoked_at FROM api_keys ";

/// The first of `rows`, if any.
template <typename T>
std::optional<T> first(std::vector<T> rows) {
  if (rows.empty()) {
    return std::nullopt;
  }
  return std::move(rows.front());
}

// ---- samples --------------------------------------------------------------------------------

/// The lowest and highest samples row id of `orgId`'s messages received within [from, to] (to
/// already through upperBound; either may be empty = open), or {0, 0} when there is none: bounds
/// a newest-first walk over samples exactly (the time filter itself stays in the query). The
/// message ids come from messages_org (org_id, received_at), the sample ids from
/// samples_message.
std::pair<int64_t, int64_t> sampleIdRange(Session& s, const std::string& orgId,
                                          const std::string& from, const std::string& to) {
  const std::pair<int64_t, int64_t> ids = messageIdRange(s, orgId, from, to);
  std::pair<int64_t, int64_t> out{0, 0};
  Statement samples(s);
  samples << "SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), 0) FROM samples WHERE message_id "
             ">= ? AND message_id <= ?"_sql,
      bind(ids.first), bind(ids.second), into(out.first), into(out.second), now;
  return out;
}

/// Sample summaries of `orgId` with minId <= id < before, newest first.
std::vector<SampleSummary> selectSamples(Session& s, const std::string& orgId,
                                         const SampleFilter& f, int64_t before, int64_t minId,
                                         int64_t limit) {
  std::vector<SampleSummary> out;
  if (!f.from.empty() || !f.to.empty()) {
    // One day in the middle of a year: start the walk at the range's newest sample, not at the
    // newest of all (issue 17).
    const auto [first, last] = sampleIdRange(s, orgId, f.from, upperBound(f.to));
    before = std::min(before, last + 1);
    minId = std::max(minId, first);
  }
  SampleSummary row;
  // Only the filters given are in the statement (issue 17, bench/README.md "Scale: a year of a
  // busy lab"): a term "(? = '' OR s.sample_id = ?)" cannot use an index, so a search for one
  // sample id walked every older sample; "s.sample_id = ?" alone is a samples_org_sample lookup,
  // and a time range can start from messages_org instead of the newest sample.
  std::string sql =
      "SELECT s.id, s.message_id, s.sample_id, s.kind, m.instrument, m.connector, "
      "m.received_at, (SELECT COUNT(*) FROM results r WHERE r.sample_row_id = s.id) FROM "
      "samples s JOIN messages m ON m.id = s.message_id WHERE s.org_id = ? AND m.org_id = ? "
      "AND s.id < ? AND s.id >= ?";
  Statement select(s);
  select.addBind(bind(orgId));
  select.addBind(bind(orgId));
  select.addBind(bind(before));
  select.addBind(bind(minId));
  auto filter = [&](const std::string& value, const char* term) {
    if (value.empty()) return;
    sql += term;
    select.addBind(bind(value));
  };
  filter(f.sampleId, " AND s.sample_id = ?");
  filter(f.instrument, " AND m.instrument = ?");
  filter(f.from, " AND m.received_at >= ?");
  filter(upperBound(f.to), " AND m.received_at <= ?");
  filter(f.state,
         " AND EXISTS (SELECT 1 FROM results r WHERE r.sample_row_id = s.id AND "
         "r.disposition = ?)");
  sql += " ORDER BY s.id DESC LIMIT ?";
  select.addBind(bind(limit));
  select << sql::Text{sql}, into(row.id), into(row.messageId), into(row.sampleId), into(row.kind),
      into(row.instrument), into(row.connector), into(row.receivedAt), into(row.resultCount),
      range(0, 1);
  eachRow(select, [&] { out.push_back(row); });
  for (SampleSummary& summary : out) {
    Statement states(s);
    states << "SELECT DISTINCT disposition FROM results WHERE sample_row_id = ? AND org_id = ? "
              "ORDER BY disposition"_sql,
        bind(summary.id), bind(orgId), into(summary.states), now;
  }
  return out;
}

std::vector<ResultRecord> selectResults(Session& s, const std::string& orgId, int64_t sampleRow) {
  std::vector<ResultRecord> out;
  ResultRecord row;
  Statement select(s);
  select << "SELECT id, instrument_code, lis_code, lis_name, value, units, reference_range, "
            "flags, status, measured_at, disposition FROM results WHERE org_id = ? AND "
            "sample_row_id = ? ORDER BY id"_sql,
      bind(orgId), bind(sampleRow), into(row.id), into(row.instrumentCode), into(row.lisCode),
      into(row.lisName), into(row.value), into(row.units), into(row.referenceRange),
      into(row.flags), into(row.status), into(row.measuredAt), into(row.disposition), range(0, 1);
  eachRow(select, [&] { out.push_back(row); });

  std::map<int64_t, ResultRecord*> byId;
  for (ResultRecord& r : out) {
    byId[r.id] = &r;
  }
  int64_t resultId = 0;
  FindingRecord finding;
  Statement findings(s);
  findings << "SELECT f.result_id, f.rule_id, f.severity, f.message, f.action FROM findings f "
              "JOIN results r ON r.id = f.result_id WHERE f.org_id = ? AND r.org_id = ? AND "
              "r.sample_row_id = ? ORDER BY f.id"_sql,
      bind(orgId), bind(orgId), bind(sampleRow), into(resultId), into(finding.ruleId),
      into(finding.severity), into(finding.message), into(finding.action), range(0, 1);
  eachRow(findings, [&] {
    auto it = byId.find(resultId);
    if (it != byId.end()) {
      it->second->findings.push_back(finding);
    }
  });
  return out;
}

bool hasRole(const std::vector<std::string>& roles, const std::string& role) {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

/// Revokes, in the running transaction, every active key created by `creator` ("user:alice")
/// and every key those keys created, each with an "apikey.revoked" audit event.
template <typename Impl>
void revokeKeysOf(Session& s, Impl& impl, const std::string& orgId, const std::string& creator,
                  const std::string& actor) {
  std::vector<std::string> creators{creator};
  const std::string at = isoNow();
  while (!creators.empty()) {
    const std::string by = creators.back();
    creators.pop_back();
    std::vector<int64_t> ids;
    s << "SELECT id FROM api_keys WHERE org_id = ? AND created_by = ? AND revoked_at = ''"_sql,
        bind(orgId), bind(by), into(ids), now;
    for (int64_t id : ids) {
      s << "UPDATE api_keys SET revoked_at = ? WHERE org_id = ? AND id = ?"_sql, bind(at),
          bind(orgId), bind(id), now;
      impl.appendAudit(s, {orgId, actor, "apikey.revoked", "apikey:" + std::to_string(id),
                           "{\"reason\":\"its creator " + by + " was disabled or revoked\"}"});
      creators.push_back("apikey:" + std::to_string(id));
    }
  }
}

}  // namespace

AccountStore::AccountStore(std::shared_ptr<Store> store) : store_(std::move(store)) {}

uint64_t AccountStore::generation() const {
  return store_->impl_->accountsGeneration.load(std::memory_order_acquire);
}

// ---- organisations and the first start --------------------------------------------------------

bool AccountStore::hasUsers() {
  return store_->impl_->read([](Session& s) {
    int64_t any = 0;
    s << "SELECT COUNT(*) FROM (SELECT 1 FROM users LIMIT 1) AS any_user"_sql, into(any), now;
    return any != 0;
  });
}

Status AccountStore::bootstrap(const Organisation& org, const User& admin) {
  auto& impl = *store_->impl_;
  return changeJob(impl, [&](Session& s) {
    int64_t any = 0;
    s << "SELECT COUNT(*) FROM (SELECT 1 FROM users LIMIT 1) AS any_user"_sql, into(any), now;
    if (any != 0) {
      throw Refused(Status::invalid("users", "a user exists: the first start has been done"));
    }
    insertOrganisation(s, org);
    int64_t adminId = insertUser(s, impl, org.id, admin);
    impl.appendAudit(s, {org.id, "engine", "organisation.created", "organisation:" + org.id,
                         organisationDetail(org)});
    impl.appendAudit(s, {org.id, "engine", "user.created", "user:" + std::to_string(adminId),
                         userDetail(admin)});
  });
}

StatusOr<int64_t> AccountStore::createOrganisation(const Organisation& org, const User& firstAdmin,
                                                   const AuditEvent& event) {
  auto& impl = *store_->impl_;
  int64_t adminId = 0;
  Status status = changeJob(impl, [&](Session& s) {
    insertOrganisation(s, org);
    adminId = insertUser(s, impl, org.id, firstAdmin);
    AuditEvent created = scoped(event, org.id, "organisation.created", "organisation:" + org.id);
    if (created.detail.empty()) {
      created.detail = organisationDetail(org);
    }
    impl.appendAudit(s, created);
    impl.appendAudit(s, {org.id, event.actor, "user.created", "user:" + std::to_string(adminId),
                         userDetail(firstAdmin)});
  });
  if (!status.isOk()) {
    return status;
  }
  return adminId;
}

std::optional<Organisation> AccountStore::organisation(const std::string& id) {
  return store_->impl_->read([&](Session& s) {
    Statement select(s);
    select << sql::Text{std::string(kOrganisations) + "WHERE id = ?"}, bind(id);
    return first(readOrganisations(select));
  });
}

std::vector<Organisation> AccountStore::organisations() {
  return store_->impl_->read([](Session& s) {
    Statement select(s);
    select << sql::Text{std::string(kOrganisations) + "ORDER BY id"};
    return readOrganisations(select);
  });
}

Status AccountStore::updateOrganisation(const Organisation& org, const AuditEvent& event) {
  auto& impl = *store_->impl_;
  return changeJob(impl, [&](Session& s) {
    checkList(org.ipAllowList, "ipAllowList");
    int expiry = org.passwordExpiryDays, mfa = org.mfaRequired ? 1 : 0;
    Statement update(s);
    update << "UPDATE organisations SET name = ?, password_expiry_days = ?, mfa_required = ?, "
              "ip_allowlist = ? WHERE id = ?"_sql,
        bind(org.name), use(expiry), use(mfa), bind(joinList(org.ipAllowList)), bind(org.id);
    if (update.execute() == 0) {
      throw Refused(Status::notFound("id", "no such organisation"));
    }
    AuditEvent updated = scoped(event, org.id, "organisation.updated", "organisation:" + org.id);
    if (updated.detail.empty()) {
      updated.detail = organisationDetail(org);
    }
    impl.appendAudit(s, updated);
  });
}

// ---- users ------------------------------------------------------------------------------------

StatusOr<int64_t> AccountStore::createUser(const User& user, const AuditEvent& event) {
  auto& impl = *store_->impl_;
  int64_t id = 0;
  Status status = changeJob(impl, [&](Session& s) {
    id = insertUser(s, impl, user.orgId, user);
    AuditEvent created = scoped(event, user.orgId, "user.created", "user:" + std::to_string(id));
    if (created.detail.empty()) {
      created.detail = userDetail(user);
    }
    impl.appendAudit(s, created);
  });
  if (!status.isOk()) {
    return status;
  }
  return id;
}

std::optional<User> AccountStore::user(const std::string& orgId, int64_t id) {
  return store_->impl_->read([&](Session& s) {
    Statement select(s);
    select << sql::Text{std::string(kUsers) + "WHERE org_id = ? AND id = ?"}, bind(orgId), bind(id);
    return first(readUsers(select, *store_->impl_));
  });
}

std::optional<User> AccountStore::userByName(const std::string& orgId,
                                             const std::string& username) {
  return store_->impl_->read([&](Session& s) {
    Statement select(s);
    select << sql::Text{std::string(kUsers) + "WHERE org_id = ? AND username = ?"}, bind(orgId),
        bind(username);
    return first(readUsers(select, *store_->impl_));
  });
}

std::vector<User> AccountStore::users(const std::string& orgId) {
  return store_->impl_->read([&](Session& s) {
    Statement select(s);
    select << sql::Text{std::string(kUsers) + "WHERE org_id = ? ORDER BY id"}, bind(orgId);
    return readUsers(select, *store_->impl_);
  });
}

Status AccountStore::updateUser(const User& user, const AuditEvent& event,
                                const std::string& endSessionsReason, int64_t keepSessionId) {
  auto& impl = *store_->impl_;
  return changeJob(impl, [&](Session& s) {
    checkList(user.roles, "roles");
    int mustChange = user.mustChangePassword ? 1 : 0, disabled = user.disabled ? 1 : 0,
        totpEnabled = user.totpEnabled ? 1 : 0, failed = user.failedAttempts;
    int64_t lastStep = user.totpLastStep;
    std::string rolesBefore;
    int disabledBefore = 0;
    s << "SELECT roles, disabled FROM users WHERE org_id = ? AND id = ?"_sql, bind(user.orgId),
        bind(user.id), into(rolesBefore), into(disabledBefore), now;
    const bool wasDisabled = disabledBefore != 0;
    const bool wasAdmin = !wasDisabled && hasRole(splitList(rolesBefore), "admin");
    // totp_last_step and last_login_at only move forward: a User read before a login must not
    // make a used TOTP step usable again.
    Statement update(s);
    update
        << "UPDATE users SET printed_name = ?, roles = ?, password_hash = ?, "
           "password_changed_at = ?, must_change_password = ?, disabled = ?, failed_attempts = ?, "
           "locked_until = ?, totp_secret = ?, totp_enabled = ?, "
           "totp_last_step = MAX(totp_last_step, ?), last_login_at = MAX(last_login_at, ?) "
           "WHERE org_id = ? AND id = ?"_sql,
        bind(user.printedName), bind(joinList(user.roles)), bind(user.passwordHash),
        bind(user.passwordChangedAt), use(mustChange), use(disabled), use(failed),
        bind(user.lockedUntil),
        bind(impl.sealColumn(user.totpSecret, totpSecretAad(user.orgId, user.username))),
        use(totpEnabled), use(lastStep), bind(user.lastLoginAt), bind(user.orgId), bind(user.id);
    if (update.execute() == 0) {
      throw Refused(Status::notFound("user", "no such user"));
    }
    const bool adminNow = !user.disabled && hasRole(user.roles, "admin");
    if (wasAdmin && !adminNow) {
      int64_t admins = 0;
      s << "SELECT COUNT(*) FROM users WHERE org_id = ? AND disabled = 0 AND "
           "(',' || roles || ',') LIKE '%,admin,%'"_sql,
          bind(user.orgId), into(admins), now;
      if (admins == 0) {
        throw Refused(Status::rejected(
            "administrator",
            "this is the organisation's last administrator: give another user the role admin "
            "first"));
      }
    }
    if (user.disabled && !wasDisabled) {
      revokeKeysOf(s, impl, user.orgId, "user:" + user.username, event.actor);
    }
    if (user.disabled || !endSessionsReason.empty()) {
      endOpenSessions(s, user.orgId, user.id,
                      endSessionsReason.empty() ? "user disabled" : endSessionsReason,
                      user.disabled ? 0 : keepSessionId);
    }
    AuditEvent updated =
        scoped(event, user.orgId, "user.updated", "user:" + std::to_string(user.id));
    if (updated.detail.empty()) {
      updated.detail = userDetail(user);
    }
    impl.appendAudit(s, updated);
  });
}

// ---- logins -----------------------------------------------------------------------------------

StatusOr<AccountStore::FailedLogin> AccountStore::recordLoginFailure(const LoginRecord& record,
                                                                     std::optional<int64_t> userId,
                                                                     int threshold,
                                                                     const std::string& lockUntil,
                                                                     const AuditEvent* audit) {
  auto& impl = *store_->impl_;
  FailedLogin failed;
  Status status = changeJob(impl, [&](Session& s) {
    insertLogin(s, record);
    if (audit != nullptr) {
      impl.appendAudit(s, *audit);
    }
    if (!userId) {
      return;
    }
    Statement update(s);
    update
        << "UPDATE users SET failed_attempts = failed_attempts + 1 WHERE id = ? AND org_id = ?"_sql,
        bind(*userId), bind(record.orgId);
    if (update.execute() == 0) {
      return;
    }
    std::string lockedUntil;
    s << "SELECT failed_attempts, locked_until FROM users WHERE id = ?"_sql, bind(*userId),
        into(failed.attempts), into(lockedUntil), now;
    // A lock that has run out does not count: the next failure past the threshold locks again.
    std::string at = record.at.empty() ? isoNow() : record.at;
    bool locked = !lockedUntil.empty() && lockedUntil > at;
    if (threshold <= 0 || failed.attempts < threshold || locked) {
      return;
    }
    s << "UPDATE users SET locked_until = ? WHERE id = ?"_sql, bind(lockUntil), bind(*userId), now;
    failed.lockedNow = true;
    impl.appendAudit(s, {record.orgId, "engine", "user.locked", "user:" + std::to_string(*userId),
                         "{\"attempts\":" + std::to_string(failed.attempts) +
                             ",\"locked_until\":" + jsonString(lockUntil) + "}"});
  });
  if (!status.isOk()) {
    return status;
  }
  return failed;
}

Status AccountStore::recordLoginRefused(const LoginRecord& record) {
  return writeJob(*store_->impl_, [&](Session& s) { insertLogin(s, record); });
}

StatusOr<int64_t> AccountStore::recordLoginSuccess(const LoginRecord& record, int64_t userId,
                                                   const SessionRecord& session) {
  int64_t sessionId = 0;
  Status status = changeJob(*store_->impl_, [&](Session& s) {
    std::string at = record.at.empty() ? isoNow() : record.at;
    Statement update(s);
    update << "UPDATE users SET failed_attempts = 0, locked_until = '', last_login_at = ? WHERE id "
              "= ? "
              "AND org_id = ?"_sql,
        use(at), bind(userId), bind(record.orgId);
    if (update.execute() == 0) {
      throw Refused(Status::notFound("user", "no such user"));
    }
    insertLogin(s, record);
    std::string createdAt = session.createdAt.empty() ? at : session.createdAt;
    std::string lastSeen = session.lastSeenAt.empty() ? createdAt : session.lastSeenAt;
    s << "INSERT INTO sessions (org_id, user_id, token_sha256, csrf_sha256, created_at, "
         "last_seen_at, expires_at, peer, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"_sql,
        bind(record.orgId), bind(userId), bind(session.tokenSha256), bind(session.csrfSha256),
        use(createdAt), use(lastSeen), bind(session.expiresAt), bind(session.peer),
        bind(session.userAgent), now;
    sessionId = lastInsertId(s);
  });
  if (!status.isOk()) {
    return status;
  }
  return sessionId;
}

Page<LoginRecord> AccountStore::logins(const std::string& orgId, const LoginFilter& filter,
                                       const PageRequest& page) {
  int64_t limit = fetchLimit(page);
  auto rows = store_->impl_->read([&](Session& s) {
    std::vector<LoginRecord> out;
    LoginRecord row;
    Statement select(s);
    select << "SELECT id, at, org_id, username, method, peer, user_agent, outcome FROM logins "
              "WHERE org_id = ? AND id < ? AND (? = '' OR at >= ?) AND (? = '' OR "
              "at <= ?) AND (? = '' OR username = ?) AND (? = '' OR outcome = ?) ORDER BY id "
              "DESC LIMIT ?"_sql,
        bind(orgId), bind(beforeId(page)), bind(filter.from), bind(filter.from),
        bind(upperBound(filter.to)), bind(upperBound(filter.to)), bind(filter.username),
        bind(filter.username), bind(filter.outcome), bind(filter.outcome), bind(limit),
        into(row.id), into(row.at), into(row.orgId), into(row.username), into(row.method),
        into(row.peer), into(row.userAgent), into(row.outcome), range(0, 1);
    eachRow(select, [&] { out.push_back(row); });
    return out;
  });
  return toPage(std::move(rows), limit);
}

StatusOr<bool> AccountStore::useTotpStep(int64_t userId, int64_t step) {
  bool used = false;
  Status status = changeJob(*store_->impl_, [&](Session& s) {
    Statement update(s);
    update << "UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?"_sql,
        bind(step), bind(userId), bind(step);
    used = update.execute() > 0;
  });
  if (!status.isOk()) {
    return status;
  }
  return used;
}

// ---- sessions ---------------------------------------------------------------------------------

std::optional<SessionRecord> AccountStore::sessionByToken(const std::string& tokenSha256) {
  if (tokenSha256.empty()) {
    return std::nullopt;
  }
  return store_->impl_->read([&](Session& s) { return selectSession(s, tokenSha256); });
}

Status AccountStore::touchSession(int64_t sessionId, const std::string& at) {
  return writeJob(*store_->impl_, [&](Session& s) {
    s << "UPDATE sessions SET last_seen_at = ? WHERE id = ? AND ended_at = ''"_sql, bind(at),
        bind(sessionId), now;
  });
}

Status AccountStore::endSession(int64_t sessionId, const std::string& reason) {
  return changeJob(*store_->impl_, [&](Session& s) {
    std::string at = isoNow();
    s << "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at = ''"_sql,
        use(at), bind(reason), bind(sessionId), now;
  });
}

Status AccountStore::endUserSessions(int64_t userId, const std::string& reason,
                                     int64_t exceptSessionId) {
  return changeJob(*store_->impl_, [&](Session& s) {
    std::string at = isoNow();
    s << "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE user_id = ? AND id <> ? AND "
         "ended_at = ''"_sql,
        use(at), bind(reason), bind(userId), bind(exceptSessionId), now;
  });
}

// ---- API keys ---------------------------------------------------------------------------------

StatusOr<int64_t> AccountStore::createApiKey(const ApiKeyRecord& key, const AuditEvent& event) {
  auto& impl = *store_->impl_;
  int64_t id = 0;
  Status status = changeJob(impl, [&](Session& s) {
    checkList(key.roles, "roles");
    if (key.keySha256.empty()) {
      throw Refused(Status::invalid("key", "the key digest is empty"));
    }
    std::string createdAt = key.createdAt.empty() ? isoNow() : key.createdAt;
    try {
      s << "INSERT INTO api_keys (org_id, name, prefix, key_sha256, roles, connector, created_by, "
           "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"_sql,
          bind(key.orgId), bind(key.name), bind(key.prefix), bind(key.keySha256),
          bind(joinList(key.roles)), bind(key.connector), bind(key.createdBy), use(createdAt),
          bind(key.expiresAt), now;
    } catch (const Poco::Data::SQLite::ConstraintViolationException& e) {
      if (e.displayText().find("FOREIGN KEY") != std::string::npos) {
        throw Refused(Status::notFound("orgId", "no such organisation"));
      }
      throw Refused(Status::invalid("key", "a key with this digest exists"));
    }
    id = lastInsertId(s);
    AuditEvent created = scoped(event, key.orgId, "apikey.created", "apikey:" + std::to_string(id));
    if (created.detail.empty()) {
      created.detail =
          "{\"name\":" + jsonString(key.name) + ",\"prefix\":" + jsonString(key.prefix) +
          ",\"roles\":" + jsonList(key.roles) + ",\"connector\":" + jsonString(key.connector) + "}";
    }
    impl.appendAudit(s, created);
  });
  if (!status.isOk()) {
    return status;
  }
  return id;
}

std::optional<ApiKeyRecord> AccountStore::apiKeyByDigest(const std::string& keySha256) {
  return store_->impl_->read([&](Session& s) {
    Statement select(s);
    select << sql::Text{std::string(kApiKeys) + "WHERE key_sha256 = ?"}, bind(keySha256);
    return first(readApiKeys(select));
  });
}

std::optional<ApiKeyRecord> AccountStore::apiKey(const std::string& orgId, int64_t id) {
  return store_->impl_->read([&](Session& s) {
    Statement select(s);
    select << sql::Text{std::string(kApiKeys) + "WHERE org_id = ? AND id = ?"}, bind(orgId),
        bind(id);
    return first(readApiKeys(select));
  });
}

std::vector<ApiKeyRecord> AccountStore::apiKeys(const std::string& orgId) {
  return store_->impl_->read([&](Session& s) {
    Statement select(s);
    select << sql::Text{std::string(kApiKeys) + "WHERE org_id = ? ORDER BY id"}, bind(orgId);
    return readApiKeys(select);
  });
}

Status AccountStore::revokeApiKey(const std::string& orgId, int64_t id, const AuditEvent& event) {
  auto& impl = *store_->impl_;
  return changeJob(impl, [&](Session& s) {
    std::string revokedAt;
    Statement select(s);
    select << "SELECT revoked_at FROM api_keys WHERE org_id = ? AND id = ?"_sql, bind(orgId),
        bind(id), into(revokedAt);
    if (select.execute() == 0) {
      throw Refused(Status::notFound("id", "no such API key"));
    }
    if (!revokedAt.empty()) {
      return;  // revoked already: nothing to write
    }
    std::string at = isoNow();
    s << "UPDATE api_keys SET revoked_at = ? WHERE org_id = ? AND id = ?"_sql, use(at), bind(orgId),
        bind(id), now;
    impl.appendAudit(s, scoped(event, orgId, "apikey.revoked", "apikey:" + std::to_string(id)));
  });
}

Status AccountStore::touchApiKey(int64_t id, const std::string& at) {
  return writeJob(*store_->impl_, [&](Session& s) {
    s << "UPDATE api_keys SET last_used_at = ? WHERE id = ?"_sql, bind(at), bind(id), now;
  });
}

// ---- read side of the REST API ----------------------------------------------------------------

Page<AuditRecord> AccountStore::audit(const std::string& orgId, const AuditFilter& filter,
                                      const PageRequest& page) {
  int64_t limit = fetchLimit(page);
  bool prefix = !filter.action.empty() && filter.action.back() == '.';
  std::string exactAction = prefix ? "" : filter.action;
  std::string actionPrefix = prefix ? filter.action : "";
  auto rows = store_->impl_->read([&](Session& s) {
    std::vector<AuditRecord> out;
    AuditRecord row;
    Statement select(s);
    select << "SELECT id, org_id, at, actor, action, subject, detail, hash FROM audit WHERE "
              "org_id = ? AND id < ? AND (? = '' OR at >= ?) AND (? = '' OR at <= ?) "
              "AND (? = '' OR actor = ?) AND (? = '' OR action = ?) AND (? = '' OR "
              "substr(action, 1, length(?)) = ?) AND (? = '' OR subject = ?) ORDER BY id DESC "
              "LIMIT ?"_sql,
        bind(orgId), bind(beforeId(page)), bind(filter.from), bind(filter.from),
        bind(upperBound(filter.to)), bind(upperBound(filter.to)), bind(filter.actor),
        bind(filter.actor), bind(exactAction), bind(exactAction), bind(actionPrefix),
        bind(actionPrefix), bind(actionPrefix), bind(filter.subject), bind(filter.subject),
        bind(limit), into(row.id), into(row.orgId), into(row.at), into(row.actor), into(row.action),
        into(row.subject), into(row.detail), into(row.hash), range(0, 1);
    eachRow(select, [&] { out.push_back(row); });
    return out;
  });
  return toPage(std::move(rows), limit);
}

Page<SampleSummary> AccountStore::samples(const std::string& orgId, const SampleFilter& filter,
                                          const PageRequest& page) {
  int64_t limit = fetchLimit(page);
  auto rows = store_->impl_->read(
      [&](Session& s) { return selectSamples(s, orgId, filter, beforeId(page), 0, limit); });
  return toPage(std::move(rows), limit);
}

std::optional<SampleDetail> AccountStore::sample(const std::string& orgId, int64_t id) {
  if (id <= 0 || id == std::numeric_limits<int64_t>::max()) {
    return std::nullopt;
  }
  return store_->impl_->read([&](Session& s) -> std::optional<SampleDetail> {
    auto found = selectSamples(s, orgId, SampleFilter{}, id + 1, id, 1);
    if (found.empty()) {
      return std::nullopt;
    }
    SampleDetail detail;
    detail.summary = std::move(found.front());
    detail.results = selectResults(s, orgId, id);
    return detail;
  });
}

Status AccountStore::appendAudit(const AuditEvent& event) {
  auto& impl = *store_->impl_;
  return impl.write([&](Session& s) { impl.appendAudit(s, event); });
}

}  // namespace labgate
