// Migrations for the SQLite schema (see schema.h). Every customer row carries org_id.
#include "engine/store/schema.h"

namespace labgate {

const std::vector<std::string_view>& schemaMigrations() {
  static const std::vector<std::string_view> kMigrations = {
      // 1: messages, samples, results, findings, the outbound queue, the audit log.
      R"sql(
CREATE TABLE messages (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  connector TEXT NOT NULL,
  instrument TEXT NOT NULL,
  control_id TEXT NOT NULL,
  sender TEXT NOT NULL,
  format TEXT NOT NULL,
  peer TEXT NOT NULL,
  received_at TEXT NOT NULL,
  content_sha256 TEXT NOT NULL,
  sample_count INTEGER NOT NULL,
  result_count INTEGER NOT NULL
);
CREATE INDEX messages_org ON messages(org_id, received_at);
CREATE TABLE samples (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages(id),
  sample_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  position TEXT NOT NULL,
  acquired_at TEXT NOT NULL
);
CREATE INDEX samples_message ON samples(message_id);
CREATE INDEX samples_org_sample ON samples(org_id, sample_id);
CREATE TABLE results (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages(id),
  sample_row_id INTEGER NOT NULL REFERENCES samples(id),
  instrument_code TEXT NOT NULL,
  lis_code TEXT NOT NULL,
  lis_name TEXT NOT NULL,
  value TEXT NOT NULL,
  numeric_value REAL,
  units TEXT NOT NULL,
  reference_range TEXT NOT NULL,
  flags TEXT NOT NULL,
  status TEXT NOT NULL,
  measured_at TEXT NOT NULL,
  comment TEXT NOT NULL,
  disposition TEXT NOT NULL
);
CREATE INDEX results_sample ON results(sample_row_id);
CREATE INDEX results_org_disposition ON results(org_id, disposition);
CREATE TABLE findings (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  result_id INTEGER NOT NULL REFERENCES results(id),
  rule_id TEXT NOT NULL,
  severity TEXT NOT NULL,
  subject TEXT NOT NULL,
  message TEXT NOT NULL,
  measured TEXT NOT NULL,
  limit_value TEXT NOT NULL
);
CREATE INDEX findings_result ON findings(result_id);
CREATE TABLE outbound (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  destination TEXT NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages(id),
  control_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'delivered', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  ack_code TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  delivered_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbound_queue ON outbound(destination, state, id);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql",
      // 2: the (sender, control id) pairs already stored, so a resent message is recognised.
      R"sql(
CREATE TABLE inbound_keys (
  org_id TEXT NOT NULL,
  connector TEXT NOT NULL,
  sender TEXT NOT NULL,
  control_id TEXT NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages(id),
  PRIMARY KEY (org_id, connector, sender, control_id)
);
)sql",
      // 3: LC-MS/MS batches: what a sample is (level, dilution, data file), which results are
      // internal standards, and each result's peak, for the rules (calibration, QC, IS response).
      R"sql(
ALTER TABLE messages ADD COLUMN source_name TEXT NOT NULL DEFAULT '';
ALTER TABLE samples ADD COLUMN level TEXT NOT NULL DEFAULT '';
ALTER TABLE samples ADD COLUMN lot TEXT NOT NULL DEFAULT '';
ALTER TABLE samples ADD COLUMN nominal_concentration REAL;
ALTER TABLE samples ADD COLUMN dilution REAL;
ALTER TABLE samples ADD COLUMN data_file TEXT NOT NULL DEFAULT '';
ALTER TABLE results ADD COLUMN internal_standard INTEGER NOT NULL DEFAULT 0;
CREATE TABLE peaks (
  result_id INTEGER PRIMARY KEY REFERENCES results(id),
  org_id TEXT NOT NULL,
  retention_time REAL,
  expected_retention_time REAL,
  area REAL,
  height REAL,
  internal_standard TEXT NOT NULL,
  internal_standard_area REAL,
  internal_standard_rt REAL,
  quantifier_area REAL,
  qualifier_area REAL,
  ion_ratio REAL,
  signal_to_noise REAL,
  width REAL,
  asymmetry REAL,
  manual_integration INTEGER NOT NULL,
  calculated_concentration REAL,
  expected_concentration REAL,
  accuracy REAL,
  response_ratio REAL,
  vendor_flags TEXT NOT NULL
);
)sql",
      // 4: the rules: the rule-set version of each decision, batch-level findings, the QC
      // history Westgard evaluates across runs, and per-batch metrics the trend rules follow.
      R"sql(
ALTER TABLE messages ADD COLUMN rules_version TEXT NOT NULL DEFAULT '';
ALTER TABLE findings ADD COLUMN action TEXT NOT NULL DEFAULT 'hold';
CREATE TABLE batch_findings (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages(id),
  analyte TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  severity TEXT NOT NULL,
  subject TEXT NOT NULL,
  message TEXT NOT NULL,
  measured TEXT NOT NULL,
  limit_value TEXT NOT NULL,
  action TEXT NOT NULL
);
CREATE INDEX batch_findings_message ON batch_findings(message_id);
CREATE TABLE qc_history (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  instrument TEXT NOT NULL,
  analyte TEXT NOT NULL,
  level TEXT NOT NULL,
  lot TEXT NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages(id),
  sample_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  value REAL NOT NULL,
  target_mean REAL,
  target_sd REAL,
  excluded INTEGER NOT NULL,
  run_rejected INTEGER NOT NULL
);
CREATE INDEX qc_history_series ON qc_history(org_id, instrument, analyte, lot, id);
CREATE TABLE batch_metrics (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  instrument TEXT NOT NULL,
  analyte TEXT NOT NULL,
  metric TEXT NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages(id),
  value REAL NOT NULL
);
CREATE INDEX batch_metrics_series ON batch_metrics(org_id, instrument, analyte, metric, id);
)sql",
      // 5: accounts (organisations, users, sessions, API keys, login records) and the indexes
      // the REST API's read side needs. Users and organisations are disabled, never deleted, so
      // that a username or an organisation id is never reused: triggers refuse DELETE. Lists
      // (roles, the IP allow list) are comma-separated text: their items never contain a comma.
      // Usernames compare without regard to ASCII case, so "Alice" cannot sit beside "alice".
      R"sql(
CREATE TABLE organisations (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  password_expiry_days INTEGER NOT NULL DEFAULT 0,
  mfa_required INTEGER NOT NULL DEFAULT 0,
  ip_allowlist TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
);
CREATE TRIGGER organisations_no_delete BEFORE DELETE ON organisations
  BEGIN SELECT RAISE(ABORT, 'organisations are never deleted'); END;
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organisations(id),
  username TEXT NOT NULL COLLATE NOCASE,
  printed_name TEXT NOT NULL,
  roles TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  password_changed_at TEXT NOT NULL,
  must_change_password INTEGER NOT NULL DEFAULT 0,
  disabled INTEGER NOT NULL DEFAULT 0,
  failed_attempts INTEGER NOT NULL DEFAULT 0,
  locked_until TEXT NOT NULL DEFAULT '',
  totp_secret TEXT NOT NULL DEFAULT '',
  totp_enabled INTEGER NOT NULL DEFAULT 0,
  totp_last_step INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  last_login_at TEXT NOT NULL DEFAULT '',
  UNIQUE (org_id, username)
);
CREATE TRIGGER users_no_delete BEFORE DELETE ON users
  BEGIN SELECT RAISE(ABORT, 'users are disabled, never deleted'); END;
