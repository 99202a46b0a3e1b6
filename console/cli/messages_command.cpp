// labgate messages / dead-letter list|resend (see messages_command.h).
#include "console/cli/messages_command.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/URI.h>

#include <cstdio>
#include <optional>

#include "console/cli/session.h"

namespace labgate::cli {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

const char* const kExitHelp =
    "\nexit status: 0 done; 1 failed (the server refused, not logged in, network); 2 usage "
    "error.\n";

void addQuery(std::string& query, const std::string& name, const std::string& value) {
  std::string encoded;
  Poco::URI::encode(value, "&=?#+%/;", encoded);
  query += query.empty() ? "?" : "&";
  query += name;
  query += "=";
  query += encoded;
}

void messagesUsage(std::ostream& out) {
  out << "usage: labgate messages [--connector C] [--outcome O] [--from T] [--to T]\n"
         "                        [--limit N] [--before ID] [--json]\n"
         "\n"
         "Lists received messages, newest first (GET /api/v1/messages): when, connector,\n"
         "instrument, outcome, the batch an accepted message was stored as, and the reason with\n"
         "field locations (e.g. PID-5 refused by the PHI gate), never a value.\n"
         "\n"
         "  --connector C   one connector's messages\n"
         "  --outcome O     accepted, refused, invalid or duplicate\n"
         "  --from T        received at or after T (ISO-8601, e.g. 2026-11-24 or\n"
         "                  2026-11-24T08:00:00Z)\n"
         "  --to T          received at or before T\n"
         "  --limit N       at most N messages (1-500, default 50)\n"
         "  --before ID     the page after message ID (the command printed below a full page)\n"
         "  --json          print the server's answer as it came\n"
      << kExitHelp;
}

void deadLetterUsage(std::ostream& out) {
  out << "usage: labgate dead-letter list DEST [--limit N] [--before ID] [--json]\n"
         "       labgate dead-letter resend DEST ID --reason TEXT [--json]\n"
         "\n"
         "list: the messages destination DEST's LIS refused (AE/AR), newest first\n"
         "(GET /api/v1/destinations/DEST/dead-letter): id, control id, batch and samples, the\n"
         "LIS's answer and reason, when.\n"
         "resend: puts dead letter ID back into DEST's queue in its original place (it goes\n"
         "before every message created after it that still waits), once the LIS is fixed\n"
         "(POST /api/v1/destinations/DEST/dead-letter/ID/resend; role lis-admin; audited with\n"
         "your name and the reason).\n"
         "\n"
         "  --reason TEXT   why it is sent again (required for resend)\n"
         "  --limit N       at most N dead letters (1-500, default 50)\n"
         "  --before ID     the page after dead letter ID\n"
         "  --json          print the server's answer as it came\n"
      << kExitHelp;
}

}  // namespace

void printMessageList(const std::string& json, const std::string& again, std::ostream& out) {
  Object::Ptr root = parseObject(json);
  Array::Ptr items = root.isNull() ? nullptr : root->getArray("items");
  if (items.isNull() || items->size() == 0) {
    out << "no messages\n";
    return;
  }
  char line[256];
  std::snprintf(line, sizeof line, "%-8s %-25s %-14s %-14s %-10s %-7s %s\n", "ID", "RECEIVED",
                "CONNECTOR", "INSTRUMENT", "OUTCOME", "BATCH", "REASON");
  out << line;
  std::string last;
  for (size_t i = 0; i < items->size(); ++i) {
    Object::Ptr m = items->getObject(static_cast<unsigned>(i));
    if (m.isNull()) continue;
    last = text(m, "id");
    std::snprintf(line, sizeof line, "%-8s %-25s %-14s %-14s %-10s %-7s ", last.c_str(),
                  text(m, "received_at").c_str(), orDash(text(m, "connector")).c_str(),
                  orDash(text(m, "instrument")).c_str(), text(m, "outcome").c_str(),
                  orDash(text(m, "batch_id")).c_str());
    out << line << text(m, "reason") << "\n";
    Array::Ptr locations = m->getArray("locations");
    for (size_t j = 0; !locations.isNull() && j < locations->size(); ++j) {
      Object::Ptr l = locations->getObject(static_cast<unsigned>(j));
      if (l.isNull() || text(m, "outcome") == "invalid") continue;  // already in the reason
      out << "         " << orDash(text(l, "location")) << ": " << text(l, "reason") << "\n";
    }
  }
  if (!text(root, "next").empty()) {
    // The cursor is the last item's id: the next page starts below it.
    out << "more messages: " << again << " --before " << last << "\n";
  }
}

void printDeadLetters(const std::string& json, const std::string& again, std::ostream& out) {
  Object::Ptr root = parseObject(json);
  Array::Ptr items = root.isNull() ? nullptr : root->getArray("items");
  if (items.isNull() || items->size() == 0) {
    out << "no dead letters\n";
    return;
  }
  char line[256];
  std::snprintf(line, sizeof line, "%-8s %-20s %-7s %-4s %-25s %s\n", "ID", "CONTROL ID", "BATCH",
                "ACK", "DEAD AT", "REASON");
  out << line;
  std::string last;
  for (size_t i = 0; i < items->size(); ++i) {
    Object::Ptr d = items->getObject(static_cast<unsigned>(i));
    if (d.isNull()) continue;
    last = text(d, "id");
    std::snprintf(line, sizeof line, "%-8s %-20s %-7s %-4s %-25s ", last.c_str(),
                  text(d, "control_id").c_str(), text(d, "batch_id").c_str(),
                  orDash(text(d, "ack_code")).c_str(), orDash(text(d, "dead_at")).c_str());
    out << line << orDash(text(d, "reason")) << "\n";
    Array::Ptr samples = d->getArray("sample_ids");
    if (!samples.isNull() && samples->size() > 0) {
      out << "         samples:";
      for (size_t j = 0; j < samples->size(); ++j) out << " " << samples->get(j).toString();
      out << "\n";
    }
  }
  if (!text(root, "next").empty())
    out << "more dead letters: " << again << " --before " << last << "\n";
}

