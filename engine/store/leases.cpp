// Delivery leases (issue 17, docs/adr/0021): one node at a time delivers a destination's queue
// on a shared PostgreSQL store. See Store::acquireLease in store.h.
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>

#include "engine/store/store.h"
#include "engine/store/store_impl.h"
#include "util/json_quote.h"

using namespace Poco::Data::Keywords;
using Poco::Data::Session;
using Poco::Data::Statement;

namespace labgate {

bool Store::shared() const { return impl_->backend() == sql::Backend::kPostgres; }

StatusOr<DeliveryLease> Store::acquireLease(const std::string& destination,
                                            const std::string& nodeId, int64_t ttlMillis) {
  DeliveryLease lease;
  lease.destination = destination;
  if (!shared()) {
    lease.held = true;
    lease.node = nodeId;
    lease.remainingMillis = ttlMillis;
    return lease;
  }
  Status status = impl_->write([&](Session& s) {
    WriterStatements& sql = *impl_->statements;
    sql.run(
        "INSERT INTO delivery_leases (destination, node_id, expires_at_ms, generation, "
        "acquired_at) VALUES (?, '', 0, 0, '') ON CONFLICT (destination) DO NOTHING",
        destination);
    std::string node;
    int64_t expires = 0;
    int64_t generation = 0;
    int64_t now = 0;
    std::string dest = destination;
    Statement select(s);
    // SKIP LOCKED: a node never waits for another one's renewal; it looks again later.
    select << sql::Text{"SELECT node_id, expires_at_ms, generation, " +
                        std::string(sql::nowMillis(impl_->backend())) +
                        " FROM delivery_leases WHERE destination = ? FOR UPDATE SKIP LOCKED"},
        use(dest), into(node), into(expires), into(generation), into(now);
    if (select.execute() == 0) {
      lease.node = "another node (renewing its lease now)";
      return;
    }
    const int64_t until = now + ttlMillis;
    if (node == nodeId && expires > now) {
      sql.run("UPDATE delivery_leases SET expires_at_ms = ? WHERE destination = ?", until,
              destination);
      lease.held = true;
      lease.node = nodeId;
      lease.remainingMillis = ttlMillis;
      lease.generation = generation;
      return;
    }
    if (!node.empty() && node != nodeId && expires > now) {
      lease.node = node;
      lease.remainingMillis = expires - now;
      lease.generation = generation;
      return;
    }
    sql.run(
        "UPDATE delivery_leases SET node_id = ?, expires_at_ms = ?, generation = ?, "
        "acquired_at = ? WHERE destination = ?",
        nodeId, until, generation + 1, isoNow(), destination);
    lease.held = true;
    lease.taken = true;
    lease.previousNode = node;
    lease.node = nodeId;
    lease.remainingMillis = ttlMillis;
    lease.generation = generation + 1;
    impl_->appendAudit(
        s, {"default", "node:" + nodeId, "delivery.lease_taken", "destination:" + destination,
            "{\"destination\":" + util::jsonQuote(destination) + ",\"node\":" +
                util::jsonQuote(nodeId) + ",\"previous_node\":" + util::jsonQuote(node) +
                ",\"generation\":" + std::to_string(generation + 1) + "}"});
  });
  if (!status.isOk()) return status;
  return lease;
}

Status Store::releaseLease(const std::string& destination, const std::string& nodeId) {
  if (!shared()) return Status::ok();
  return impl_->write([&](Session&) {
    impl_->statements->run(
        "UPDATE delivery_leases SET expires_at_ms = 0 WHERE destination = ? AND node_id = ?",
        destination, nodeId);
  });
}

}  // namespace labgate
