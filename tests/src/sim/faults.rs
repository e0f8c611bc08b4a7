//! Fault injection: make an endpoint slow, busy, failing, or hang up, for the next N calls or always.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What to do to a call instead of (or before) answering it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Wait this long, then answer normally (a client that gives up first leaves the call undone).
    Latency { ms: u64 },
    /// Act on the call at once, then wait this long before answering: past the client's timeout
    /// the call took effect (a code spent, a token issued) but its answer is lost.
    LateAnswer { ms: u64 },
    /// Answer HTTP 200 with `{"errcode": N}` (e.g. -1 busy, 45009 quota).
    Errcode { errcode: i64 },
    /// Answer with this HTTP status.
    Status { status: u16 },
    /// Close the connection without answering.
    Drop,
}

impl Fault {
    pub fn latency(d: Duration) -> Self {
        Self::Latency {
            ms: d.as_millis() as u64,
        }
    }

    pub fn late_answer(d: Duration) -> Self {
        Self::LateAnswer {
            ms: d.as_millis() as u64,
        }
    }

    pub fn errcode(errcode: i64) -> Self {
        Self::Errcode { errcode }
    }

    pub fn status(status: u16) -> Self {
        Self::Status { status }
    }
}

/// How many calls a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    Next(u32),
    Always,
}

/// A fault on a path (`*` for every WeChat path), as set over `/__sim/faults`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    pub path: String,
    pub fault: Fault,
    /// Calls left; absent means always.
    #[serde(default)]
    pub times: Option<u32>,
}

#[derive(Debug, Default)]
pub(crate) struct FaultTable {
    rules: Vec<FaultRule>,
}

impl FaultTable {
    pub(crate) fn add(&mut self, path: &str, fault: Fault, times: Times) {
        self.push(FaultRule {
            path: path.to_owned(),
            fault,
            times: match times {
                Times::Next(n) => Some(n),
                Times::Always => None,
            },
        });
    }

    pub(crate) fn push(&mut self, rule: FaultRule) {
        if rule.times != Some(0) {
            self.rules.push(rule);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    /// The fault for this call, if any: the first rule for the path (rules for `*` after), used up
    /// one call at a time.
    pub(crate) fn take(&mut self, path: &str) -> Option<Fault> {
        let i = self
            .rules
            .iter()
            .position(|r| r.path == path)
            .or_else(|| self.rules.iter().position(|r| r.path == "*"))?;
        let fault = self.rules[i].fault.clone();
        if let Some(n) = &mut self.rules[i].times {
            *n -= 1;
            if *n == 0 {
                self.rules.remove(i);
            }
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_fault_is_used_up_and_path_rules_win_over_wildcards() {
        let mut t = FaultTable::default();
        t.add("*", Fault::Drop, Times::Always);
        t.add("/a", Fault::errcode(-1), Times::Next(2));
        assert_eq!(t.take("/a"), Some(Fault::errcode(-1)));
        assert_eq!(t.take("/a"), Some(Fault::errcode(-1)));
        assert_eq!(t.take("/a"), Some(Fault::Drop));
        assert_eq!(t.take("/b"), Some(Fault::Drop));
        t.clear();
        assert_eq!(t.take("/a"), None);
    }
}
