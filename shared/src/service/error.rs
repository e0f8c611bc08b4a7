//! What the use cases report, one type each. No variant carries a token, a ticket or a code.

use crate::ids::AuthorizerAppId;
use crate::store::StoreError;
use crate::wechat::WechatError;

/// Why no token (or authorization) could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// No component_verify_ticket younger than 12 h is stored. A push was requested with
    /// api_start_push_ticket, unless one was requested within the minimum interval.
    #[error(
        "no valid component_verify_ticket is stored; {}",
        if *push_requested { "WeChat was asked to push one now" } else { "a push was already requested recently" }
    )]
    NoTicket { push_requested: bool },
    /// WeChat refused the stored ticket (61005 expired, 61006 invalid); a push was requested as
    /// for [`TokenError::NoTicket`].
    #[error("WeChat refused the stored component_verify_ticket (errcode {errcode})")]
    TicketRejected {
        errcode: i64,
        push_requested: bool,
        #[source]
        source: WechatError,
    },
    /// WeChat refused the authorizer's refresh token (61023), now or earlier: the merchant has to
    /// authorize the component again.
    #[error("authorizer {appid} must authorize the component again")]
    ReauthorizationRequired { appid: AuthorizerAppId },
    /// The authorizer revoked the authorization (61003 or an `unauthorized` event).
    #[error("authorizer {appid} no longer authorizes the component")]
    Unauthorized { appid: AuthorizerAppId },
    /// No such authorizer is stored.
    #[error("authorizer {appid} is not known")]
    NotFound { appid: AuthorizerAppId },
    /// Another worker holds the refresh lease and no valid token appeared within the wait.
    #[error("timed out waiting for another worker to refresh the {what}")]
    Busy { what: &'static str },
    #[error("the WeChat call failed")]
    Wechat(#[from] WechatError),
    #[error("the store failed")]
    Store(#[from] StoreError),
}

impl TokenError {
    /// WeChat's errcode behind the error, if WeChat answered with one.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            Self::TicketRejected { errcode, .. } => Some(*errcode),
            Self::Wechat(source) => source.errcode(),
            _ => None,
        }
    }
}

/// Why an authorization could not be started or completed.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizationError {
    /// WeChat refused the authorization code (61009 invalid or used, 61010 expired) and no
    /// completed authorization for it appeared in the store.
    #[error("the authorization code was refused")]
    CodeRejected {
        #[source]
        source: WechatError,
    },
    /// The code was exchanged for `appid`, whose record is gone.
    #[error("authorizer {appid} is not known")]
    NotFound { appid: AuthorizerAppId },
    /// No component or authorizer token for the WeChat call.
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the store failed")]
    Store(#[from] StoreError),
}

impl AuthorizationError {
    /// WeChat's errcode behind the error, if WeChat answered with one.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            Self::CodeRejected { source } => source.errcode(),
            Self::Token(e) => e.errcode(),
            _ => None,
        }
    }
}

/// Why what is stored could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// No such authorizer is stored.
    #[error("authorizer {appid} is not known")]
    NotFound { appid: AuthorizerAppId },
    /// The page cursor was not issued by this store.
    #[error("the cursor was not issued by this API")]
    InvalidCursor,
    #[error("the store failed")]
    Store(#[source] StoreError),
}

impl From<StoreError> for DirectoryError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidCursor => Self::InvalidCursor,
            e => Self::Store(e),
        }
    }
}

/// Why an audit could not be submitted, withdrawn, expedited or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// No authorizer token for the WeChat call, or WeChat refused it.
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the store failed")]
    Store(#[from] StoreError),
}

impl AuditError {
    /// WeChat's errcode behind the error, if WeChat answered with one.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            Self::Token(e) => e.errcode(),
            Self::Store(_) => None,
        }
    }
}

/// Why an audit could not be withdrawn.
#[derive(Debug, thiserror::Error)]
pub enum WithdrawError {
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The mini program's audit withdrawals are spent for the Beijing day or month (WeChat allows
    /// [`crate::store::WITHDRAWALS_PER_DAY`] and [`crate::store::WITHDRAWALS_PER_MONTH`]): by
    /// this product's count, without a call, or by WeChat's answer (87013) for withdrawals made
    /// elsewhere. Nothing was withdrawn.
    #[error(
        "the audits of {appid} were withdrawn {} times today and {} times this month (Beijing \
         time); WeChat allows {} a day and {} a month{}",
        count.day,
        count.month,
        crate::store::WITHDRAWALS_PER_DAY,
        crate::store::WITHDRAWALS_PER_MONTH,
        if *by_wechat { ", and answered 87013: some were withdrawn without this product" } else { "" }
    )]
    Spent {
        appid: AuthorizerAppId,
        count: crate::store::WithdrawalCount,
        by_wechat: bool,
    },
}

impl WithdrawError {
    /// WeChat's errcode behind the error, if WeChat answered with one.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            Self::Audit(e) => e.errcode(),
            Self::Spent { by_wechat, .. } => {
                by_wechat.then_some(crate::wechat::errcode::WITHDRAWALS_SPENT)
            }
        }
    }
}

impl From<TokenError> for WithdrawError {
    fn from(e: TokenError) -> Self {
        Self::Audit(e.into())
    }
}

impl From<StoreError> for WithdrawError {
    fn from(e: StoreError) -> Self {
        Self::Audit(e.into())
    }
}
