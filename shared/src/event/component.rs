//! Pushes to the authorization event URL, told apart by `InfoType`.

use super::fields::{self, Body, invalid_appid, optional_appid, optional_string, required_appid};
use super::notice::{self, Notice};
use super::{EventError, sha256_hex};
use crate::clock::EpochSeconds;
use crate::ids::{AuthorizerAppId, ComponentAppId};
use crate::secret::Secret;

const VERIFY_TICKET: &str = "component_verify_ticket";
const AUTHORIZED: &str = "authorized";
const UPDATE_AUTHORIZED: &str = "updateauthorized";
const UNAUTHORIZED: &str = "unauthorized";
const FAST_REGISTER: &str = "notify_third_fasteregister";
const FAST_REGISTER_BETA_APP: &str = "notify_third_fastregisterbetaapp";
const FAST_VERIFY_BETA_APP: &str = "notify_third_fastverifybetaapp";

/// What every push on this URL is before its `InfoType` is known (names the kind in errors).
const ANY: &str = "component event";

/// A push to the authorization event URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentEvent {
    /// `AppId`: the platform the push is for. Callers compare it with their own.
    pub component_appid: ComponentAppId,
    /// `CreateTime`.
    pub create_time: EpochSeconds,
    pub kind: ComponentEventKind,
    /// SHA-256 of the whole push, for the idempotency key of pushes that name nothing stable.
    raw_sha256: String,
    /// The decrypted body of a [`ComponentEventKind::Notice`], kept so it can be stored as sent.
    notice_body: Option<Secret>,
}

/// The `InfoType`-specific part of a [`ComponentEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentEventKind {
    /// `component_verify_ticket`: pushed every 10 minutes, valid 12 hours.
    VerifyTicket { ticket: Secret },
    /// `authorized`: an account authorized the platform.
    Authorized(Authorization),
    /// `updateauthorized`: an account changed the permissions it granted.
    UpdateAuthorized(Authorization),
    /// `unauthorized`: an account withdrew its authorization.
    Unauthorized { authorizer_appid: AuthorizerAppId },
    /// `notify_third_fasteregister`: result of registering a mini program for a company or person.
    FastRegister(RegistrationResult),
    /// `notify_third_fastregisterbetaapp`: result of creating a trial (beta) mini program.
    FastRegisterBetaApp(BetaAppRegistration),
    /// `notify_third_fastverifybetaapp`: result of verifying a trial mini program as a company's.
    /// Carries no `auth_code`.
    FastVerifyBetaApp(RegistrationResult),
    /// A notification the provider acts on (ICP filing, verification, ...): see [`Notice`]. The
    /// body as sent is [`ComponentEvent::raw_body`].
    Notice(Notice),
    /// Any other `InfoType`: kept whole so it can be stored, not refused. The raw body (XML, or
    /// JSON when it was sent as JSON) is the decrypted push, hence a [`Secret`].
    Unknown { info_type: String, raw_xml: Secret },
}

/// The fields of `authorized` and `updateauthorized`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// `AuthorizerAppid`.
    pub authorizer_appid: AuthorizerAppId,
    /// `AuthorizationCode`: exchanged with api_query_auth for the authorizer's tokens.
    pub authorization_code: Secret,
    /// `AuthorizationCodeExpiredTime`: an absolute Unix time, not a duration.
    pub authorization_code_expires_at: EpochSeconds,
    /// `PreAuthCode`: the link the authorization came through. Not needed to complete it, so a
    /// push without it is still accepted.
    pub pre_auth_code: Option<Secret>,
}

/// The fields of `notify_third_fasteregister` and `notify_third_fastverifybetaapp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationResult {
    /// `appid` of the new mini program; absent when the registration failed.
    pub appid: Option<AuthorizerAppId>,
    /// `status`: 0 on success, otherwise WeChat's error code.
    pub status: i64,
    /// `auth_code`: exchanged with api_query_auth like an authorization code (fast registration only).
    pub auth_code: Option<Secret>,
    /// `msg`.
    pub msg: Option<String>,
    /// `info`: what was submitted.
    pub info: RegistrationInfo,
}

