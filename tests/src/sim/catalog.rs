//! The mini program endpoints, table-driven: for each one its method, path (and the `action` that
//! tells apart operations sharing a path), the token it takes, the fields it requires, and the
//! sample answer of WeChat's documentation.
//!
//! The sim answers a catalogued call in this order: the token must be a currently valid one the
//! sim issued, of the right kind (41001 missing, 40001 invalid or wrong kind, 42001 expired); every
//! required field must be present and not empty (the entry's errcode, usually 47001 "data format
//! error"); then the sample. Calls the hand-written endpoints of [`super::state`] do not answer
//! fall through to here; what matches nothing stays unmatched.

use super::state::{Reply, State};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Which token an endpoint takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Token {
    Component,
    Authorizer,
    None,
}

/// What tells apart operations sharing a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Selector {
    None,
    /// A query parameter, e.g. `?action=create`.
    Query(&'static str, &'static str),
    /// A top-level body field, e.g. `{"action": "get"}`.
    Body(&'static str, &'static str),
}

/// A field a call must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// In the JSON body, as a JSON pointer without the leading `/` (`owner_setting/notice_method`).
    Body(&'static str),
    /// In the query string.
    Query(&'static str),
    /// A part of a `multipart/form-data` body.
    Part(&'static str),
}

/// The documented answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// JSON text.
    Json(&'static str),
    /// A file (an image), with its content type.
    Bytes {
        content_type: &'static str,
        body: &'static [u8],
    },
}

/// One catalogued endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub method: &'static str,
    pub path: &'static str,
    pub selector: Selector,
    pub token: Token,
    pub required: &'static [Field],
    /// The errcode for a missing field.
    pub missing: i64,
    pub sample: Sample,
}

const DATA_FORMAT_ERROR: i64 = 47001;

/// The first bytes of a JPEG: enough for a client that passes images on.
pub const JPEG: &[u8] = &[
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
];

const OK: Sample = Sample::Json(r#"{"errcode":0,"errmsg":"ok"}"#);
const IMAGE: Sample = Sample::Bytes {
    content_type: "image/jpeg",
    body: JPEG,
};

const fn entry(
    method: &'static str,
    path: &'static str,
    token: Token,
    required: &'static [Field],
    sample: Sample,
) -> Entry {
    Entry {
        method,
        path,
        selector: Selector::None,
        token,
        required,
        missing: DATA_FORMAT_ERROR,
        sample,
    }
}

const fn post(
    path: &'static str,
    token: Token,
    required: &'static [Field],
    sample: Sample,
) -> Entry {
    entry("POST", path, token, required, sample)
}

const fn get(
    path: &'static str,
    token: Token,
    required: &'static [Field],
    sample: Sample,
) -> Entry {
    entry("GET", path, token, required, sample)
}

impl Entry {
    const fn with(mut self, selector: Selector) -> Self {
        self.selector = selector;
        self
    }

    const fn missing(mut self, errcode: i64) -> Self {
        self.missing = errcode;
        self
    }
}

use Field::{Body as B, Part as P, Query as Q};
use Token::{Authorizer as A, Component as C};

/// Every endpoint of the mini program API groups.
pub const CATALOG: &[Entry] = &[
    // openApi
    post("/cgi-bin/openapi/rid/get", A, &[B("rid")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","request":{"invoke_time":1635156704,"cost_in_ms":30,"request_url":"access_token=ACCESS_TOKEN","request_body":"","response_body":"{\"errcode\":45011,\"errmsg\":\"api minute-quota reach limit\"}","client_ip":"113.0.0.1"}}"#)),
    // third-party domains
    post("/cgi-bin/component/modify_wxa_server_domain", C, &[B("action")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","published_wxa_server_domain":"a.example.com","testing_wxa_server_domain":"a.example.com;b.example.com","invalid_wxa_server_domain":""}"#)),
    post("/cgi-bin/component/get_domain_confirmfile", C, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","file_name":"SyZkSEtXZ0.txt","file_content":"0b8f4a2c7e1d"}"#)),
    post("/cgi-bin/component/modify_wxa_jump_domain", C, &[B("action")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","published_wxa_jump_h5_domain":"h5.example.com","testing_wxa_jump_h5_domain":"h5.example.com","invalid_wxa_jump_h5_domain":""}"#)),
    // privacy
    post("/cgi-bin/component/setprivacysetting", A, &[B("owner_setting"), B("owner_setting/notice_method"), B("setting_list")], OK),
    post("/cgi-bin/component/getprivacysetting", A, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","code_exist":1,"privacy_list":["UserInfo","Location"],"setting_list":[{"privacy_key":"UserInfo","privacy_text":"登录","privacy_label":"用户信息"}],"update_time":1645584000,"owner_setting":{"contact_email":"ops@example.com","notice_method":"弹窗"},"privacy_desc":{"privacy_desc_list":[{"privacy_key":"UserInfo","privacy_desc":"用户信息（微信昵称、头像）"}]}}"#)),
    post("/cgi-bin/component/uploadprivacyextfile", A, &[P("file")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","ext_file_media_id":"ext-media-1"}"#)),
    get("/wxa/security/get_code_privacy_info", A, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","without_auth_list":[],"without_conf_list":[]}"#)),
    // open account
    post("/cgi-bin/open/create", A, &[B("appid")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","open_appid":"wxopen0000000001"}"#)),
    post("/cgi-bin/open/bind", A, &[B("appid"), B("open_appid")], OK),
    post("/cgi-bin/open/unbind", A, &[B("appid"), B("open_appid")], OK),
    post("/cgi-bin/open/get", A, &[B("appid")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","open_appid":"wxopen0000000001"}"#)),
    // fast registration
    post("/cgi-bin/component/fastregisterweapp", C, &[B("name"), B("code"), B("code_type"), B("legal_persona_wechat"), B("legal_persona_name")], OK).with(Selector::Query("action", "create")),
    post("/cgi-bin/component/fastregisterweapp", C, &[B("name"), B("legal_persona_wechat"), B("legal_persona_name")], OK).with(Selector::Query("action", "search")),
    post("/wxa/component/fastregisterpersonalweapp", C, &[B("idname"), B("wxuser")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","taskid":"task-1","authorize_url":"https://mp.weixin.qq.com/wxacfg/authorize?taskid=task-1","status":0}"#)).with(Selector::Query("action", "create")),
    post("/wxa/component/fastregisterpersonalweapp", C, &[B("taskid")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","taskid":"task-1","authorize_url":"https://mp.weixin.qq.com/wxacfg/authorize?taskid=task-1","status":1}"#)).with(Selector::Query("action", "query")),
    post("/cgi-bin/account/fastregister", A, &[B("ticket")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","appid":"wxnewmp000000001","authorization_code":"queryauthcode@@@fastregister","is_wx_verify_succ":true,"is_link_succ":true}"#)),
    // beta mini programs
    post("/wxa/component/fastregisterbetaweapp", C, &[B("name"), B("openid")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","unique_id":"beta-unique-1","authorize_url":"https://mp.weixin.qq.com/cgi-bin/fastregisterauth?unique_id=beta-unique-1"}"#)),
    post("/wxa/verifybetaweapp", A, &[B("verify_info"), B("verify_info/enterprise_name"), B("verify_info/code"), B("verify_info/code_type"), B("verify_info/legal_persona_wechat"), B("verify_info/legal_persona_name"), B("verify_info/component_phone")], OK),
    post("/wxa/setbetaweappnickname", A, &[B("name")], OK),
    // code templates
    get("/wxa/gettemplatedraftlist", C, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","draft_list":[{"create_time":1488965944,"user_version":"1.0.0","user_desc":"first draft","draft_id":0,"source_miniprogram_appid":"wxsource000000001","source_miniprogram":"Template app","developer":"dev"}]}"#)),
    post("/wxa/addtotemplate", C, &[B("draft_id")], OK),
    get("/wxa/gettemplatelist", C, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","template_list":[{"create_time":1488965944,"user_version":"1.0.0","user_desc":"first template","template_id":3,"template_type":0,"source_miniprogram_appid":"wxsource000000001","source_miniprogram":"Template app","developer":"dev"}]}"#)),
    post("/wxa/deletetemplate", C, &[B("template_id")], OK),
    // basic info
    get("/cgi-bin/account/getaccountbasicinfo", A, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","appid":"wxaccount0000001","account_type":3,"principal_type":1,"principal_name":"Sim Co., Ltd.","credential":"91440300MA5XXXXXXX","realname_status":1,"wx_verify_info":{"qualification_verify":true,"naming_verify":true},"signature_info":{"signature":"A simulated mini program","modify_used_count":1,"modify_quota":5},"head_image_info":{"head_image_url":"http://mmbiz.qpic.cn/sim/0","modify_used_count":0,"modify_quota":5},"nickname_info":{"nickname":"Sim shop","modify_used_count":0,"modify_quota":2},"registered_country":1,"nickname":"Sim shop"}"#)),
    post("/cgi-bin/open/have", A, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","have_open":true}"#)),
    post("/wxa/modify_domain", A, &[B("action")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","requestdomain":["https://api.example.com"],"wsrequestdomain":["wss://ws.example.com"],"uploaddomain":["https://up.example.com"],"downloaddomain":["https://down.example.com"],"udpdomain":[],"tcpdomain":[],"invalid_requestdomain":[],"invalid_wsrequestdomain":[],"invalid_uploaddomain":[],"invalid_downloaddomain":[],"invalid_udpdomain":[],"invalid_tcpdomain":[],"no_icp_domain":[]}"#)),
    post("/wxa/setwebviewdomain", A, &[B("action")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","webviewdomain":["https://h5.example.com"]}"#)),
    post("/wxa/setnickname", A, &[B("nick_name")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","wording":"","audit_id":8888}"#)),
    post("/cgi-bin/wxverify/checkwxverifynickname", A, &[B("nick_name")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","hit_condition":true,"wording":"<p>材料说明</p>"}"#)),
    post("/wxa/api_wxa_querynickname", A, &[B("audit_id")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","nickname":"Sim shop","audit_stat":3,"fail_reason":"","create_time":1504790906,"audit_time":1504790923}"#)),
    post("/cgi-bin/account/modifyheadimage", A, &[B("head_img_media_id"), B("x1"), B("y1"), B("x2"), B("y2")], OK),
    post("/cgi-bin/account/modifysignature", A, &[B("signature")], OK),
    get("/wxa/getwxasearchstatus", A, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","status":1}"#)),
    post("/wxa/changewxasearchstatus", A, &[B("status")], OK),
    post("/wxa/fetchdatasetting", A, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","is_pre_fetch_open":true,"pre_fetch_type":0,"pre_fetch_url":"https://prefetch.example.com","pre_env":"","pre_function_name":"","is_period_fetch_open":true,"period_fetch_type":1,"period_fetch_url":"","period_env":"test-env","period_function_name":"login"}"#)).with(Selector::Body("action", "get")),
    post("/wxa/fetchdatasetting", A, &[B("is_pre_fetch_open"), B("pre_fetch_type")], OK).with(Selector::Body("action", "set_pre_fetch")),
    post("/wxa/fetchdatasetting", A, &[B("is_period_fetch_open"), B("period_fetch_type")], OK).with(Selector::Body("action", "set_period_fetch")),
    // wxacode
    post("/wxa/getwxacodeunlimit", A, &[B("scene")], IMAGE),
    // categories
    get("/cgi-bin/wxopen/getallcategories", A, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","categories_list":{"categories":[{"id":0,"name":"","level":0,"father":0,"children":[1],"sensitive_type":0},{"id":1,"name":"快递业与邮政","level":1,"father":0,"children":[7],"sensitive_type":0},{"id":7,"name":"快递、物流","level":2,"father":1,"children":[],"sensitive_type":1,"qualify":{"exter_list":[{"inner_list":[{"name":"快递业务经营许可证","url":""}]}],"remark":""}}]}}"#)),
    get("/cgi-bin/wxopen/getcategory", A, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","categories":[{"first":1,"first_name":"快递业与邮政","second":7,"second_name":"快递、物流","audit_status":3,"audit_reason":""}],"limit":5,"quota":4,"category_limit":5}"#)),
    post("/cgi-bin/wxopen/getcategoriesbytype", A, &[B("verify_type")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","categories_list":{"categories":[{"id":1,"name":"快递业与邮政","level":1,"father":0,"children":[7],"sensitive_type":0}]}}"#)),
    post("/cgi-bin/wxopen/addcategory", A, &[B("categories")], OK),
    post("/cgi-bin/wxopen/deletecategory", A, &[B("first"), B("second")], OK),
    post("/cgi-bin/wxopen/modifycategory", A, &[B("first"), B("second")], OK),
    get("/wxa/get_category", A, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","category_list":[{"first_class":"工具","second_class":"备忘录","first_id":1,"second_id":2}]}"#)),
    // testers
    post("/wxa/bind_tester", A, &[B("wechatid")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","userstr":"userstr-1"}"#)),
    post("/wxa/unbind_tester", A, &[], OK),
    post("/wxa/memberauth", A, &[B("action")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","members":[{"userstr":"userstr-1"},{"userstr":"userstr-2"}]}"#)),
    // code management
    post("/wxa/commit", A, &[B("template_id"), B("ext_json"), B("user_version"), B("user_desc")], OK),
    get("/wxa/get_page", A, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","page_list":["index","page/list","page/detail"]}"#)),
    get("/wxa/get_qrcode", A, &[], IMAGE),
    post("/wxa/submit_audit", A, &[B("item_list")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","auditid":1234567}"#)),
    post("/wxa/get_auditstatus", A, &[B("auditid")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","status":1,"reason":"帐号信息不合规范","screenshot":"xx|yy"}"#)),
    get("/wxa/get_latest_auditstatus", A, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","auditid":1234567,"status":2,"reason":"","ScreenShot":"","user_version":"1.0.0","user_desc":"first","submit_audit_time":1701234567}"#)),
    get("/wxa/undocodeaudit", A, &[], OK),
    post("/wxa/release", A, &[], OK),
    get("/wxa/revertcoderelease", A, &[], OK),
    get("/wxa/revertcoderelease", A, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","version_list":[{"app_version":3,"user_version":"1.0.2","user_desc":"fix","commit_time":1562142384},{"app_version":2,"user_version":"1.0.1","user_desc":"feature","commit_time":1562000000}]}"#)).with(Selector::Query("action", "get_history_version")),
    post("/wxa/grayrelease", A, &[B("gray_percentage")], OK),
    get("/wxa/getgrayreleaseplan", A, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","gray_release_plan":{"status":1,"create_timestamp":1536653281,"gray_percentage":8,"support_experiencer_first":false,"support_debuger_first":true}}"#)),
    get("/wxa/revertgrayrelease", A, &[], OK),
    post("/wxa/change_visitstatus", A, &[B("action")], OK),
    post("/cgi-bin/wxopen/getweappsupportversion", A, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","now_version":"2.21.0","uv_info":{"items":[{"percentage":0,"version":"1.0.0"},{"percentage":97.5,"version":"2.21.0"}]}}"#)),
    post("/cgi-bin/wxopen/setweappsupportversion", A, &[B("version")], OK),
    get("/wxa/queryquota", A, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","rest":19,"limit":20,"speedup_rest":1,"speedup_limit":1}"#)),
    post("/wxa/speedupaudit", A, &[B("auditid")], OK),
    // violations and appeals
    post("/wxa/getillegalrecords", A, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","records":[{"illegal_record_id":"record-1","create_time":1662541830,"illegal_reason":"违反运营规范","illegal_content":"页面内容","rule_url":"https://developers.weixin.qq.com/miniprogram/product/","rule_name":"运营规范"}]}"#)),
    post("/wxa/getappealrecords", A, &[B("illegal_record_id")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","records":[{"appeal_record_id":1,"appeal_time":1662541900,"appeal_count":1,"appeal_from":1,"appeal_status":2,"audit_time":1662542000,"audit_reason":"材料不足","punish_description":"功能限制","materials":[{"illegal_material":{"content":"x","content_url":""},"appeal_material":{"reason":"误判","proof_material_ids":[]}}]}]}"#)),
    // jscode2session
    get("/sns/component/jscode2session", C, &[Q("appid"), Q("js_code"), Q("grant_type"), Q("component_appid")], Sample::Json(r#"{"openid":"oUser0000000000000000000001","session_key":"tiihtNczf5v6AKRyjwEUhQ==","unionid":"oUnion000000000000000000001"}"#)).missing(41008),
    // subscribe messages
    get("/wxaapi/newtmpl/getcategory", A, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","data":[{"id":616,"name":"公交"},{"id":627,"name":"旅游服务"}]}"#)),
    get("/wxaapi/newtmpl/getpubtemplatetitles", A, &[Q("ids"), Q("start"), Q("limit")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","count":1,"data":[{"tid":99,"title":"付款成功通知","type":2,"categoryId":"616"}]}"#)),
    get("/wxaapi/newtmpl/getpubtemplatekeywords", A, &[Q("tid")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","count":2,"data":[{"kid":1,"name":"物品名称","example":"名称","rule":"thing"},{"kid":2,"name":"金额","example":"¥10","rule":"amount"}]}"#)),
    post("/wxaapi/newtmpl/addtemplate", A, &[B("tid"), B("kidList")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","priTmplId":"9Aw5ZV1j9xdWTFEkqCpZ7mIBbSC34khK55OtzUPl0rU"}"#)),
    get("/wxaapi/newtmpl/gettemplate", A, &[], Sample::Json(r#"{"errcode":0,"errmsg":"ok","data":[{"priTmplId":"9Aw5ZV1j9xdWTFEkqCpZ7mIBbSC34khK55OtzUPl0rU","title":"付款成功通知","content":"物品名称:{{thing1.DATA}}\n金额:{{amount2.DATA}}\n","example":"物品名称:名称\n金额:¥10\n","type":2}]}"#)),
    post("/wxaapi/newtmpl/deltemplate", A, &[B("priTmplId")], OK),
    post("/cgi-bin/message/subscribe/send", A, &[B("touser"), B("template_id"), B("data")], OK),
    // unionid after payment
    get("/wxa/getpaidunionid", A, &[Q("openid")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","unionid":"oUnion000000000000000000001"}"#)).missing(41009),
    // media
    post("/cgi-bin/media/upload", A, &[Q("type"), P("media")], Sample::Json(r#"{"type":"image","media_id":"media-temp-1","created_at":1700000000}"#)).missing(41005),
    get("/cgi-bin/media/get", A, &[Q("media_id")], IMAGE).missing(41006),
    post("/cgi-bin/material/get_material", A, &[B("media_id")], IMAGE).missing(41006),
    // plugins
    post("/wxa/plugin", A, &[B("action")], Sample::Json(r#"{"errcode":0,"errmsg":"ok","plugin_list":[{"appid":"wxplugin00000001","status":2,"nickname":"Sim plugin","headimgurl":"http://mmbiz.qpic.cn/sim/plugin"}]}"#)),
];

fn err(errcode: i64, errmsg: &str) -> Value {
    json!({ "errcode": errcode, "errmsg": errmsg })
}

fn selected(selector: &Selector, query: &BTreeMap<String, String>, body: Option<&Value>) -> bool {
    match selector {
        Selector::None => true,
        Selector::Query(name, value) => query.get(*name).is_some_and(|v| v == value),
        Selector::Body(name, value) => body
            .and_then(|b| b.get(*name))
            .and_then(Value::as_str)
            .is_some_and(|v| v == *value),
    }
}

/// The entry for a call: one whose selector matches, else the path's plain entry, else any entry
/// of the path.
pub fn find(
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    body: Option<&Value>,
) -> Option<&'static Entry> {
    let candidates = || {
        CATALOG
            .iter()
            .filter(move |e| e.method == method && e.path == path)
    };
    candidates()
        .find(|e| e.selector != Selector::None && selected(&e.selector, query, body))
        .or_else(|| candidates().find(|e| e.selector == Selector::None))
        // A known path with an unknown action: `answer` refuses it as invalid args.
        .or_else(|| candidates().next())
}

fn present(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// Whether a multipart body has a part named `name` with some content.
fn has_part(raw: &[u8], name: &str) -> bool {
    let marker = format!("name=\"{name}\"");
    let Some(at) = raw
        .windows(marker.len())
        .position(|w| w == marker.as_bytes())
    else {
        return false;
    };
    // The part's content starts after the blank line ending its headers.
    let rest = &raw[at..];
    let Some(start) = rest.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let content = &rest[start + 4..];
    // Empty content means the closing boundary follows at once.
    !content.starts_with(b"\r\n--")
}

fn check_fields(
    entry: &Entry,
    query: &BTreeMap<String, String>,
    body: Option<&Value>,
    raw: &[u8],
) -> Result<(), Value> {
    for field in entry.required {
        let ok = match field {
            Field::Body(pointer) => present(body.and_then(|b| b.pointer(&format!("/{pointer}")))),
            Field::Query(name) => query.get(*name).is_some_and(|v| !v.is_empty()),
            Field::Part(name) => has_part(raw, name),
        };
        if !ok {
            let name = match field {
                Field::Body(n) | Field::Query(n) | Field::Part(n) => n,
            };
            return Err(err(
                entry.missing,
                &format!("missing or empty field {name}"),
            ));
        }
    }
    Ok(())
}

/// Answers a call to a catalogued endpoint, or `None` when no entry matches.
pub(crate) fn answer(
    state: &State,
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    body: Option<&Value>,
    raw: &[u8],
) -> Option<Reply> {
    let entry = find(method, path, query, body)?;
    let checked = match entry.token {
        Token::Component => state.component_token(query),
        Token::Authorizer => state.authorizer_token(query).map(|_| ()),
        Token::None => Ok(()),
    }
    .and_then(|()| {
        // A POST taking JSON must have a JSON object body, even an empty one.
        let json_post =
            method == "POST" && !entry.required.iter().any(|f| matches!(f, Field::Part(_)));
        if json_post && !body.is_some_and(Value::is_object) {
            return Err(err(DATA_FORMAT_ERROR, "data format error"));
        }
        if entry.selector != Selector::None && !selected(&entry.selector, query, body) {
            return Err(err(40097, "invalid args: unknown action"));
        }
        check_fields(entry, query, body, raw)
    });
    Some(match checked {
        Err(e) => Reply::Json(e),
        Ok(()) => match entry.sample {
            Sample::Json(text) => Reply::Json(
                serde_json::from_str(text)
                    .unwrap_or_else(|_| err(-1, "the sim's sample is not JSON")),
            ),
            Sample::Bytes { content_type, body } => Reply::Bytes {
                content_type,
                body: body.to_vec(),
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_is_json_or_bytes_and_every_operation_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for e in CATALOG {
            if let Sample::Json(text) = e.sample {
                assert!(serde_json::from_str::<Value>(text).is_ok(), "{}", e.path);
            }
            assert!(
                seen.insert((e.method, e.path, e.selector)),
                "{} twice",
                e.path
            );
        }
    }

    #[test]
    fn a_part_counts_only_with_content() {
        let with = b"--b\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a\"\r\n\r\nxy\r\n--b--\r\n";
        let empty = b"--b\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a\"\r\n\r\n\r\n--b--\r\n";
        assert!(has_part(with, "media"));
        assert!(!has_part(empty, "media"));
        assert!(!has_part(with, "file"));
    }
}
