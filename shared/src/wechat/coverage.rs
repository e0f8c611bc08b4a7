//! The coverage table: every API the wechat3rd Go SDK lists (and registering a mini program by
//! reusing an official account's verification), what covers it in this project, the WeChat
//! endpoint and token, and the route of the product's API that exposes it.
//!
//! [`COVERAGE`] is the single source of truth. Client rows name their method through a macro that
//! only compiles if `WechatClient` has it, and take path and token type from the endpoint constant
//! the method uses. Tests check the table against that list (a fixture), against the
//! simulator's catalogue, and against the markdown copy in [`COVERAGE_DOC`] (run the tests with
//! `UPDATE_COVERAGE=1` to rewrite that copy). Compiled only with the `coverage` feature, which the
//! test harness turns on: no function carries the table.

use super::access_tokens::{AuthorizerAccessToken, ComponentAccessToken};
use super::client::{Endpoint, NoToken, WechatClient};
use super::miniprogram::{
    basic_info, beta, category, code, domain, login, media, open_account, plugin, privacy,
    register, rid, subscribe, template, tester, unionid, violation, wxacode,
};
use super::official_account;
use std::fmt::{self, Write as _};

/// The markdown file holding the generated table, relative to the workspace root.
pub const COVERAGE_DOC: &str = "docs/api-coverage.md";
/// The markers around the generated table in [`COVERAGE_DOC`].
pub const COVERAGE_START: &str = "<!-- coverage:start -->";
pub const COVERAGE_END: &str = "<!-- coverage:end -->";

/// Which token an endpoint authenticates with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    Component,
    Authorizer,
    None,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Component => "component",
            Self::Authorizer => "authorizer",
            Self::None => "none",
        }
    }
}

/// Maps a credential type to its [`TokenKind`], so rows take it from the endpoint's type.
trait Kind {
    const KIND: TokenKind;
}
impl Kind for ComponentAccessToken {
    const KIND: TokenKind = TokenKind::Component;
}
impl Kind for AuthorizerAccessToken {
    const KIND: TokenKind = TokenKind::Authorizer;
}
impl Kind for NoToken {
    const KIND: TokenKind = TokenKind::None;
}

const fn kind_of<C: Kind>(_: &Endpoint<C>) -> TokenKind {
    C::KIND
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    Get,
    Post,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

/// What tells apart operations that share a path (`?action=create`, `{"action": "get"}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Selector {
    None,
    Query(&'static str, &'static str),
    Body(&'static str, &'static str),
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => Ok(()),
            Self::Query(name, value) => write!(f, "?{name}={value}"),
            Self::Body(name, value) => write!(f, " {{\"{name}\": \"{value}\"}}"),
        }
    }
}

/// One WeChat endpoint as a client method calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WechatCall {
    pub http: HttpMethod,
    pub path: &'static str,
    pub selector: Selector,
    pub token: TokenKind,
}