/// `info` of a registration result: the company fields, or for a personal mini program `wxuser`
/// and `idname`. Blank fields are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrationInfo {
    pub name: Option<String>,
    pub code: Option<String>,
    /// 1 unified social credit code, 2 organisation code, 3 business licence number.
    pub code_type: Option<i64>,
    pub legal_persona_wechat: Option<String>,
    pub legal_persona_name: Option<String>,
    pub component_phone: Option<String>,
    /// Personal registration: the user's WeChat id.
    pub wxuser: Option<String>,
    /// Personal registration: the user's name.
    pub idname: Option<String>,
}

/// The fields of `notify_third_fastregisterbetaapp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BetaAppRegistration {
    /// `appid` of the trial mini program; absent when creation failed.
    pub appid: Option<AuthorizerAppId>,
    /// `status`: 0 on success, otherwise WeChat's error code.
    pub status: i64,
    /// `msg`.
    pub msg: Option<String>,
    /// `info`.
    pub info: BetaAppInfo,
}

/// `info` of a trial mini program registration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BetaAppInfo {
    /// `unique_id`: returned by fastregisterbetaweapp, links the request to this result.
    pub unique_id: Option<String>,
    /// `name` of the mini program.
    pub name: Option<String>,
}

impl ComponentEvent {
    /// Reads a decrypted push from the authorization event URL: XML, or a JSON object with the
    /// same field names when the body's first non-blank character is `{`.
    ///
    /// `AppId`, `CreateTime` and `InfoType` are required for every push, known or not.
    pub fn parse(xml: &str) -> Result<Self, EventError> {
        let fields = fields::read(xml)?;
        let component_appid = ComponentAppId::parse(fields.required(ANY, "AppId")?)
            .map_err(invalid_appid("AppId"))?;
        let create_time = fields.required_int(ANY, "CreateTime")?;
        let info_type = fields.required(ANY, "InfoType")?;
        let f = &fields;

        let kind = match info_type {
            VERIFY_TICKET => ComponentEventKind::VerifyTicket {
                ticket: Secret::new(f.required(VERIFY_TICKET, "ComponentVerifyTicket")?),
            },
            AUTHORIZED => ComponentEventKind::Authorized(authorization(f, AUTHORIZED)?),
            UPDATE_AUTHORIZED => {
                ComponentEventKind::UpdateAuthorized(authorization(f, UPDATE_AUTHORIZED)?)
            }
            UNAUTHORIZED => ComponentEventKind::Unauthorized {
                authorizer_appid: required_appid(f, UNAUTHORIZED, "AuthorizerAppid")?,
            },
            FAST_REGISTER => ComponentEventKind::FastRegister(RegistrationResult {
                appid: optional_appid(f, "appid")?,
                status: f.required_int(FAST_REGISTER, "status")?,
                auth_code: f.trimmed("auth_code")?.map(Secret::from),
                msg: f.optional_text("msg")?,
                info: registration_info(f)?,
            }),
            FAST_REGISTER_BETA_APP => {
                ComponentEventKind::FastRegisterBetaApp(BetaAppRegistration {
                    appid: optional_appid(f, "appid")?,
                    status: f.required_int(FAST_REGISTER_BETA_APP, "status")?,
                    msg: f.optional_text("msg")?,
                    info: BetaAppInfo {
                        unique_id: optional_string(f, "info/unique_id")?,
                        name: optional_string(f, "info/name")?,
                    },
                })
            }
            FAST_VERIFY_BETA_APP => ComponentEventKind::FastVerifyBetaApp(RegistrationResult {
                appid: optional_appid(f, "appid")?,
                status: f.required_int(FAST_VERIFY_BETA_APP, "status")?,
                auth_code: None,
                msg: f.optional_text("msg")?,
                info: registration_info(f)?,
            }),
            other => match notice::parse(other, f) {
                Ok(Some(notice)) => ComponentEventKind::Notice(notice),
                unknown => {
                    if let Err(e) = unknown {
                        // Kept whole rather than refused: WeChat would retry it three times and
                        // the notice would be lost.
                        tracing::warn!(info_type = other, error = %e, "a notice could not be read; kept raw as an unknown kind");
                    }
                    ComponentEventKind::Unknown {
                        info_type: other.to_owned(),
                        raw_xml: Secret::new(xml),
                    }
                }
            },
        };
        let notice_body = matches!(kind, ComponentEventKind::Notice(_)).then(|| Secret::new(xml));

        Ok(Self {
            component_appid,
            create_time,
            kind,
            raw_sha256: sha256_hex(xml.as_bytes()),
            notice_body,
        })
    }

