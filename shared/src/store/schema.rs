//! The names of the table's keys and indexes, as the DynamoDB adapter uses them. The table's one
//! definition is the `Table` resource of `template.yaml`; the test harness reads it from there
//! (`wxcomponent_tests::schema`) to create the same table locally, and a test checks that it
//! declares these names.

/// Partition key of the table.
pub const PK: &str = "pk";
/// Sort key of the table.
pub const SK: &str = "sk";
/// The TTL attribute (epoch seconds).
pub const TTL: &str = "ttl";
/// The due index: authorized authorizers' tokens by shard and expiry.
pub const DUE_INDEX: &str = "due";
pub const DUE_PK: &str = "due_pk";
pub const DUE_AT: &str = "due_at";
/// The status index: authorizers by status (counted for /health).
pub const STATUS_INDEX: &str = "by_status";
pub const STATUS_PK: &str = "status_pk";
/// The work index (sparse): release campaign apps whose next step is still to do, by campaign,
/// wave and phase, and when the step is due.
pub const WORK_INDEX: &str = "work";
pub const WORK_PK: &str = "work_pk";
pub const WORK_AT: &str = "work_at";
/// The outbox index (sparse): items keeping product events not yet published, by component and
/// shard, and when the oldest happened. It carries the events (`events`), so a drain is Queries
/// only.
pub const OUTBOX_INDEX: &str = "outbox";
pub const OUTBOX_PK: &str = "outbox_pk";
pub const OUTBOX_AT: &str = "outbox_at";
/// The attributes the outbox index carries besides its keys.
pub const OUTBOX_PROJECTED: [&str; 1] = ["events"];