CREATE TABLE sessions (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  user_id INTEGER NOT NULL REFERENCES users(id),
  token_sha256 TEXT NOT NULL UNIQUE,
  csrf_sha256 TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  last_seen_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  ended_at TEXT NOT NULL DEFAULT '',
  end_reason TEXT NOT NULL DEFAULT '',
  peer TEXT NOT NULL DEFAULT '',
  user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE TABLE api_keys (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organisations(id),
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  key_sha256 TEXT NOT NULL UNIQUE,
  roles TEXT NOT NULL,
  connector TEXT NOT NULL DEFAULT '',
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL DEFAULT '',
  last_used_at TEXT NOT NULL DEFAULT '',
  revoked_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX api_keys_org ON api_keys(org_id, id);
CREATE TABLE logins (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  at TEXT NOT NULL,
  username TEXT NOT NULL,
  method TEXT NOT NULL,
  peer TEXT NOT NULL,
  user_agent TEXT NOT NULL,
  outcome TEXT NOT NULL
);
CREATE INDEX logins_org ON logins(org_id, id);
CREATE INDEX audit_org ON audit(org_id, id);
CREATE INDEX samples_org ON samples(org_id, id);
CREATE INDEX messages_org_instrument ON messages(org_id, instrument, received_at);
CREATE INDEX results_sample_disposition ON results(sample_row_id, disposition);
)sql",
      // 6: encryption at rest (docs/adr/0008): data keys, wrapped by the key-encryption key of
      // security.key_file, and the sealed received bytes of a message (a blob, or for an export a
      // sealed file under data.dir/bodies). retired_at = '' while a key may hold content.
      R"sql(
CREATE TABLE data_keys (
  id INTEGER PRIMARY KEY,
  wrapped BLOB NOT NULL,
  kek_fingerprint TEXT NOT NULL,
  created_at TEXT NOT NULL,
  retired_at TEXT NOT NULL DEFAULT ''
);
CREATE TABLE message_bodies (
  message_id INTEGER PRIMARY KEY REFERENCES messages(id),
  org_id TEXT NOT NULL,
  key_id INTEGER NOT NULL REFERENCES data_keys(id),
  size INTEGER NOT NULL,
  sealed BLOB,
  file TEXT NOT NULL DEFAULT ''
);
CREATE INDEX message_bodies_key ON message_bodies(key_id, message_id);
)sql",
      // 7: a resend is the same sender, the same control id and the same content
      // (docs/adr/0010-resend-is-same-content.md): the key of a stored message gains the SHA-256
      // of its received bytes, so that a reused control id with other content is stored as a new
      // message while an exact resend is still recognised. Existing keys take the digest their
      // message was stored with.
      R"sql(
