//! Violations and appeals (违规和申诉): penalties WeChat recorded against the mini program and the
//! appeals made against them. Authorizer token.

use crate::wechat::access_tokens::AuthorizerAccessToken;
use crate::wechat::client::{Endpoint, WechatClient};
use crate::wechat::error::WechatError;
use serde::{Deserialize, Serialize};

pub(crate) const GET_ILLEGAL_RECORDS: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/getillegalrecords");
pub(crate) const GET_APPEAL_RECORDS: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/getappealrecords");

/// A penalty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct IllegalRecord {
    pub illegal_record_id: String,
    pub create_time: i64,
    pub illegal_reason: String,
    pub illegal_content: String,
    pub rule_url: String,
    pub rule_name: String,
}

/// An appeal. `materials` (the penalised content and the evidence sent) stays JSON.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct AppealRecord {
    pub appeal_record_id: i64,
    pub appeal_time: i64,
    pub appeal_count: i64,
    /// 0 by the user, 1 by the service provider.
    pub appeal_from: i64,
    /// 1 under review, 2 rejected, 3 accepted, 4 withdrawn.
    pub appeal_status: i64,
    pub audit_time: i64,
    pub audit_reason: String,
    pub punish_description: String,
    pub materials: serde_json::Value,
}

#[derive(Serialize)]
struct PeriodBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<i64>,
}

#[derive(Serialize)]
struct RecordIdBody<'a> {
    illegal_record_id: &'a str,
}

#[derive(Deserialize)]
struct RecordsWire<T> {
    #[serde(default = "Vec::new")]
    records: Vec<T>,
}

impl WechatClient {
    /// `/wxa/getillegalrecords`, optionally between two epoch seconds.
    pub async fn get_illegal_records(
        &self,
        token: &AuthorizerAccessToken,
        start_time: Option<i64>,
        end_time: Option<i64>,
    ) -> Result<Vec<IllegalRecord>, WechatError> {
        let body = PeriodBody {
            start_time,
            end_time,
        };
        let wire: RecordsWire<IllegalRecord> =
            self.post_json(&GET_ILLEGAL_RECORDS, token, &body).await?;
        Ok(wire.records)
    }

    /// `/wxa/getappealrecords` for one penalty.
    pub async fn get_appeal_records(
        &self,
        token: &AuthorizerAccessToken,
        illegal_record_id: &str,
    ) -> Result<Vec<AppealRecord>, WechatError> {
        let wire: RecordsWire<AppealRecord> = self
            .post_json(
                &GET_APPEAL_RECORDS,
                token,
                &RecordIdBody { illegal_record_id },
            )
            .await?;
        Ok(wire.records)
    }
}