    /// The decrypted body as sent, for the kinds that are stored whole: [`ComponentEventKind::Unknown`]
    /// and [`ComponentEventKind::Notice`]. `None` for the others (their body holds tickets and
    /// auth codes that are kept only where they are needed).
    pub fn raw_body(&self) -> Option<&Secret> {
        match &self.kind {
            ComponentEventKind::Unknown { raw_xml, .. } => Some(raw_xml),
            ComponentEventKind::Notice(_) => self.notice_body.as_ref(),
            _ => None,
        }
    }

    /// The `InfoType` as WeChat spells it.
    pub fn info_type(&self) -> &str {
        match &self.kind {
            ComponentEventKind::VerifyTicket { .. } => VERIFY_TICKET,
            ComponentEventKind::Authorized(_) => AUTHORIZED,
            ComponentEventKind::UpdateAuthorized(_) => UPDATE_AUTHORIZED,
            ComponentEventKind::Unauthorized { .. } => UNAUTHORIZED,
            ComponentEventKind::FastRegister(_) => FAST_REGISTER,
            ComponentEventKind::FastRegisterBetaApp(_) => FAST_REGISTER_BETA_APP,
            ComponentEventKind::FastVerifyBetaApp(_) => FAST_VERIFY_BETA_APP,
            ComponentEventKind::Notice(notice) => &notice.event,
            ComponentEventKind::Unknown { info_type, .. } => info_type,
        }
    }

    /// A key that is the same for every delivery of this push (WeChat retries up to three times)
    /// and different for different pushes, so the push is acted on once.
    ///
    /// `component:<AppId>:<InfoType>:<CreateTime>[:<subject>]`, where the subject is the authorizer
    /// or registered appid, or the appid a notice is about. Pushes without such a subject (an
    /// unknown kind, a failed registration, a notice naming no account) use the SHA-256 of the
    /// whole push instead. Never contains a ticket or an auth code.
    pub fn idempotency_key(&self) -> String {
        let prefix = format!(
            "component:{}:{}:{}",
            self.component_appid,
            self.info_type(),
            self.create_time
        );
        let subject = match &self.kind {
            // One ticket per platform per CreateTime: nothing more to tell them apart by.
            ComponentEventKind::VerifyTicket { .. } => return prefix,
            ComponentEventKind::Authorized(a) | ComponentEventKind::UpdateAuthorized(a) => {
                Some(&a.authorizer_appid)
            }
            ComponentEventKind::Unauthorized { authorizer_appid } => Some(authorizer_appid),
            ComponentEventKind::FastRegister(r) | ComponentEventKind::FastVerifyBetaApp(r) => {
                r.appid.as_ref()
            }
            ComponentEventKind::FastRegisterBetaApp(r) => r.appid.as_ref(),
            ComponentEventKind::Notice(notice) => notice.appid.as_ref(),
            ComponentEventKind::Unknown { .. } => None,
        };
        match subject {
            Some(appid) => format!("{prefix}:{appid}"),
            None => format!("{prefix}:sha256:{}", self.raw_sha256),
        }
    }
}

fn authorization(f: &Body, kind: &'static str) -> Result<Authorization, EventError> {
    Ok(Authorization {
        authorizer_appid: required_appid(f, kind, "AuthorizerAppid")?,
        authorization_code: Secret::new(f.required(kind, "AuthorizationCode")?),
        authorization_code_expires_at: f.required_int(kind, "AuthorizationCodeExpiredTime")?,
        pre_auth_code: f.trimmed("PreAuthCode")?.map(Secret::from),
    })
}

fn registration_info(f: &Body) -> Result<RegistrationInfo, EventError> {
    Ok(RegistrationInfo {
        name: optional_string(f, "info/name")?,
        code: optional_string(f, "info/code")?,
        code_type: f.optional_int("info/code_type")?,
        legal_persona_wechat: optional_string(f, "info/legal_persona_wechat")?,
        legal_persona_name: optional_string(f, "info/legal_persona_name")?,
        component_phone: optional_string(f, "info/component_phone")?,
        wxuser: optional_string(f, "info/wxuser")?,
        idname: optional_string(f, "info/idname")?,
    })
}