CREATE TABLE inbound_keys_v7 (
  org_id TEXT NOT NULL,
  connector TEXT NOT NULL,
  sender TEXT NOT NULL,
  control_id TEXT NOT NULL,
  content_sha256 TEXT NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages(id),
  PRIMARY KEY (org_id, connector, sender, control_id, content_sha256)
);
INSERT INTO inbound_keys_v7 (org_id, connector, sender, control_id, content_sha256, message_id)
  SELECT k.org_id, k.connector, k.sender, k.control_id, COALESCE(m.content_sha256, ''),
         k.message_id
  FROM inbound_keys k LEFT JOIN messages m ON m.id = k.message_id;
DROP TABLE inbound_keys;
ALTER TABLE inbound_keys_v7 RENAME TO inbound_keys;
)sql",
      // 8: QA review and release with electronic signatures (issue 13, docs/signatures.md).
      // results.qa_state is the QA decision on a held result: '' (none yet), 'reviewed',
      // 'approved', 'rejected' or 'rerun-requested'; the rules' disposition is never changed, so
      // a signed record stays the record that was signed. A signature is never changed or
      // deleted: signed_bytes is exactly what the server's Ed25519 key signed.
      R"sql(
ALTER TABLE results ADD COLUMN qa_state TEXT NOT NULL DEFAULT '';
CREATE INDEX results_org_qa ON results(org_id, message_id, disposition, qa_state);
CREATE TABLE signatures (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  username TEXT NOT NULL,
  printed_name TEXT NOT NULL,
  session_id INTEGER NOT NULL,
  meaning TEXT NOT NULL,
  reason TEXT NOT NULL,
  signed_at TEXT NOT NULL,
  result_ids TEXT NOT NULL,
  record_sha256 TEXT NOT NULL,
  signed_bytes TEXT NOT NULL,
  signature TEXT NOT NULL,
  key_id TEXT NOT NULL
);
CREATE INDEX signatures_message ON signatures(org_id, message_id, id);
CREATE INDEX signatures_session ON signatures(session_id);
CREATE TRIGGER signatures_no_update BEFORE UPDATE ON signatures
  BEGIN SELECT RAISE(ABORT, 'signatures are never changed'); END;
