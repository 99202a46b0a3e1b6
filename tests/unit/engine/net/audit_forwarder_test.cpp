// The RFC 5424 form of an audit event (engine/net/audit_forwarder.h): PRI from the facility and
// severity notice, MSGID from the action (printable ASCII, at most 32), SD-PARAM values escaped,
// the event as JSON after a BOM carrying the exact stored detail.
#include "engine/net/audit_forwarder.h"

#include <gtest/gtest.h>

namespace labgate {
namespace {

ChainedEvent event() {
  ChainedEvent e;
  e.id = 42;
  e.orgId = "lab\"a]b\\c";
  e.at = "2026-12-07T08:41:07.123Z";
  e.actor = "user:alice";
  e.action = "a very long action name with spaces.and.more.words";
  e.subject = "user:3";
  e.detail = "{\"roles\":[\"viewer\"]}";
  e.prevHash = std::string(64, 'a');
  e.hash = std::string(64, 'b');
  return e;
}

TEST(SyslogMessageTest, HeaderStructuredDataAndMessage) {
  const std::string m = syslogMessage(event(), 13, "gw1");
  EXPECT_EQ(m.rfind("<109>1 2026-12-07T08:41:07.123Z gw1 labgated - ", 0), 0u) << m;
  // MSGID: spaces become '_', cut at 32 characters.
  EXPECT_NE(m.find(" a_very_long_action_name_with_spa [labgate@32473 "), std::string::npos) << m;
  EXPECT_NE(m.find("seq=\"42\""), std::string::npos);
  EXPECT_NE(m.find("hash=\"" + std::string(64, 'b') + "\""), std::string::npos);
  EXPECT_NE(m.find("prev=\"" + std::string(64, 'a') + "\""), std::string::npos);
  EXPECT_NE(m.find("org=\"lab\\\"a\\]b\\\\c\"]"), std::string::npos) << m;
  const size_t bom = m.find("] \xEF\xBB\xBF{\"seq\":42,");
  ASSERT_NE(bom, std::string::npos) << m;
  EXPECT_NE(m.find("\"detail\":\"{\\\"roles\\\":[\\\"viewer\\\"]}\""), std::string::npos) << m;
}

TEST(SyslogMessageTest, FacilitySetsThePriority) {
  EXPECT_EQ(syslogMessage(event(), 0, "h").rfind("<5>1 ", 0), 0u);
  EXPECT_EQ(syslogMessage(event(), 23, "h").rfind("<189>1 ", 0), 0u);
}

}  // namespace
}  // namespace labgate
