//! Metrics as CloudWatch Embedded Metric Format (EMF): one JSON log line that CloudWatch Logs turns
//! into metrics, so a function needs no `cloudwatch:PutMetricData` permission.
//!
//! The line must reach the log as it is, at the top level (not nested in a tracing event): print it
//! with `println!`. Lambda files a JSON line without a `level` as INFO.

use serde_json::{Map, Value, json};

use crate::ids::ComponentAppId;
use crate::service::RefreshSummary;

/// The namespace the template's alarms read.
pub const NAMESPACE: &str = "WeChatComponent";
/// The one dimension of every metric.
pub const COMPONENT_DIMENSION: &str = "ComponentAppId";

/// A CloudWatch metric unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One EMF line for one component: metrics, plus properties that are logged but not metrics.
#[derive(Debug, Clone)]
pub struct MetricLine {
    component: String,
    metrics: Vec<(&'static str, Unit, f64)>,
    properties: Map<String, Value>,
}

impl MetricLine {
    pub fn new(component: &ComponentAppId) -> Self {
        Self {
            component: component.as_str().to_owned(),
            metrics: Vec::new(),
            properties: Map::new(),
        }
    }

    pub fn metric(mut self, name: &'static str, unit: Unit, value: f64) -> Self {
        self.metrics.push((name, unit, value));
        self
    }

    /// A logged value that is not a metric. Must not be named like a metric or the dimension.
    pub fn property(mut self, name: &str, value: Value) -> Self {
        self.properties.insert(name.to_owned(), value);
        self
    }

    /// The line, without a trailing newline. `timestamp_ms` is milliseconds since the epoch.
    pub fn render(&self, timestamp_ms: u64) -> String {
        let definitions: Vec<Value> = self
            .metrics
            .iter()
            .map(|(name, unit, _)| json!({ "Name": name, "Unit": unit.as_str() }))
            .collect();
        let mut root = self.properties.clone();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [[COMPONENT_DIMENSION]],
                    "Metrics": definitions,
                }],
            }),
        );
        root.insert(COMPONENT_DIMENSION.into(), json!(self.component));
        for (name, _, value) in &self.metrics {
            root.insert((*name).into(), json!(value));
        }
        Value::Object(root).to_string()
    }
}

/// The refresher's summary line: the alarms' metrics (`RefreshFailed`, `Reauthorization61023`,
/// `TicketAgeSeconds`) and the run's figures (with the outbox drain's `EventsPublished` and
/// `EventsUnpublished`, events the bus did not take), with the details as properties.
///
/// `TicketAgeSeconds` is left out when no ticket is stored: the ticket-age alarm treats missing
/// data as breaching, which is what "no ticket" deserves, and a made-up age would be misleading.
pub fn refresh_summary_line(
    component: &ComponentAppId,
    summary: &RefreshSummary,
    timestamp_ms: u64,
) -> String {
    let count = |n: u64| n as f64;
    let mut line = MetricLine::new(component)
        .metric("Due", Unit::Count, count(summary.due))
        .metric("Refreshed", Unit::Count, count(summary.refreshed))
        .metric("RefreshFailed", Unit::Count, count(summary.failed))
        .metric(
            "Reauthorization61023",
            Unit::Count,
            count(summary.reauthorization_required),
        )
        .metric("Skipped", Unit::Count, count(summary.skipped.total()))
        .metric(
            "EventsPublished",
            Unit::Count,
            f64::from(summary.events.published),
        )
        .metric(
            "EventsUnpublished",
            Unit::Count,
            f64::from(summary.events.failed),
        )
        .metric("DurationMs", Unit::Milliseconds, count(summary.duration_ms));
    if let Some(age) = summary.ticket_age_secs {
        line = line.metric("TicketAgeSeconds", Unit::Seconds, age as f64);
    }
    line.property("message", json!("token refresh run"))
        .property("component_token", json!(summary.component_token))
        .property("failed_by_errcode", json!(summary.failed_by_errcode))
        .property("unauthorized_61003", json!(summary.unauthorized))
        .property("skipped_detail", json!(summary.skipped))
        .property(
            "ticket_push_requested",
            json!(summary.ticket_push_requested),
        )
        .property("stopped_early", json!(summary.stopped_early))
        .render(timestamp_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{ComponentTokenStep, Skipped};
    use std::collections::BTreeMap;

    fn summary(ticket_age_secs: Option<i64>) -> RefreshSummary {
        RefreshSummary {
            component_token: ComponentTokenStep::NotDue,
            ticket_age_secs,
            ticket_push_requested: false,
            due: 10,
            refreshed: 6,
            failed: 2,
            failed_by_errcode: BTreeMap::from([("-1".into(), 1), ("other".into(), 1)]),
            reauthorization_required: 1,
            unauthorized: 0,
            skipped: Skipped {
                not_due: 0,
                busy: 1,
                not_found: 0,
                deferred: 0,
            },
            stopped_early: false,
            events: crate::service::DrainSummary {
                published: 5,
                failed: 3,
                more: false,
            },
            duration_ms: 1234,
        }
    }

    #[test]
    fn the_summary_line_is_one_line_of_valid_emf_with_the_alarms_metrics_at_the_top_level() {
        let component = ComponentAppId::parse("wxcomponent0001").unwrap();
        let line = refresh_summary_line(&component, &summary(Some(420)), 1_700_000_000_000);
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000u64);
        assert_eq!(directive["Namespace"], "WeChatComponent");
        assert_eq!(directive["Dimensions"], json!([["ComponentAppId"]]));
        assert_eq!(v["ComponentAppId"], "wxcomponent0001");
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        for name in [
            "Due",
            "Refreshed",
            "RefreshFailed",
            "Reauthorization61023",
            "Skipped",
            "EventsPublished",
            "EventsUnpublished",
            "DurationMs",
            "TicketAgeSeconds",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
            assert!(v[name].is_number(), "{name} has no value");
        }
        assert_eq!(v["RefreshFailed"], 2.0);
        assert_eq!(v["Reauthorization61023"], 1.0);
        assert_eq!(v["TicketAgeSeconds"], 420.0);
        assert_eq!(v["Skipped"], 1.0);
        assert_eq!(
            (v["EventsPublished"].clone(), v["EventsUnpublished"].clone()),
            (json!(5.0), json!(3.0))
        );
        assert_eq!(v["failed_by_errcode"]["-1"], 1);
    }

    #[test]
    fn without_a_ticket_the_ticket_age_is_left_out_so_the_alarm_sees_missing_data() {
        let component = ComponentAppId::parse("wxcomponent0001").unwrap();
        let v: Value =
            serde_json::from_str(&refresh_summary_line(&component, &summary(None), 0)).unwrap();
        assert!(v.get("TicketAgeSeconds").is_none());
        let names = v["_aws"]["CloudWatchMetrics"][0]["Metrics"].to_string();
        assert!(!names.contains("TicketAgeSeconds"));
    }
}
