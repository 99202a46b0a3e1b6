// What a person changes is in the audit trail with the old and the new value of each element, the
// reason and the actor (21 CFR 11.10(e), EU GMP Annex 11 §9 and §12.4; docs/audit.md "Changes
// people make"), through the real labgated:
//   - account changes record before/after per element and the reason sent in the body, the
//     server's UTC time (a time in the body is ignored), and the password never;
//   - audit.change_reason = required refuses a change without a reason (nothing changes);
//   - a reason that looks like a patient identifier is refused and stored nowhere;
//   - no route of the API writes, changes or deletes an audit event; a forbidden request is one
//     (access.denied).
#include <gtest/gtest.h>

#include "tests/integration/accounts_test_support.h"

namespace labgate::it::accounts {
namespace {

using Poco::JSON::Object;

class AuditChangesTest : public AccountsTest {
 protected:
  /// The events of `subject`, oldest first.
  std::vector<Object::Ptr> eventsOf(const std::string& token, const std::string& subject) {
    ApiResponse r = api_.get("/api/v1/audit?limit=200&subject=" + subject, withBearer(token));
    EXPECT_EQ(r.status, 200) << r.describe();
    std::vector<Object::Ptr> events = itemsOf(r);
    std::reverse(events.begin(), events.end());  // the API lists newest first
    return events;
  }
  /// The newest event of `subject` with `action` (null when there is none).
  Object::Ptr lastEvent(const std::string& token, const std::string& subject,
                        const std::string& action) {
    Object::Ptr found;
    for (const auto& e : eventsOf(token, subject)) {
      if (str(e, "action") == action) found = e;
    }
    EXPECT_FALSE(found.isNull()) << "no " << action << " event for " << subject;
    return found;
  }
  static Object::Ptr detailOf(const Object::Ptr& event) {
    return event.isNull() ? Object::Ptr() : event->getObject("detail");
  }
  static std::string member(const Object::Ptr& detail, const std::string& side,
                            const std::string& element) {
    if (detail.isNull() || detail->getObject(side).isNull()) return "<no " + side + ">";
    Object::Ptr o = detail->getObject(side);
    if (!o->has(element)) return "<absent>";
    if (o->isNull(element)) return "null";
    std::ostringstream text;
    Poco::JSON::Stringifier::stringify(o->get(element), text);
    return text.str();
  }
  static HttpHeaders jsonBearer(const std::string& token) {
    return withBearer(token, {{"Content-Type", "application/json"}});
  }
};

TEST_F(AuditChangesTest, AccountChangesRecordOldAndNewValuePerElementTheReasonAndTheActor) {
  startEngine();
  const std::string admin = adminToken();
  const std::string name = newUsername("qa");
  const std::string initial = strongPassword();
  remember("initial password", initial);
  ApiResponse made = api_.post("/api/v1/users",
                               Json()
                                   .set("username", name)
                                   .set("printed_name", "Dana Reviewer")
                                   .set("password", initial)
                                   .set("roles", std::vector<std::string>{"qa-reviewer"})
                                   .set("reason", "new QA reviewer, ticket QA-118")
                                   .str(),
                               withBearer(admin));
  ASSERT_EQ(made.status, 201) << made.describe();
  const std::string id = std::to_string(made.number("id", 0));
  const std::string subject = "user:" + name;

  Object::Ptr created = lastEvent(admin, subject, "user.created");
  ASSERT_FALSE(created.isNull());
  EXPECT_EQ(str(created, "actor"), "user:admin");
  EXPECT_EQ(member(detailOf(created), "before", "roles"), "null");
  EXPECT_EQ(member(detailOf(created), "after", "roles"), "[\"qa-reviewer\"]");
  EXPECT_EQ(str(detailOf(created), "reason"), "new QA reviewer, ticket QA-118");

  // A change of two elements: both recorded with their old and new value, nothing else. A time
  // in the body is not the event's time: the server's clock is.
  ApiResponse patched =
      api_.patch("/api/v1/users/" + id,
                 Json()
                     .set("printed_name", "Dana Q. Reviewer")
                     .set("roles", std::vector<std::string>{"qa-reviewer", "qa-approver"})
                     .set("reason", "promoted to approver, ticket QA-131")
                     .set("at", "1999-01-01T00:00:00Z")
                     .str(),
                 withBearer(admin));
  ASSERT_EQ(patched.status, 200) << patched.describe();
  Object::Ptr updated = lastEvent(admin, subject, "user.updated");
  ASSERT_FALSE(updated.isNull());
  Object::Ptr d = detailOf(updated);
  EXPECT_EQ(member(d, "before", "printed_name"), "\"Dana Reviewer\"");
  EXPECT_EQ(member(d, "after", "printed_name"), "\"Dana Q. Reviewer\"");
  EXPECT_EQ(member(d, "before", "roles"), "[\"qa-reviewer\"]");
  EXPECT_EQ(member(d, "after", "roles"), "[\"qa-reviewer\",\"qa-approver\"]");
  EXPECT_EQ(member(d, "before", "disabled"), "<absent>") << "an unchanged element is not listed";
  EXPECT_EQ(str(d, "reason"), "promoted to approver, ticket QA-131");
  EXPECT_EQ(str(updated, "at").rfind("20", 0), 0u) << str(updated, "at");
  EXPECT_EQ(str(updated, "at").back(), 'Z') << "UTC: " << str(updated, "at");
  EXPECT_EQ(str(updated, "at").find("1999"), std::string::npos);

  // Actions without a body of their own take the reason as {"reason": ...}.
  ApiResponse reset =
      api_.post("/api/v1/users/" + id + "/password-reset",
                Json().set("reason", "forgot password, identity checked").str(), withBearer(admin));
  ASSERT_EQ(reset.status, 200) << reset.describe();
  remember("temporary password", reset.text("temporary_password"));
  Object::Ptr resetEvent = lastEvent(admin, subject, "user.password_reset");
  EXPECT_EQ(str(detailOf(resetEvent), "reason"), "forgot password, identity checked");
  EXPECT_EQ(member(detailOf(resetEvent), "after", "must_change_password"), "true");

  ApiResponse unlocked = api_.post("/api/v1/users/" + id + "/unlock", "", withBearer(admin));
  EXPECT_EQ(unlocked.status, 204) << unlocked.describe();
  Object::Ptr unlockEvent = lastEvent(admin, subject, "user.unlocked");
  EXPECT_EQ(str(detailOf(unlockEvent), "reason"), "") << "no body: no reason, still recorded";
  EXPECT_EQ(member(detailOf(unlockEvent), "after", "failed_attempts"), "0");

  // DELETE with a JSON body.
  ApiResponse keyMade;
  createApiKey(admin, "bench instrument", {"instrument"}, "", "", &keyMade);
  ASSERT_EQ(keyMade.status, 201) << keyMade.describe();
  const std::string keyId = std::to_string(keyMade.number("id", 0));
  const std::string prefix = keyMade.text("prefix");
  ApiResponse revoked =
      api_.request("DELETE", "/api/v1/api-keys/" + keyId,
                   Json().set("reason", "instrument decommissioned").str(), jsonBearer(admin));
  EXPECT_EQ(revoked.status, 204) << revoked.describe();
  Object::Ptr revokeEvent = lastEvent(admin, "apikey:" + prefix, "apikey.revoked");
  EXPECT_EQ(str(detailOf(revokeEvent), "reason"), "instrument decommissioned");
  EXPECT_EQ(member(detailOf(revokeEvent), "before", "revoked"), "false");
  EXPECT_EQ(member(detailOf(revokeEvent), "after", "revoked"), "true");

  stopEngine();
  expectNoSecretsWritten(secrets_);
}

TEST_F(AuditChangesTest, WhenAReasonIsRequiredAChangeWithoutOneChangesNothing) {
  config_.set("audit.change_reason", "required");
  startEngine();
  const std::string admin = adminToken();
  const std::string initial = strongPassword();
  remember("initial password", initial);
  Json user = Json()
                  .set("username", newUsername("qa"))
                  .set("printed_name", "Robin Reviewer")
                  .set("password", initial)
                  .set("roles", std::vector<std::string>{"qa-reviewer"});
  ApiResponse without = api_.post("/api/v1/users", user.str(), withBearer(admin));
  EXPECT_EQ(without.status, 422) << without.describe();
  ApiResponse made =
      api_.post("/api/v1/users", user.set("reason", "new starter").str(), withBearer(admin));
  ASSERT_EQ(made.status, 201) << made.describe();
  const std::string path = "/api/v1/users/" + std::to_string(made.number("id", 0));

  ApiResponse refused = api_.patch(
      path, Json().set("roles", std::vector<std::string>{"auditor"}).str(), withBearer(admin));
  EXPECT_EQ(refused.status, 422) << refused.describe();
  EXPECT_NE(refused.describe().find("a reason for this change is required "
                                    "(audit.change_reason = required)"),
            std::string::npos)
      << refused.describe();
  ApiResponse blank = api_.patch(
      path, Json().set("roles", std::vector<std::string>{"auditor"}).set("reason", "  ").str(),
      withBearer(admin));
  EXPECT_EQ(blank.status, 422) << "a blank reason is none: " << blank.describe();
  ApiResponse unchanged = api_.get(path, withBearer(admin));
  EXPECT_EQ(stringsOf(unchanged.json, "roles"), std::vector<std::string>{"qa-reviewer"})
      << unchanged.describe();

  ApiResponse accepted = api_.patch(path,
                                    Json()
                                        .set("roles", std::vector<std::string>{"auditor"})
                                        .set("reason", "moved to the audit team")
                                        .str(),
                                    withBearer(admin));
  EXPECT_EQ(accepted.status, 200) << accepted.describe();

  ApiResponse unlockWithout = api_.post(path + "/unlock", "", withBearer(admin));
  EXPECT_EQ(unlockWithout.status, 422) << unlockWithout.describe();
  stopEngine();
}

TEST_F(AuditChangesTest, AReasonThatLooksLikeAPatientIdentifierIsRefusedAndStoredNowhere) {
  startEngine();
  const std::string admin = adminToken();
  Account user = createAccount(admin, "qa", {"qa-reviewer"});
  ASSERT_NE(user.id, 0);
  const std::string path = "/api/v1/users/" + std::to_string(user.id);
  const std::string ssn = "078-05-1120";
  const std::string reason = "as asked by the patient, SSN " + ssn;

  ApiResponse refused =
      api_.patch(path, Json().set("printed_name", "Changed Name").set("reason", reason).str(),
                 withBearer(admin));
  EXPECT_EQ(refused.status, 422) << refused.describe();
  EXPECT_NE(refused.describe().find("\"reason\" looks like it holds a patient identifier"),
            std::string::npos)
      << refused.describe();
  EXPECT_EQ(refused.body.find(ssn), std::string::npos) << "the answer must not echo the value";
  EXPECT_FALSE(refused.text("pattern").empty()) << refused.describe();
  EXPECT_EQ(api_.get(path, withBearer(admin)).text("printed_name"), "Test " + user.username)
      << "nothing changed";

  // What people write about runs, lots and dates is not taken for an identifier.
  ApiResponse accepted =
      api_.patch(path,
                 Json()
                     .set("printed_name", "Changed Name")
                     .set("reason", "QC rerun 2026-12-01, lot 4711, ticket QA-140")
                     .str(),
                 withBearer(admin));
  EXPECT_EQ(accepted.status, 200) << accepted.describe();

  stopEngine();
  std::vector<Secret> secrets = secrets_;
  secrets.push_back({"a social security number in a reason", ssn});
  expectNoSecretsWritten(secrets);
}

TEST_F(AuditChangesTest, NoRouteWritesChangesOrDeletesAnAuditEvent) {
  for (const auto& route : api::routeTable()) {
    if (route.path.rfind("/api/v1/audit", 0) == 0) {
      EXPECT_EQ(route.method, "GET") << route.method << " " << route.path;
    }
  }
  startEngine();
  const std::string admin = adminToken();
  for (const std::string method : {"POST", "PUT", "PATCH", "DELETE"}) {
    for (const std::string path : {"/api/v1/audit", "/api/v1/audit/1"}) {
      ApiResponse r = api_.request(method, path, "{}", jsonBearer(admin));
      EXPECT_TRUE(r.status == 404 || r.status == 405)
          << method << " " << path << ": " << r.describe();
    }
  }
  // §11.10(g): a forbidden action answers 403 and leaves a security event naming the caller.
  Account reviewer = createAccount(admin, "rev", {"qa-reviewer"});
  ApiResponse forbidden = api_.post("/api/v1/users",
                                    Json()
                                        .set("username", newUsername("x"))
                                        .set("printed_name", "X")
                                        .set("password", strongPassword())
                                        .set("roles", std::vector<std::string>{"admin"})
                                        .str(),
                                    withBearer(reviewer.token));
  EXPECT_EQ(forbidden.status, 403) << forbidden.describe();
  Object::Ptr denied = lastEvent(admin, "user:" + std::to_string(reviewer.id), "access.denied");
  ASSERT_FALSE(denied.isNull());
  EXPECT_EQ(str(denied, "actor"), "user:" + reviewer.username);
  EXPECT_EQ(str(detailOf(denied), "endpoint"), "POST /api/v1/users");
  EXPECT_NE(str(detailOf(denied), "detail").find("users.manage"), std::string::npos)
      << str(detailOf(denied), "detail");

  ApiResponse chain = api_.get("/api/v1/audit/verification", withBearer(admin));
  EXPECT_EQ(chain.status, 200) << chain.describe();
  EXPECT_TRUE(chain.flag("valid")) << chain.describe();
  stopEngine();
}

}  // namespace
}  // namespace labgate::it::accounts
