// The readable forms of `labgate messages` and `labgate dead-letter list` (issue 14), and their
// usage errors (exit 2 before anything is asked of a server).
#include "console/cli/messages_command.h"

#include <gtest/gtest.h>

#include <sstream>

namespace labgate::cli {
namespace {

TEST(MessagesPrint, ListShowsOutcomeReasonLocationsAndTheNextPageCommand) {
  std::ostringstream out;
  printMessageList(
      R"({"items":[{"id":91,"received_at":"2026-12-07T09:00:00.000Z","connector":"lab1",)"
      R"("instrument":"tq-01","outcome":"refused","batch_id":null,"batch":null,"peer":"10.1.4.2:5",)"
      R"("reason":"refused by the PHI gate: patient-identifying data at P-6","locations":[)"
      R"j({"location":"P-6","reason":"refused by the PHI gate (structural.P-6)"}]},)j"
      R"({"id":90,"received_at":"2026-12-07T08:59:00.000Z","connector":"lab1",)"
      R"("instrument":"tq-01","outcome":"accepted","batch_id":12,"batch":"/api/v1/batches/12",)"
      R"("peer":"10.1.4.2:4","reason":"stored as batch 12","locations":[]}],)"
      R"("next":"/api/v1/messages?limit=2&before=90"})",
      "labgate messages --limit 2", out);
  const std::string s = out.str();
  EXPECT_EQ(s.rfind("ID", 0), 0u) << s;
  for (const char* shown : {"refused", "P-6: refused by the PHI gate (structural.P-6)", "accepted",
                            "stored as batch 12", " 12 "}) {
    EXPECT_NE(s.find(shown), std::string::npos) << shown << " not in:\n" << s;
  }
  EXPECT_NE(s.find("more messages: labgate messages --limit 2 --before 90\n"), std::string::npos)
      << s;

  std::ostringstream none;
  printMessageList(R"({"items":[],"next":null})", "labgate messages", none);
  EXPECT_EQ(none.str(), "no messages\n");
}

TEST(MessagesPrint, DeadLettersShowTheLisAnswerAndSamples) {
  std::ostringstream out;
  printDeadLetters(R"({"items":[{"id":7,"destination":"lis","control_id":"LG0001","batch_id":12,)"
                   R"("batch":"/api/v1/batches/12","sample_ids":["S-1","S-2"],"ack_code":"AE",)"
                   R"("reason":"Order not found","queued_at":"2026-12-07T09:00:00.000Z",)"
                   R"("dead_at":"2026-12-07T09:00:01.000Z","attempts":1}],"next":null})",
                   "labgate dead-letter list lis", out);
  const std::string s = out.str();
  for (const char* shown : {"LG0001", "AE", "Order not found", "samples: S-1 S-2"}) {
    EXPECT_NE(s.find(shown), std::string::npos) << shown << " not in:\n" << s;
  }
  EXPECT_EQ(s.find("more"), std::string::npos) << "no next page";
  std::ostringstream none;
  printDeadLetters(R"({"items":[]})", "labgate dead-letter list lis", none);
  EXPECT_EQ(none.str(), "no dead letters\n");
}

TEST(MessagesUsage, BadArgumentsExitTwoBeforeAnyRequest) {
  std::ostringstream out, err;
  EXPECT_EQ(runMessages({"--outcome", "lost"}, out, err), 2);
  EXPECT_EQ(runMessages({"--limit", "ten"}, out, err), 2);
  EXPECT_EQ(runMessages({"--connector"}, out, err), 2) << "an option without its value";
  EXPECT_EQ(runDeadLetter({}, out, err), 2);
  EXPECT_EQ(runDeadLetter({"list"}, out, err), 2);
  EXPECT_EQ(runDeadLetter({"resend", "lis", "7"}, out, err), 2) << "--reason is required";
  EXPECT_EQ(runDeadLetter({"resend", "lis", "x7", "--reason", "fixed"}, out, err), 2);
  EXPECT_EQ(runDeadLetter({"resend", "lis", "7", "--reason", "  "}, out, err), 2);
  EXPECT_EQ(runDeadLetter({"list", "lis", "--reason", "why"}, out, err), 2);
  EXPECT_EQ(runDeadLetter({"list", "lis", "--before", "x"}, out, err), 2);
  std::ostringstream help;
  EXPECT_EQ(runDeadLetter({"--help"}, help, err), 0);
  EXPECT_EQ(help.str().rfind("usage: labgate dead-letter", 0), 0u);
}

}  // namespace
}  // namespace labgate::cli
