//! A paying user's unionid (支付后获取 Unionid), within 5 minutes of the payment. Authorizer token.

use crate::wechat::access_tokens::AuthorizerAccessToken;
use crate::wechat::client::{Endpoint, WechatClient};
use crate::wechat::error::WechatError;
use serde::Deserialize;

pub(crate) const GET_PAID_UNIONID: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/getpaidunionid");

/// Which payment: by WeChat Pay's transaction id, or by merchant id and the merchant's order number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaidOrder {
    Transaction {
        transaction_id: String,
    },
    MerchantOrder {
        mch_id: String,
        out_trade_no: String,
    },
}

#[derive(Deserialize)]
struct UnionIdWire {
    unionid: String,
}

impl WechatClient {
    /// `GET /wxa/getpaidunionid` for the user `openid` who paid `order`.
    pub async fn get_paid_unionid(
        &self,
        token: &AuthorizerAccessToken,
        openid: &str,
        order: &PaidOrder,
    ) -> Result<String, WechatError> {
        let mut query = vec![("openid", openid)];
        match order {
            PaidOrder::Transaction { transaction_id } => {
                query.push(("transaction_id", transaction_id));
            }
            PaidOrder::MerchantOrder {
                mch_id,
                out_trade_no,
            } => {
                query.push(("mch_id", mch_id));
                query.push(("out_trade_no", out_trade_no));
            }
        }
        let wire: UnionIdWire = self.get(&GET_PAID_UNIONID, token, &query).await?;
        Ok(wire.unionid)
    }
}