/// What covers a listed API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Covered {
    /// A typed `WechatClient` method.
    Client {
        method: &'static str,
        call: WechatCall,
    },
    /// A function or generic method that is not tied to one endpoint.
    Function(&'static str),
    /// Another part of the product.
    Component(&'static str),
}

/// Where a row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Listed in the wechat3rd Go SDK's README under this name.
    Listed(&'static str),
    /// Registering a mini program by reusing an official account's verification, named as the
    /// C# SDK names it.
    Reuse(&'static str),
    /// A variant the project adds next to a listed API.
    Extra,
    /// An API beyond the list that the product needs, named as WeChat's documentation names it.
    Added(&'static str),
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    pub group: &'static str,
    pub origin: Origin,
    pub covered: Covered,
    /// The product API route that exposes it (`METHOD /path`), empty if none does yet.
    pub route: &'static str,
}

impl Coverage {
    /// The row with the product API route that exposes it.
    pub const fn with_route(mut self, route: &'static str) -> Self {
        self.route = route;
        self
    }

    /// The WeChat call of a client row.
    pub fn call(&self) -> Option<&WechatCall> {
        match &self.covered {
            Covered::Client { call, .. } => Some(call),
            _ => None,
        }
    }

    pub fn listed_name(&self) -> Option<&'static str> {
        match self.origin {
            Origin::Listed(name) => Some(name),
            _ => None,
        }
    }
}

/// A client row from the method's endpoint constant.
macro_rules! client {
    ($group:expr, $origin:expr, $method:ident, $http:ident, $endpoint:expr) => {
        client!($group, $origin, $method, $http, $endpoint, Selector::None)
    };
    ($group:expr, $origin:expr, $method:ident, $http:ident, $endpoint:expr, $selector:expr) => {
        Coverage {
            group: $group,
            origin: $origin,
            covered: Covered::Client {
                method: {
                    // Fails to compile if the method is renamed or removed.
                    let _ = WechatClient::$method;
                    stringify!($method)
                },
                call: WechatCall {
                    http: HttpMethod::$http,
                    path: $endpoint.path(),
                    selector: $selector,
                    token: kind_of(&$endpoint),
                },
            },
            route: "",
        }
    };
}

/// A client row of the component module, whose endpoint constants are private to it.
macro_rules! existing {
    ($group:expr, $origin:expr, $method:ident, $path:expr, $token:ident) => {
        Coverage {
            group: $group,
            origin: $origin,
            covered: Covered::Client {
                method: {
                    let _ = WechatClient::$method;
                    stringify!($method)
                },
                call: WechatCall {
                    http: HttpMethod::Post,
                    path: $path,
                    selector: Selector::None,
                    token: TokenKind::$token,
                },
            },
            route: "",
        }
    };
}

const fn other(group: &'static str, seed: &'static str, by: &'static str) -> Coverage {
    Coverage {
        group,
        origin: Origin::Listed(seed),
        covered: Covered::Component(by),
        route: "",
    }
}

const fn function(group: &'static str, seed: &'static str, path: &'static str) -> Coverage {
    Coverage {
        group,
        origin: Origin::Listed(seed),
        covered: Covered::Function(path),
        route: "",
    }
}

use Origin::{Extra, Listed as S, Reuse};

const OPENAPI: &str = "openApi quota";
const DOMAINS: &str = "third-party domains";
const PRIVACY: &str = "privacy";
const AUTH: &str = "authorization";
const AUTHORIZERS: &str = "authorizer management";
const OPEN: &str = "open account";
const REGISTER: &str = "fast registration";
const BETA: &str = "beta mini programs";
const TEMPLATES: &str = "code templates";
const BASIC: &str = "basic info";
const WXACODE: &str = "wxacode";
const CATEGORIES: &str = "categories";
const TESTERS: &str = "testers";
const CODE: &str = "code management";
const VIOLATIONS: &str = "violations and appeals";
const LOGIN: &str = "jscode2session and user-data decryption";
const SUBSCRIBE: &str = "subscribe messages";
const UNIONID: &str = "unionid after payment";
const MEDIA: &str = "media";
const PLUGINS: &str = "plugins";
const OFFICIAL: &str = "official accounts on behalf (web authorization, JS-SDK)";
const TOOLS: &str = "tools";

/// Every listed API and what covers it.
pub const COVERAGE: &[Coverage] = &[
    // openApi quota
    existing!(
        OPENAPI,
        S("ClearQuota"),
        clear_quota,
        "/cgi-bin/clear_quota",
        Authorizer
    ),
    existing!(
        OPENAPI,
        Extra,
        clear_component_quota,
        "/cgi-bin/clear_quota",
        Component
    ),
    existing!(
        OPENAPI,
        Extra,
        clear_quota_by_app_secret,
        "/cgi-bin/component/clear_quota/v2",
        None
    ),
    existing!(
        OPENAPI,
        S("QuotaGet"),
        get_api_quota,
        "/cgi-bin/openapi/quota/get",
        Authorizer
    ),
    existing!(
        OPENAPI,
        Extra,
        get_component_api_quota,
        "/cgi-bin/openapi/quota/get",
        Component
    ),
    client!(OPENAPI, S("RidGet"), get_rid_info, Post, rid::RID_GET),
    // third-party domains
    client!(
        DOMAINS,
        S("ModifyWxaServerDomain"),
        modify_wxa_server_domain,
        Post,
        domain::MODIFY_WXA_SERVER_DOMAIN
    ),
    client!(
        DOMAINS,
        S("GetDomainConfirmFile"),
        get_domain_confirm_file,
        Post,
        domain::GET_DOMAIN_CONFIRM_FILE
    ),
    client!(
        DOMAINS,
        S("ModifyWxaJumpDomain"),
        modify_wxa_jump_domain,
        Post,
        domain::MODIFY_WXA_JUMP_DOMAIN
    ),
    // privacy
    client!(
        PRIVACY,
        S("SetPrivacySetting"),
        set_privacy_setting,
        Post,
        privacy::SET_PRIVACY_SETTING
    )
    .with_route("POST /authorizers/{appid}/privacy"),
    client!(
        PRIVACY,
        S("GetPrivacySetting"),
        get_privacy_setting,
        Post,
        privacy::GET_PRIVACY_SETTING
    )
    .with_route("GET /authorizers/{appid}/privacy"),
    client!(
        PRIVACY,
        S("UploadPrivacyExtFile"),
        upload_privacy_ext_file,
        Post,
        privacy::UPLOAD_PRIVACY_EXT_FILE
    ),
    client!(
        PRIVACY,
        Extra,
        get_code_privacy_info,
        Get,
        privacy::GET_CODE_PRIVACY_INFO
    ),
    // authorization
    other(
        AUTH,
        "ServeHTTP",
        "push handling: the ticket-callback function (component events) and the message callback",
    ),
    existing!(
        AUTH,
        S("ApiStartPushTicket"),
        api_start_push_ticket,
        "/cgi-bin/component/api_start_push_ticket",
        None
    ),
    other(
        AUTH,
        "AccessTokenServer.Token",
        "the token service (single-flight refresh, DynamoDB store) via `WechatClient::api_component_token`",
    ),
    other(
        AUTH,
        "Token",
        "the token service: a valid component token on demand",
    ),
    other(
        AUTH,
        "AuthUrl",
        "the auth link builder: the auth-redirect function's click-through page",
    ),
    existing!(
        AUTH,
        S("PreAuthCode"),
        api_create_preauthcode,
        "/cgi-bin/component/api_create_preauthcode",
        Component
    ),
    existing!(
        AUTH,
        S("QueryAuth"),
        api_query_auth,
        "/cgi-bin/component/api_query_auth",
        Component
    ),
    existing!(
        AUTH,
        S("RefreshToken"),
        api_authorizer_token,
        "/cgi-bin/component/api_authorizer_token",
        Component
    ),
    existing!(
        AUTH,
        S("AuthorizerInfo"),
        api_get_authorizer_info,
        "/cgi-bin/component/api_get_authorizer_info",
        Component
    ),
    // authorizer management
    existing!(
        AUTHORIZERS,
        S("AuthorizerList"),
        api_get_authorizer_list,
        "/cgi-bin/component/api_get_authorizer_list",
        Component
    ),
    existing!(
        AUTHORIZERS,
        S("AuthorizerOption"),
        api_get_authorizer_option,
        "/cgi-bin/component/api_get_authorizer_option",
        Component
    ),
    existing!(
        AUTHORIZERS,
        Extra,
        get_authorizer_option,
        "/cgi-bin/component/get_authorizer_option",
        Authorizer
    ),
    existing!(
        AUTHORIZERS,
        S("SetAuthorizerOption"),
        api_set_authorizer_option,
        "/cgi-bin/component/api_set_authorizer_option",
        Component
    ),
    existing!(
        AUTHORIZERS,
        Extra,
        set_authorizer_option,
        "/cgi-bin/component/set_authorizer_option",
        Authorizer
    ),
    // open account
    client!(
        OPEN,
        S("OpenCreate"),
        open_create,
        Post,
        open_account::OPEN_CREATE
    ),
    client!(
        OPEN,
        S("OpenBind"),
        open_bind,
        Post,
        open_account::OPEN_BIND
    ),
    client!(
        OPEN,
        S("OpenUnbind"),
        open_unbind,
        Post,
        open_account::OPEN_UNBIND
    ),
    client!(OPEN, S("OpenGet"), open_get, Post, open_account::OPEN_GET),
    // fast registration
    client!(
        REGISTER,
        S("FastRegisterOrgWeapp"),
        fast_register_org_weapp,
        Post,
        register::FAST_REGISTER_WEAPP,
        Selector::Query("action", "create")
    )
    .with_route("POST /fast-registration/enterprise"),
    client!(
        REGISTER,
        S("QueryOrgWeapp"),
        query_org_weapp,
        Post,
        register::FAST_REGISTER_WEAPP,
        Selector::Query("action", "search")
    )
    .with_route("POST /fast-registration/enterprise/query"),
    client!(
        REGISTER,
        S("FastRegisterPersonalWeapp"),
        fast_register_personal_weapp,
        Post,
        register::FAST_REGISTER_PERSONAL_WEAPP,
        Selector::Query("action", "create")
    )
    .with_route("POST /fast-registration/personal"),
    client!(
        REGISTER,
        S("QueryPersonalWeapp"),
        query_personal_weapp,
        Post,
        register::FAST_REGISTER_PERSONAL_WEAPP,
        Selector::Query("action", "query")
    )
    .with_route("GET /fast-registration/personal/{taskid}"),
    client!(
        REGISTER,
        Reuse("RegisterByOffiaccount"),
        fast_register_by_official_account,
        Post,
        register::FAST_REGISTER_BY_OFFICIAL_ACCOUNT
    )
    .with_route("POST /authorizers/{appid}/fast-registration/official-account"),
    // official accounts on behalf: who the user of a page is, and wx.config's signature
    client!(
        OFFICIAL,
        Origin::Added("代公众号发起网页授权: code 换取 access_token"),
        oauth_component_access_token,
        Get,
        official_account::OAUTH_ACCESS_TOKEN
    ),
    client!(
        OFFICIAL,
        Origin::Added("代公众号发起网页授权: 拉取用户信息"),
        sns_userinfo,
        Get,
        official_account::SNS_USERINFO
    )
    .with_route("GET /authorizers/{appid}/web-users/{openid}"),
    client!(
        OFFICIAL,
        Origin::Added("JS-SDK: jsapi_ticket"),
        get_jsapi_ticket,
        Get,
        official_account::GET_TICKET,
        Selector::Query("type", "jsapi")
    )
    .with_route("GET /authorizers/{appid}/jssdk-config"),
    // beta mini programs
    client!(
        BETA,
        S("FastRegisterBetaWeapp"),
        fast_register_beta_weapp,
        Post,
        beta::FAST_REGISTER_BETA_WEAPP
    )
    .with_route("POST /fast-registration/beta"),
    client!(
        BETA,
        S("VerifyBetaWeapp"),
        verify_beta_weapp,
        Post,
        beta::VERIFY_BETA_WEAPP
    ),
    client!(
        BETA,
        S("SetBetaWeappNickname"),
        set_beta_weapp_nickname,
        Post,
        beta::SET_BETA_WEAPP_NICKNAME
    ),
    // code templates
    client!(
        TEMPLATES,
        S("GetTemplateDraftList"),
        get_template_draft_list,
        Get,
        template::GET_TEMPLATE_DRAFT_LIST
    )
    .with_route("GET /templates/drafts"),
    client!(
        TEMPLATES,
        S("AddToTemplate"),
        add_to_template,
        Post,
        template::ADD_TO_TEMPLATE
    )
    .with_route("POST /templates"),
    client!(
        TEMPLATES,
        S("GetTemplateList"),
        get_template_list,
        Get,
        template::GET_TEMPLATE_LIST
    )
    .with_route("GET /templates"),
    client!(
        TEMPLATES,
        S("DeleteTemplate"),
        delete_template,
        Post,
        template::DELETE_TEMPLATE
    )
    .with_route("DELETE /templates/{template_id}"),
    // basic info
    client!(
        BASIC,
        S("GetAccountBasicInfo"),
        get_account_basic_info,
        Get,
        basic_info::GET_ACCOUNT_BASIC_INFO
    )
    .with_route("GET /authorizers/{appid}/basic-info"),
    client!(BASIC, S("OpenHave"), open_have, Post, basic_info::OPEN_HAVE),
    client!(
        BASIC,
        S("ModifyDomain"),
        modify_domain,
        Post,
        basic_info::MODIFY_DOMAIN
    )
    .with_route("POST /authorizers/{appid}/domains"),
    client!(
        BASIC,
        S("SetWebviewDomain"),
        set_webview_domain,
        Post,
        basic_info::SET_WEBVIEW_DOMAIN
    )
    .with_route("POST /authorizers/{appid}/webview-domains"),
    client!(
        BASIC,
        S("SetNickname"),
        set_nickname,
        Post,
        basic_info::SET_NICKNAME
    )
    .with_route("POST /authorizers/{appid}/nickname"),
    client!(
        BASIC,
        S("CheckWxVerifyNickname"),
        check_wx_verify_nickname,
        Post,
        basic_info::CHECK_WX_VERIFY_NICKNAME
    ),
    client!(
        BASIC,
        S("QueryNickname"),
        query_nickname,
        Post,
        basic_info::QUERY_NICKNAME
    )
    .with_route("GET /authorizers/{appid}/nickname/audit"),
    client!(
        BASIC,
        S("ModifyHeadImage"),
        modify_head_image,
        Post,
        basic_info::MODIFY_HEAD_IMAGE
    )
    .with_route("POST /authorizers/{appid}/head-image"),
    client!(
        BASIC,
        S("ModifySignature"),
        modify_signature,
        Post,
        basic_info::MODIFY_SIGNATURE
    )
    .with_route("POST /authorizers/{appid}/signature"),
    client!(
        BASIC,
        S("GetWxaSearchStatus"),
        get_wxa_search_status,
        Get,
        basic_info::GET_WXA_SEARCH_STATUS
    )
    .with_route("GET /authorizers/{appid}/search-status"),
    client!(
        BASIC,
        S("ChangeWxaSearchStatus"),
        change_wxa_search_status,
        Post,
        basic_info::CHANGE_WXA_SEARCH_STATUS
    )
    .with_route("POST /authorizers/{appid}/search-status"),
    client!(
        BASIC,
        S("FetchDataSettingGet"),
        fetch_data_setting_get,
        Post,
        basic_info::FETCH_DATA_SETTING,
        Selector::Body("action", "get")
    ),
    client!(
        BASIC,
        S("FetchDataSettingSetPreFetch"),
        fetch_data_setting_set_pre_fetch,
        Post,
        basic_info::FETCH_DATA_SETTING,
        Selector::Body("action", "set_pre_fetch")
    ),
    client!(
        BASIC,
        S("FetchDataSettingSetPeriodFetch"),
        fetch_data_setting_set_period_fetch,
        Post,
        basic_info::FETCH_DATA_SETTING,
        Selector::Body("action", "set_period_fetch")
    ),
    // wxacode
    client!(
        WXACODE,
        S("GetWxaCodeUnLimit"),
        get_wxacode_unlimit,
        Post,
        wxacode::GET_WXACODE_UNLIMIT
    )
    .with_route("POST /authorizers/{appid}/wxacode"),
    // categories
    client!(
        CATEGORIES,
        S("GetMiniProgramAllCategory"),
        get_all_categories,
        Get,
        category::GET_ALL_CATEGORIES
    ),
    client!(
        CATEGORIES,
        S("GetMiniProgramCategory"),
        get_category,
        Get,
        category::GET_CATEGORY
    )
    .with_route("GET /authorizers/{appid}/categories"),
    client!(
        CATEGORIES,
        S("GetMiniProgramCategoriesByType"),
        get_categories_by_type,
        Post,
        category::GET_CATEGORIES_BY_TYPE
    ),
    client!(
        CATEGORIES,
        S("AddMiniProgramCategory"),
        add_category,
        Post,
        category::ADD_CATEGORY
    )
    .with_route("POST /authorizers/{appid}/categories"),
    client!(
        CATEGORIES,
        S("DeleteMiniProgramCategory"),
        delete_category,
        Post,
        category::DELETE_CATEGORY
    )
    .with_route("DELETE /authorizers/{appid}/categories"),
    client!(
        CATEGORIES,
        S("ModifyMiniProgramCategory"),
        modify_category,
        Post,
        category::MODIFY_CATEGORY
    ),
    client!(
        CATEGORIES,
        S("GetMiniProgramAuditCategory"),
        get_audit_category,
        Get,
        category::GET_AUDIT_CATEGORY
    ),
    // testers
    client!(
        TESTERS,
        S("BindTester"),
        bind_tester,
        Post,
        tester::BIND_TESTER
    )
    .with_route("POST /authorizers/{appid}/testers"),
    client!(
        TESTERS,
        S("UnbindTester"),
        unbind_tester,
        Post,
        tester::UNBIND_TESTER
    )
    .with_route("DELETE /authorizers/{appid}/testers"),
    client!(
        TESTERS,
        S("Memberauth"),
        get_testers,
        Post,
        tester::MEMBERAUTH
    )
    .with_route("GET /authorizers/{appid}/testers"),
    // code management
    client!(CODE, S("Commit"), commit_code, Post, code::COMMIT)
        .with_route("POST /authorizers/{appid}/code"),
    client!(CODE, S("GetPage"), get_code_page, Get, code::GET_PAGE)
        .with_route("GET /authorizers/{appid}/code/pages"),
    client!(
        CODE,
        S("GetQrcode"),
        get_trial_qrcode,
        Get,
        code::GET_QRCODE
    )
    .with_route("GET /authorizers/{appid}/code/qrcode"),
    client!(
        CODE,
        S("SubmitAudit"),
        submit_audit,
        Post,
        code::SUBMIT_AUDIT
    )
    .with_route("POST /authorizers/{appid}/audit"),
    client!(
        CODE,
        S("GetAuditStatus"),
        get_audit_status,
        Post,
        code::GET_AUDITSTATUS
    ),
    client!(
        CODE,
        S("GetLatestAuditStatus"),
        get_latest_audit_status,
        Get,
        code::GET_LATEST_AUDITSTATUS
    )
    .with_route("GET /authorizers/{appid}/audit"),
    client!(
        CODE,
        S("UndoCodeAudit"),
        undo_code_audit,
        Get,
        code::UNDO_CODE_AUDIT
    )
    .with_route("POST /authorizers/{appid}/audit/undo"),
    client!(CODE, S("Release"), release, Post, code::RELEASE)
        .with_route("POST /authorizers/{appid}/release"),
    client!(
        CODE,
        S("RevertCodeRelease"),
        revert_code_release,
        Get,
        code::REVERT_CODE_RELEASE
    )
    .with_route("POST /authorizers/{appid}/release/revert"),
    client!(
        CODE,
        S("GetRevertCodeRelease"),
        get_revert_history,
        Get,
        code::GET_REVERT_HISTORY,
        Selector::Query("action", "get_history_version")
    ),
    client!(
        CODE,
        S("GrayRelease"),
        gray_release,
        Post,
        code::GRAY_RELEASE
    )
    .with_route("POST /authorizers/{appid}/gray-release"),
    client!(
        CODE,
        S("GetGrayReleasePlan"),
        get_gray_release_plan,
        Get,
        code::GET_GRAY_RELEASE_PLAN
    )
    .with_route("GET /authorizers/{appid}/gray-release"),
    client!(
        CODE,
        S("RevertGrayRelease"),
        revert_gray_release,
        Get,
        code::REVERT_GRAY_RELEASE
    )
    .with_route("DELETE /authorizers/{appid}/gray-release"),
    client!(
        CODE,
        S("ChangeVisitStatus"),
        change_visit_status,
        Post,
        code::CHANGE_VISIT_STATUS
    )
    .with_route("POST /authorizers/{appid}/visit-status"),
    client!(
        CODE,
        S("GetWeappSupportVersion"),
        get_weapp_support_version,
        Post,
        code::GET_WEAPP_SUPPORT_VERSION
    )
    .with_route("GET /authorizers/{appid}/support-version"),
    client!(
        CODE,
        S("SetWeappSupportVersion"),
        set_weapp_support_version,
        Post,
        code::SET_WEAPP_SUPPORT_VERSION
    )
    .with_route("POST /authorizers/{appid}/support-version"),
    client!(CODE, S("QueryQuota"), query_quota, Get, code::QUERY_QUOTA)
        .with_route("GET /authorizers/{appid}/audit/quota"),
    client!(
        CODE,
        S("SpeedupAudit"),
        speedup_audit,
        Post,
        code::SPEEDUP_AUDIT
    )
    .with_route("POST /authorizers/{appid}/audit/speedup"),
    // violations and appeals
    client!(
        VIOLATIONS,
        S("GetIllegalRecords"),
        get_illegal_records,
        Post,
        violation::GET_ILLEGAL_RECORDS
    ),
    client!(
        VIOLATIONS,
        S("GetAppealRecords"),
        get_appeal_records,
        Post,
        violation::GET_APPEAL_RECORDS
    ),
    // jscode2session and user-data decryption
    client!(
        LOGIN,
        S("Jscode2session"),
        jscode2session,
        Get,
        login::JSCODE2SESSION
    ),
    function(
        LOGIN,
        "AESCBCDecrypt",
        "`wechat::user_data::decrypt_user_data`",
    ),
    // subscribe messages
    client!(
        SUBSCRIBE,
        S("GetCategory"),
        get_subscribe_category,
        Get,
        subscribe::GET_CATEGORY
    ),
    client!(
        SUBSCRIBE,
        S("GetPubTemplateTitles"),
        get_pub_template_titles,
        Get,
        subscribe::GET_PUB_TEMPLATE_TITLES
    ),
    client!(
        SUBSCRIBE,
        S("GetPubTemplateKeywords"),
        get_pub_template_keywords,
        Get,
        subscribe::GET_PUB_TEMPLATE_KEYWORDS
    ),
    client!(
        SUBSCRIBE,
        S("AddTemplate"),
        add_subscribe_template,
        Post,
        subscribe::ADD_TEMPLATE
    ),
    client!(
        SUBSCRIBE,
        S("GetTemplate"),
        get_subscribe_templates,
        Get,
        subscribe::GET_TEMPLATE
    ),
    client!(
        SUBSCRIBE,
        S("DelTemplate"),
        delete_subscribe_template,
        Post,
        subscribe::DEL_TEMPLATE
    ),
    client!(
        SUBSCRIBE,
        S("SubscribeSend"),
        send_subscribe_message,
        Post,
        subscribe::SUBSCRIBE_SEND
    ),
    // unionid after payment
    client!(
        UNIONID,
        S("GetPaidUnionId"),
        get_paid_unionid,
        Get,
        unionid::GET_PAID_UNIONID
    ),
    // media
    client!(
        MEDIA,
        S("MediaUpload"),
        upload_temp_media,
        Post,
        media::MEDIA_UPLOAD
    ),
    client!(MEDIA, S("MediaGet"), get_temp_media, Get, media::MEDIA_GET),
    client!(
        MEDIA,
        S("GetMaterial"),
        get_material,
        Post,
        media::GET_MATERIAL
    ),
    // plugins
    client!(PLUGINS, S("Plugin"), plugin, Post, plugin::PLUGIN),
    // tools
    function(
        TOOLS,
        "PostJson",
        "`WechatClient::post_json` (generic; also `get`, `post_json_raw`, `get_raw`)",
    ),
    function(
        TOOLS,
        "AESDecryptData",
        "`wechat::user_data::decrypt_user_data`",
    ),
];

/// Escape what would break a markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The table as markdown, in [`COVERAGE`] order.
pub fn coverage_markdown() -> String {
    let mut out = String::from(
        "| group | listed API | covered by | WeChat endpoint | token | API route |\n|---|---|---|---|---|---|\n",
    );
    for row in COVERAGE {
        let seed = match row.origin {
            Origin::Listed(name) => format!("`{name}`"),
            Origin::Reuse(name) => format!("`{name}` (reusing an official account)"),
            Origin::Extra => "(variant)".to_owned(),
            Origin::Added(name) => format!("{name} (added)"),
        };
        let (covered, endpoint, token) = match &row.covered {
            Covered::Client { method, call } => (
                format!("`WechatClient::{method}`"),
                format!("`{} {}{}`", call.http.as_str(), call.path, call.selector),
                call.token.as_str(),
            ),
            Covered::Function(path) => ((*path).to_owned(), String::new(), ""),
            Covered::Component(by) => ((*by).to_owned(), String::new(), ""),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cell(row.group),
            cell(&seed),
            cell(&covered),
            cell(&endpoint),
            token,
            cell(row.route)
        );
    }
    out
}

/// Replaces the text between the markers of `doc` with `table`; `None` if a marker is missing.
pub fn replace_generated(doc: &str, table: &str) -> Option<String> {
    let start = doc.find(COVERAGE_START)? + COVERAGE_START.len();
    let end = start + doc[start..].find(COVERAGE_END)?;
    Some(format!("{}\n{}{}", &doc[..start], table, &doc[end..]))
}

/// The text between the markers of `doc`.
pub fn generated_part(doc: &str) -> Option<&str> {
    let start = doc.find(COVERAGE_START)? + COVERAGE_START.len();
    let end = start + doc[start..].find(COVERAGE_END)?;
    Some(doc[start..end].trim_start_matches('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    const LISTED_METHODS: &str = include_str!("../../tests/fixtures/wechat3rd_methods.txt");

    fn listed_methods() -> Vec<&'static str> {
        LISTED_METHODS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    }

    #[test]
    fn every_listed_method_appears_exactly_once_and_nothing_else_claims_to_be_one() {
        let seed = listed_methods();
        assert_eq!(
            seed.len(),
            97,
            "the fixture lists the 97 names of the wechat3rd README"
        );
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for name in COVERAGE.iter().filter_map(Coverage::listed_name) {
            *counts.entry(name).or_default() += 1;
        }
        let missing: Vec<_> = seed.iter().filter(|n| !counts.contains_key(*n)).collect();
        assert!(missing.is_empty(), "not covered: {missing:?}");
        let twice: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
        assert!(twice.is_empty(), "listed more than once: {twice:?}");
        let unknown: Vec<_> = counts.keys().filter(|n| !seed.contains(n)).collect();
        assert!(unknown.is_empty(), "not in the wechat3rd list: {unknown:?}");
    }

    #[test]
    fn each_client_method_and_each_endpoint_operation_has_one_row() {
        let mut methods = HashSet::new();
        let mut calls = HashSet::new();
        for row in COVERAGE {
            if let Covered::Client { method, call } = &row.covered {
                assert!(methods.insert(*method), "{method} listed twice");
                assert!(calls.insert(*call), "{call:?} listed twice");
            }
        }
    }

    #[test]
    fn the_registration_reusing_an_official_account_is_covered() {
        assert!(
            COVERAGE
                .iter()
                .any(|r| matches!(r.origin, Origin::Reuse(_)) && r.call().is_some())
        );
    }

    #[test]
    fn the_markdown_copy_matches_the_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(COVERAGE_DOC);
        let table = coverage_markdown();
        let doc = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} cannot be read: {e}", path.display()));
        if std::env::var_os("UPDATE_COVERAGE").is_some_and(|v| v == "1") {
            let updated = replace_generated(&doc, &table).expect("the coverage markers");
            std::fs::write(&path, updated).expect("the coverage doc is writable");
            return;
        }
        let current = generated_part(&doc).expect("the coverage markers are present");
        assert!(
            current == table,
            "{} is out of date: run `UPDATE_COVERAGE=1 cargo test -p wxcomponent --features coverage --lib coverage`",
            COVERAGE_DOC
        );
    }

    #[test]
    fn replacing_the_generated_part_keeps_the_surroundings() {
        let doc = format!("intro\n{COVERAGE_START}\nold\n{COVERAGE_END}\noutro\n");
        let new = replace_generated(&doc, "new\n").unwrap();
        assert_eq!(
            new,
            format!("intro\n{COVERAGE_START}\nnew\n{COVERAGE_END}\noutro\n")
        );
        assert_eq!(generated_part(&new), Some("new\n"));
    }
}