CREATE TRIGGER signatures_no_delete BEFORE DELETE ON signatures
  BEGIN SELECT RAISE(ABORT, 'signatures are never deleted'); END;
)sql",
      // 9 (issue 13; follows migration 8 of the signatures): where each audit forwarder stands
      // (docs/audit.md). last_id is the sequence number (audit.id) of the last event the
      // forwarder delivered; a forwarder not listed here starts at the first event. IF NOT EXISTS:
      // a store rolled back to an earlier version (tests/unit/engine/store/store_resend_test.cpp)
      // runs the later migrations again.
      R"sql(
CREATE TABLE IF NOT EXISTS audit_forward_cursors (
  name TEXT PRIMARY KEY,
  last_id INTEGER NOT NULL,
  last_hash TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
)sql",
      // 10 (issue 14): mapping sets stored and versioned (docs/mappings.md). A version is the CSV
      // text as uploaded (after decoding to UTF-8), immutable; the active version of a set is the
      // one its latest activation names, so activations are never changed either and the history
      // stays. A signed activation carries the electronic signature (signed_bytes exactly as the
      // server's Ed25519 key signed them, the signature in base64, the key id); an activation by
      // the configuration (connector.NAME.mappings) or with signatures.mapping_activation off has
      // none. IF NOT EXISTS: see 9.
      R"sql(
CREATE TABLE IF NOT EXISTS mapping_sets (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (org_id, name)
);
CREATE TABLE IF NOT EXISTS mapping_set_versions (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  set_id INTEGER NOT NULL REFERENCES mapping_sets(id),
  version INTEGER NOT NULL,
  csv_text TEXT NOT NULL,
  row_count INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  comment TEXT NOT NULL,
  UNIQUE (set_id, version)
);
CREATE TABLE IF NOT EXISTS mapping_set_activations (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  set_id INTEGER NOT NULL REFERENCES mapping_sets(id),
  version INTEGER NOT NULL,
  previous_version INTEGER NOT NULL,
  activated_by TEXT NOT NULL,
  activated_at TEXT NOT NULL,
  reason TEXT NOT NULL,
  session_id INTEGER NOT NULL,
  printed_name TEXT NOT NULL,
  meaning TEXT NOT NULL,
  signed_bytes TEXT NOT NULL,
  signature TEXT NOT NULL,
  key_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mapping_set_activations_set ON mapping_set_activations(set_id, id);
CREATE INDEX IF NOT EXISTS mapping_set_activations_session ON mapping_set_activations(session_id);
CREATE TRIGGER IF NOT EXISTS mapping_set_versions_no_update BEFORE UPDATE ON mapping_set_versions
  BEGIN SELECT RAISE(ABORT, 'mapping set versions are never changed'); END;
CREATE TRIGGER IF NOT EXISTS mapping_set_versions_no_delete BEFORE DELETE ON mapping_set_versions
  BEGIN SELECT RAISE(ABORT, 'mapping set versions are never deleted'); END;
CREATE TRIGGER IF NOT EXISTS mapping_set_activations_no_update BEFORE UPDATE ON mapping_set_activations
  BEGIN SELECT RAISE(ABORT, 'mapping set activations are never changed'); END;
CREATE TRIGGER IF NOT EXISTS mapping_set_activations_no_delete BEFORE DELETE ON mapping_set_activations
  BEGIN SELECT RAISE(ABORT, 'mapping set activations are never deleted'); END;
)sql",
      // 11 (issue 14): held results evaluated again (docs/adr/0014-reevaluation.md).
      // - What the rules read and the store did not keep, so that a stored batch can be rebuilt
      //   as it arrived: a sample's injection number, whether the batch was listed in run order,
      //   the vendor's curve per analyte, and three peak values. canonical = 1 marks a message
      //   stored with all of them (0: stored before this migration).
      // - reevaluations: one row per committed re-evaluation of a batch (who, why, what changed).
      // - findings_history: the findings a re-evaluation replaced (result_id 0 = a batch finding),
      //   append-only like the audit trail.
      R"sql(