int runMessages(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string query;
  std::string again = "labgate messages";
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (isHelp(a)) {
      messagesUsage(out);
      return 0;
    }
    const bool hasValue = i + 1 < args.size();
    if (a == "--json") {
      json = true;
    } else if ((a == "--connector" || a == "--outcome" || a == "--from" || a == "--to" ||
                a == "--limit" || a == "--before") &&
               hasValue) {
      const std::string& value = args[++i];
      if (a == "--outcome" && value != "accepted" && value != "refused" && value != "invalid" &&
          value != "duplicate") {
        err << "labgate messages: --outcome must be accepted, refused, invalid or duplicate\n";
        return 2;
      }
      if ((a == "--limit" || a == "--before") && !isNumber(value)) {
        err << "labgate messages: " << a << " takes a number\n";
        return 2;
      }
      addQuery(query, a.substr(2), value);
      if (a != "--before") again += " " + a + " " + shellWord(value);
    } else {
      err << "labgate messages: unexpected argument \"" << a << "\"\n";
      messagesUsage(err);
      return 2;
    }
  }
  std::optional<QaSession> s = loadSession("messages", err);
  if (!s) return 1;
  Answer a = sessionCall("messages", *s, "GET", "/api/v1/messages" + query, "", err);
  if (!ok(a)) return 1;
  if (json) {
    printBody(a.body, out);
  } else {
    printMessageList(a.body, again, out);
  }
  return 0;
}

int runDeadLetter(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> words;
  std::string reason, limit, before;
  bool haveReason = false;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (isHelp(a)) {
      deadLetterUsage(out);
      return 0;
    }
    const bool hasValue = i + 1 < args.size();
    if (a == "--json") {
      json = true;
    } else if (a == "--reason" && hasValue) {
      reason = args[++i];
      haveReason = true;
    } else if ((a == "--limit" || a == "--before") && hasValue) {
      const std::string& value = args[++i];
      if (!isNumber(value)) {
        err << "labgate dead-letter: " << a << " takes a number\n";
        return 2;
      }
      (a == "--limit" ? limit : before) = value;
    } else if (!a.empty() && a[0] != '-') {
      words.push_back(a);
    } else {
      err << "labgate dead-letter: unexpected argument \"" << a << "\"\n";
      deadLetterUsage(err);
      return 2;
    }
  }
  const bool list = !words.empty() && words[0] == "list";
  const bool resend = !words.empty() && words[0] == "resend";
  if (!(list && words.size() == 2) && !(resend && words.size() == 3)) {
    err << "labgate dead-letter: expected \"list DEST\" or \"resend DEST ID\"\n";
    deadLetterUsage(err);
    return 2;
  }
  std::string destination;
  Poco::URI::encode(words[1], "&=?#+%/;", destination);
  if (list && haveReason) {
    err << "labgate dead-letter: --reason is for resend\n";
    return 2;
  }
  if (resend) {
    if (!isNumber(words[2])) {
      err << "labgate dead-letter: the dead letter's ID is a number\n";
      return 2;
    }
    if (!haveReason || reason.find_first_not_of(" \t") == std::string::npos) {
      err << "labgate dead-letter: resend needs --reason TEXT (why it is sent again)\n";
      return 2;
    }
    if (!limit.empty() || !before.empty()) {
      err << "labgate dead-letter: --limit and --before are for list\n";
      return 2;
    }
  }
  const std::string command = "dead-letter " + words[0];
  std::optional<QaSession> s = loadSession(command, err);
  if (!s) return 1;
  if (list) {
    std::string query;
    if (!limit.empty()) addQuery(query, "limit", limit);
    if (!before.empty()) addQuery(query, "before", before);
    Answer a = sessionCall(command, *s, "GET",
                           "/api/v1/destinations/" + destination + "/dead-letter" + query, "", err);
    if (!ok(a)) return 1;
    std::string again = "labgate dead-letter list " + shellWord(words[1]);
    if (!limit.empty()) again += " --limit " + limit;
    if (json) {
      printBody(a.body, out);
    } else {
      printDeadLetters(a.body, again, out);
    }
    return 0;
  }
  Object::Ptr body = new Object;
  body->set("reason", reason);
  Answer a =
      sessionCall(command, *s, "POST",
                  "/api/v1/destinations/" + destination + "/dead-letter/" + words[2] + "/resend",
                  condensed(body), err);
  if (!ok(a)) return 1;
  if (json) {
    printBody(a.body, out);
    return 0;
  }
  Object::Ptr r = parseObject(a.body);
  out << "dead letter " << words[2] << " (control id " << text(r, "control_id")
      << ") is queued again for " << words[1];
  const std::string ahead = text(r, "ahead_of");
  if (!ahead.empty() && ahead != "0") {
    out << ", ahead of " << ahead << " message" << (ahead == "1" ? "" : "s") << " created after it";
  }
  out << "\n";
  return 0;
}

}  // namespace labgate::cli
