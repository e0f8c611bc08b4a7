//! Release campaigns as they are stored: the campaign (what to release, to whom, in which waves,
//! and where it stands) and one record per mini program of its cohort (which step it is at, and
//! what WeChat last said). The rules that move them live in `service::campaign`; the DynamoDB
//! layout is in `docs/storage.md`.
//!
//! Nothing here ever holds a token: records are stored as JSON text, which is safe to read back
//! in error messages.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::clock::EpochSeconds;
use crate::ids::AuthorizerAppId;

/// A campaign's id: 12 hex digits of its creation time in milliseconds, then 8 random ones, so ids
/// sort by creation time and the newest campaigns are listed first without an index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CampaignId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a campaign id is 20 lowercase hexadecimal digits")]
pub struct InvalidCampaignId;

impl CampaignId {
    pub fn new(now_millis: i64, random: u32) -> Self {
        Self(format!(
            "{:012x}{random:08x}",
            now_millis.clamp(0, 0xffff_ffff_ffff)
        ))
    }

    pub fn parse(s: &str) -> Result<Self, InvalidCampaignId> {
        if s.len() == 20
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidCampaignId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CampaignId {
    type Error = InvalidCampaignId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<CampaignId> for String {
    fn from(id: CampaignId) -> Self {
        id.0
    }
}

impl fmt::Display for CampaignId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What to do once an app's audit passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseMode {
    /// Release at once (`/wxa/release`).
    Auto,
    /// Leave the approved version for the provider to release.
    Manual,
    /// A phased release to this percentage of users (`/wxa/grayrelease`, 1 to 100).
    Gray(u8),
}

/// On the wire: `"auto"`, `"manual"`, or the gray release percentage as a number.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ReleaseWire {
    Named(String),
    Percentage(i64),
}

impl Serialize for ReleaseMode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Auto => ReleaseWire::Named("auto".into()),
            Self::Manual => ReleaseWire::Named("manual".into()),
            Self::Gray(p) => ReleaseWire::Percentage(i64::from(*p)),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ReleaseMode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match ReleaseWire::deserialize(deserializer).map_err(|_| {
            D::Error::custom("`release` is \"auto\", \"manual\" or a percentage from 1 to 100")
        })? {
            ReleaseWire::Named(n) if n == "auto" => Ok(Self::Auto),
            ReleaseWire::Named(n) if n == "manual" => Ok(Self::Manual),
            ReleaseWire::Percentage(p) if (1..=100).contains(&p) => {
                Ok(Self::Gray(u8::try_from(p).unwrap_or(100)))
            }
            _ => Err(D::Error::custom(
                "`release` is \"auto\", \"manual\" or a percentage from 1 to 100",
            )),
        }
    }
}

/// When to stop starting new apps: a wave's audit rejections reach `rejections`, or reach
/// `rejection_share` of the wave's apps. Either may be absent; both absent never halts.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaltRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejections: Option<u32>,
    /// A share from 0 (exclusive) to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection_share: Option<f64>,
}

impl HaltRule {
    /// Whether `rejected` rejections among a wave of `wave_size` apps trip the rule.
    pub fn trips(&self, rejected: u32, wave_size: u32) -> bool {
        if rejected == 0 {
            return false;
        }
        let by_count = self.rejections.is_some_and(|n| rejected >= n);
        let by_share = self
            .rejection_share
            .is_some_and(|share| f64::from(rejected) >= share * f64::from(wave_size.max(1)));
        by_count || by_share
    }
}

/// What a campaign releases and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignSpec {
    pub template_id: String,
    pub user_version: String,
    pub user_desc: String,
    /// The `ext.json` template; its string values may hold `{{appid}}` and `{{setting}}`.
    pub ext_json: serde_json::Map<String, serde_json::Value>,
    /// Cumulative percentages of the cohort, ending at 100.
    pub waves: Vec<u8>,
    pub halt: HaltRule,
    pub release: ReleaseMode,
    /// No submission starts while WeChat's audit quota left is at or below this.
    pub quota_reserve: u32,
    /// The body of each `submit_audit` (categories, screenshots...); WeChat fills in what is absent.
    pub audit: serde_json::Map<String, serde_json::Value>,
}

/// Where a campaign stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignState {
    Running,
    /// Stopped by the provider or because the audit quota ran out; `reason` says which.
    Paused,
    /// The halt rule tripped: no new app starts; apps already started go on.
    Halted,
    Done,
    Cancelled,
}

impl CampaignState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Halted => "halted",
            Self::Done => "done",
            Self::Cancelled => "cancelled",
        }
    }

    /// Done and cancelled campaigns never change again.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Done | Self::Cancelled)
    }
}

/// Why a campaign is paused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PauseReason {
    /// `POST /campaigns/{id}/pause`.
    Asked,
    /// WeChat's monthly audit quota is spent (85085) or would go below the reserve; resumes by
    /// itself in the next month (Beijing time), given here as `YYYYMM`.
    Quota { rest: Option<i64>, month: u32 },
}