ALTER TABLE messages ADD COLUMN listed_in_run_order INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN canonical INTEGER NOT NULL DEFAULT 0;
ALTER TABLE samples ADD COLUMN injection INTEGER;
ALTER TABLE peaks ADD COLUMN final_concentration REAL;
ALTER TABLE peaks ADD COLUMN integration_code TEXT NOT NULL DEFAULT '';
ALTER TABLE peaks ADD COLUMN excluded_from_curve INTEGER NOT NULL DEFAULT 0;
CREATE TABLE export_curves (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages(id),
  analyte TEXT NOT NULL,
  model TEXT NOT NULL,
  weighting TEXT NOT NULL,
  origin TEXT NOT NULL
);
CREATE INDEX export_curves_message ON export_curves(message_id);
CREATE TABLE reevaluations (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages(id),
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT NOT NULL,
  cause TEXT NOT NULL,
  rules_version TEXT NOT NULL,
  changes TEXT NOT NULL
);
CREATE INDEX reevaluations_message ON reevaluations(org_id, message_id, id);
CREATE TABLE findings_history (
  id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages(id),
  result_id INTEGER NOT NULL,
  analyte TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  severity TEXT NOT NULL,
  subject TEXT NOT NULL,
  message TEXT NOT NULL,
  measured TEXT NOT NULL,
  limit_value TEXT NOT NULL,
  action TEXT NOT NULL,
  superseded_at TEXT NOT NULL,
  reevaluation_id INTEGER NOT NULL REFERENCES reevaluations(id)
);
CREATE INDEX findings_history_message ON findings_history(org_id, message_id, id);
CREATE INDEX findings_history_rule ON findings_history(org_id, rule_id);
CREATE INDEX findings_rule ON findings(org_id, rule_id);
CREATE TRIGGER findings_history_no_update BEFORE UPDATE ON findings_history
  BEGIN SELECT RAISE(ABORT, 'the findings history is append-only'); END;
CREATE TRIGGER findings_history_no_delete BEFORE DELETE ON findings_history
  BEGIN SELECT RAISE(ABORT, 'the findings history is append-only'); END;
)sql",
      // 12 (issue 14, msgs; numbered after mapsets' 10 and reeval's 11): the audit trail read by
      // actor and by action. GET /api/v1/messages lists received messages from their audit
      // events (engine/store/traffic.h) by connector (actor) or outcome (action), and the dead
      // letters' times come from outbound.dead_letter events. (GET /api/v1/audit?actor=&action=
      // could use them too, once its query names only the filters given.) IF NOT EXISTS: see
      // migration 9.
      R"sql(
CREATE INDEX IF NOT EXISTS audit_org_action ON audit(org_id, action, id);
CREATE INDEX IF NOT EXISTS audit_org_actor ON audit(org_id, actor, id);
)sql",
      // 13 (issue 19; follows the migrations 10-12 of other work): the QC trends' state
      // (rules/qc_trend.h), the newest value of each "qc_*/<level>" per-batch metric per
      // organisation, instrument and analyte, written with batch_metrics in the batch's commit, so
      // that /metrics reads a few rows instead of scanning batch_metrics. IF NOT EXISTS, as 9.
      R"sql(
CREATE TABLE IF NOT EXISTS qc_trend_state (
  org_id TEXT NOT NULL,
  instrument TEXT NOT NULL,
  analyte TEXT NOT NULL,
  metric TEXT NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages(id),
  value REAL NOT NULL,
  PRIMARY KEY (org_id, instrument, analyte, metric)
);
)sql",
      // 14 (issue 15): the digits after the point the mapping gave each result for the LIS
      // (-1: the value as sent), so that a result released by a QA signature is sent rounded
      // exactly as an auto-released one. Rows stored before it keep -1 (sent as stored).
      R"sql(
