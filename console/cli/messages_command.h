// The LIS administrator's traffic commands (issue 14, docs/operations.md "Received messages" and
// "Dead letters"), on the login of issue 13 (console/cli/session.h):
//   labgate messages [--connector C] [--outcome O] [--from T] [--to T] [--limit N] [--before ID]
//                    [--json]
//   labgate dead-letter list DEST [--limit N] [--before ID] [--json]
//   labgate dead-letter resend DEST ID --reason TEXT [--json]
// Exit status as the QA commands: 0 done, 1 failed (server refused, not logged in, network),
// 2 usage error.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace labgate::cli {

int runMessages(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int runDeadLetter(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// The readable forms (exposed for tests): a GET /api/v1/messages answer and a dead-letter list.
/// `again` is the command that repeats the listing, printed with --before N when there is a next
/// page.
void printMessageList(const std::string& json, const std::string& again, std::ostream& out);
void printDeadLetters(const std::string& json, const std::string& again, std::ostream& out);

}  // namespace labgate::cli