/// A stored campaign (without its counts, which are kept in counter items).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: CampaignId,
    pub spec: CampaignSpec,
    pub state: CampaignState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<PauseReason>,
    /// Why it halted (which wave, how many rejections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halt_reason: Option<String>,
    /// How many apps the cohort has.
    pub total: u32,
    /// Per wave, how many apps of the cohort (in cohort order) are in it or an earlier one.
    pub wave_ends: Vec<u32>,
    /// The wave whose apps may start (earlier waves are finished).
    pub open_wave: u32,
    /// Waves the provider resumed after a halt: their rejections no longer halt.
    #[serde(default)]
    pub halt_overridden: Vec<u32>,
    pub created_at: EpochSeconds,
    pub updated_at: EpochSeconds,
}

impl Campaign {
    /// How many apps wave `wave` holds.
    pub fn wave_size(&self, wave: u32) -> u32 {
        let i = wave as usize;
        let end = self.wave_ends.get(i).copied().unwrap_or(self.total);
        let start = if i == 0 {
            0
        } else {
            self.wave_ends.get(i - 1).copied().unwrap_or(0)
        };
        end.saturating_sub(start)
    }

    /// The wave of the app at `index` in cohort order.
    pub fn wave_of(&self, index: u32) -> u32 {
        let wave = self.wave_ends.iter().position(|end| index < *end);
        u32::try_from(wave.unwrap_or(self.wave_ends.len().saturating_sub(1))).unwrap_or(0)
    }
}

/// Per wave, how many of a cohort of `total` apps are in it or an earlier one: wave `k` ends at
/// `ceil(p_k * total / 100)`. Waves that would hold no app are kept (they finish at once).
pub fn wave_ends(percentages: &[u8], total: u32) -> Vec<u32> {
    percentages
        .iter()
        .map(|p| (u64::from(*p) * u64::from(total)).div_ceil(100))
        .map(|end| u32::try_from(end).unwrap_or(u32::MAX))
        .collect()
}

/// Where one app of a campaign stands, as the API shows it and the counts are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppState {
    /// Not started yet.
    Pending,
    /// Code uploaded; waiting for WeChat's privacy check, then submitting.
    Committed,
    /// Submitted for audit; waiting for the result.
    Auditing,
    /// The audit passed; waiting to be released (or for the provider, with manual release).
    Approved,
    Released,
    /// Rejected by the audit or refused by WeChat; `errcode` and `hint` say why.
    Failed,
    /// The merchant must act first (authorize again, grant the code-management permissions).
    NeedsMerchant,
}

impl AppState {
    pub const ALL: [AppState; 7] = [
        AppState::Pending,
        AppState::Committed,
        AppState::Auditing,
        AppState::Approved,
        AppState::Released,
        AppState::Failed,
        AppState::NeedsMerchant,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Committed => "committed",
            Self::Auditing => "auditing",
            Self::Approved => "approved",
            Self::Released => "released",
            Self::Failed => "failed",
            Self::NeedsMerchant => "needs_merchant",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

/// The next thing the engine does for an app; `Settled` when there is nothing left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Check the authorization, the account type and the permissions, then commit.
    Start,
    /// Ask whether WeChat's privacy check of the committed code has finished, then submit.
    PrivacyCheck,
    /// Submit the audit.
    Submit,
    /// Look at the audit's result (stored by the push, or asked of WeChat after a long silence).
    AwaitAudit,
    /// Release as the campaign asks.
    Release,
    Settled,
}

/// One app of a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignApp {
    pub appid: AuthorizerAppId,
    /// Its place in the cohort (waves are cut in this order).
    pub index: u32,
    pub wave: u32,
    pub state: AppState,
    pub step: Step,
    /// When the step is due (epoch seconds).
    pub due_at: EpochSeconds,
    /// Attempts of the current step that failed for a passing reason.
    #[serde(default)]
    pub attempts: u32,
    /// WeChat's last errcode for this app (0 never stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errcode: Option<i64>,
    /// What to do about the last error, or why the app is where it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_id: Option<u64>,
    /// Set just before `submit_audit` is sent: a retry after a crash looks for that audit before
    /// submitting again (a second submission would spend quota).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submit_started_at: Option<EpochSeconds>,
    /// The latest audit this product knew of before submitting, to tell ours from an older one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_before: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<EpochSeconds>,
    pub updated_at: EpochSeconds,
}

impl CampaignApp {
    /// Whether the app's wave may finish with it where it is: released, failed, waiting on the
    /// merchant, or (with manual release) approved.
    pub fn is_settled(&self) -> bool {
        self.step == Step::Settled
    }
}

/// A campaign's apps counted by state, and per wave the apps not settled and the rejections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignCounts {
    pub by_state: std::collections::BTreeMap<AppState, i64>,
    pub unsettled: std::collections::BTreeMap<u32, i64>,
    pub rejected: std::collections::BTreeMap<u32, i64>,
}