ALTER TABLE results ADD COLUMN decimals INTEGER NOT NULL DEFAULT -1;
)sql",
      // 15 (issue 16): the refusals and deliveries in the
      // audit trail by organisation, action and time. The dashboard (GET /api/v1/overview,
      // ConsoleStore::throughput) counts them per minute over its window from this index alone (it
      // covers the query), where it walked back over every event of the window and read each
      // row. Partial: the events of the intake's other actions (message.accepted, ...) are not
      // in it and cost it nothing. The query repeats the WHERE term word for word (SQLite uses a
      // partial index only then). IF NOT EXISTS, as 9.
      R"sql(
CREATE INDEX IF NOT EXISTS audit_org_counted_at ON audit(org_id, action, at)
  WHERE action IN ('message.refused', 'message.invalid', 'outbound.delivered');
)sql",
      // 16 (issue 17): which node delivers each destination's queue on a shared PostgreSQL
      // store (docs/adr/0021): the holder, until when (the database's clock, milliseconds since
      // the epoch), and a generation that grows with every change of holder. On SQLite (one
      // node) it stays empty.
      R"sql(
CREATE TABLE IF NOT EXISTS delivery_leases (
  destination TEXT PRIMARY KEY,
  node_id TEXT NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  generation INTEGER NOT NULL,
  acquired_at TEXT NOT NULL
);
)sql",
      // 17 (issue 17, scale): the batch list's counts per batch
      // (engine/store/signatures.cpp batchColumns: patient results, waiting, rejected) read
      // results by message_id alone, which no index led with: every listed batch scanned the
      // whole results table (a year of a busy lab: hours per page). results_message answers the
      // three counts from the index (it covers them). messages_org_id lets the newest-first pages
      // (WHERE org_id = ? AND id < ? ORDER BY id DESC LIMIT n) walk the organisation's messages
      // in id order and stop after n, instead of reading every message of the organisation
      // through messages_org_instrument and sorting them; messages_org_instrument_id does the
      // same for one instrument's batches. Portable (SQLite and PostgreSQL).
      // bench/README.md "Scale: a year of a busy lab" has the plans and times before and after.
      R"sql(
CREATE INDEX IF NOT EXISTS results_message ON results(message_id, internal_standard, disposition, qa_state);
CREATE INDEX IF NOT EXISTS messages_org_id ON messages(org_id, id);
CREATE INDEX IF NOT EXISTS messages_org_instrument_id ON messages(org_id, instrument, id);
)sql",
      // 18 (issue 17, retention; docs/adr/0023-retention-and-archives.md): the ledger of
      // archives written by `labgate archive` before delivered message bodies and peak data are
      // pruned, and the messages each one covers (pruned_at '' until its content was pruned).
      // Ids are given by the writer (MAX + 1 under the write lock): no AUTOINCREMENT, the same
      // on SQLite and PostgreSQL. IF NOT EXISTS, as 9.
      R"sql(
CREATE TABLE IF NOT EXISTS archives (
  id INTEGER PRIMARY KEY,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  before_at TEXT NOT NULL,
  file_name TEXT NOT NULL,
  file_sha256 TEXT NOT NULL,
  file_bytes INTEGER NOT NULL,
  messages INTEGER NOT NULL,
  bodies INTEGER NOT NULL,
  body_bytes INTEGER NOT NULL,
  peaks INTEGER NOT NULL,
  first_message INTEGER NOT NULL,
  last_message INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS archive_items (
  archive_id INTEGER NOT NULL REFERENCES archives(id),
  message_id INTEGER NOT NULL REFERENCES messages(id),
  pruned_at TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (archive_id, message_id)
);
CREATE INDEX IF NOT EXISTS archive_items_message ON archive_items(message_id);
CREATE INDEX IF NOT EXISTS outbound_message ON outbound(message_id);
CREATE TABLE IF NOT EXISTS retention_pruned (
  message_id INTEGER PRIMARY KEY REFERENCES messages(id),
  org_id TEXT NOT NULL,
  body_pruned_at TEXT NOT NULL DEFAULT '',
  peaks_pruned_at TEXT NOT NULL DEFAULT ''
);
)sql",
  };
  return kMigrations;
}

}  // namespace labgate