impl CampaignCounts {
    pub fn state(&self, state: AppState) -> i64 {
        self.by_state.get(&state).copied().unwrap_or(0)
    }

    pub fn unsettled_in(&self, wave: u32) -> i64 {
        self.unsettled.get(&wave).copied().unwrap_or(0)
    }

    pub fn rejected_in(&self, wave: u32) -> i64 {
        self.rejected.get(&wave).copied().unwrap_or(0)
    }
}

/// The counter changes of one app transition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountDelta {
    pub by_state: Vec<(AppState, i64)>,
    pub unsettled: Vec<(u32, i64)>,
    pub rejected: Vec<(u32, i64)>,
}

impl CountDelta {
    /// What moving `before` to `after` changes.
    pub fn between(before: &CampaignApp, after: &CampaignApp, rejection: bool) -> Self {
        let mut delta = Self::default();
        if before.state != after.state {
            delta.by_state.push((before.state, -1));
            delta.by_state.push((after.state, 1));
        }
        match (before.is_settled(), after.is_settled()) {
            (false, true) => delta.unsettled.push((before.wave, -1)),
            (true, false) => delta.unsettled.push((after.wave, 1)),
            _ => {}
        }
        if rejection {
            delta.rejected.push((after.wave, 1));
        }
        delta
    }

    pub fn is_empty(&self) -> bool {
        self.by_state.is_empty() && self.unsettled.is_empty() && self.rejected.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_creation_time_and_refuse_other_text() {
        let a = CampaignId::new(1_700_000_000_000, 0xffff_ffff);
        let b = CampaignId::new(1_700_000_000_001, 0);
        assert!(a < b);
        assert_eq!(CampaignId::parse(a.as_str()), Ok(a));
        for junk in ["", "0123", "0123456789abcdef012G", "0123456789ABCDEF0123"] {
            assert_eq!(CampaignId::parse(junk), Err(InvalidCampaignId), "{junk}");
        }
    }

    #[test]
    fn waves_cut_the_cohort_at_rounded_up_shares() {
        assert_eq!(wave_ends(&[1, 10, 100], 2000), vec![20, 200, 2000]);
        assert_eq!(wave_ends(&[1, 10, 100], 3), vec![1, 1, 3]);
        assert_eq!(wave_ends(&[50, 100], 5), vec![3, 5]);
        assert_eq!(wave_ends(&[100], 0), vec![0]);
    }

    #[test]
    fn an_app_belongs_to_the_first_wave_that_ends_after_it() {
        let campaign = Campaign {
            id: CampaignId::new(0, 0),
            spec: CampaignSpec {
                template_id: "1".into(),
                user_version: "1".into(),
                user_desc: String::new(),
                ext_json: Default::default(),
                waves: vec![1, 10, 100],
                halt: HaltRule::default(),
                release: ReleaseMode::Auto,
                quota_reserve: 0,
                audit: Default::default(),
            },
            state: CampaignState::Running,
            pause: None,
            halt_reason: None,
            total: 3,
            wave_ends: wave_ends(&[1, 10, 100], 3),
            open_wave: 0,
            halt_overridden: vec![],
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(
            (0..3).map(|i| campaign.wave_of(i)).collect::<Vec<_>>(),
            vec![0, 2, 2]
        );
        assert_eq!(
            (0..3).map(|w| campaign.wave_size(w)).collect::<Vec<_>>(),
            vec![1, 0, 2]
        );
    }

    #[test]
    fn the_halt_rule_trips_on_a_count_or_a_share_and_never_on_no_rejection() {
        let count = HaltRule {
            rejections: Some(2),
            rejection_share: None,
        };
        assert!(!count.trips(1, 10));
        assert!(count.trips(2, 10));
        let share = HaltRule {
            rejections: None,
            rejection_share: Some(0.25),
        };
        assert!(!share.trips(2, 10));
        assert!(share.trips(3, 10));
        assert!(!HaltRule::default().trips(10, 10));
        assert!(!share.trips(0, 0));
    }

    #[test]
    fn the_release_mode_reads_names_and_percentages_only() {
        let parse = |s: &str| serde_json::from_str::<ReleaseMode>(s).map_err(|e| e.to_string());
        assert_eq!(parse(r#""auto""#), Ok(ReleaseMode::Auto));
        assert_eq!(parse(r#""manual""#), Ok(ReleaseMode::Manual));
        assert_eq!(parse("20"), Ok(ReleaseMode::Gray(20)));
        for bad in ["0", "101", r#""gray""#, "1.5", "null"] {
            assert!(
                parse(bad).unwrap_err().contains("percentage from 1 to 100"),
                "{bad}"
            );
        }
        assert_eq!(
            serde_json::to_string(&ReleaseMode::Gray(5)).unwrap(),
            "5".to_owned()
        );
    }
}
