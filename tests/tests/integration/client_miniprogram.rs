//! Every mini program client method against the simulator's catalogue, over real HTTP on
//! 127.0.0.1: the request (path, token parameter, body or query) and the typed answer; missing
//! fields, binary answers and error bodies; and the coverage table against the catalogue.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use wxcomponent::wechat::coverage::{self, COVERAGE, Covered, HttpMethod, Selector, TokenKind};
use wxcomponent::wechat::miniprogram::{
    DomainAction, basic_info, beta, category, code, domain, media, plugin, privacy, register,
    subscribe, tester, unionid, wxacode,
};
use wxcomponent::wechat::{AuthorizerAccessToken, ComponentAccessToken, WechatError};
use wxcomponent::{AuthorizerAppId, Secret};
use wxcomponent_tests::app::random_appid;
use wxcomponent_tests::sim::catalog::{self, CATALOG, JPEG};
use wxcomponent_tests::sim::{Fault, RecordedCall, SimConfig, Times};
use wxcomponent_tests::wechat::WechatHarness;

/// A sim, a client, a component token and one authorized mini program with its token.
struct Ctx {
    h: WechatHarness,
    component: ComponentAccessToken,
    account: AuthorizerAccessToken,
    appid: AuthorizerAppId,
}

impl Ctx {
    async fn start() -> Self {
        Self::start_with(SimConfig::random()).await
    }

    async fn start_with(config: SimConfig) -> Self {
        let h = WechatHarness::start_with(config, |_| {}).await;
        let component = h.component_token().await;
        let appid = random_appid();
        let account = h.sim.add_authorizer(&appid).token();
        Self {
            h,
            component,
            account,
            appid: AuthorizerAppId::parse(appid).unwrap(),
        }
    }

    /// The last call to `path`, checked to carry the authorizer token as `access_token` only.
    fn authorizer_call(&self, method: &str, path: &str) -> RecordedCall {
        let call = self.last(method, path);
        assert_eq!(
            call.query.get("access_token").map(String::as_str),
            Some(self.account.secret().expose()),
            "{path} carries the authorizer token"
        );
        assert!(!call.query.contains_key("component_access_token"), "{path}");
        call
    }

    /// The last call to `path`, checked to carry the component token in `param`.
    fn component_call(&self, method: &str, path: &str, param: &str) -> RecordedCall {
        let call = self.last(method, path);
        assert_eq!(
            call.query.get(param).map(String::as_str),
            Some(self.component.secret().expose()),
            "{path} carries the component token as {param}"
        );
        call
    }

    fn last(&self, method: &str, path: &str) -> RecordedCall {
        let call = self
            .h
            .sim
            .calls_to(path)
            .pop()
            .unwrap_or_else(|| panic!("{path} was called"));
        assert_eq!(call.method, method, "{path}");
        call
    }

    fn done(&self) {
        self.h.assert_no_unmatched_calls();
    }
}

fn query_without_token(call: &RecordedCall) -> BTreeMap<String, String> {
    let mut q = call.query.clone();
    q.remove("access_token");
    q.remove("component_access_token");
    q
}

fn q(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

// ----- one test per group: every method once, request and typed answer -----

#[tokio::test]
async fn rid_get_sends_the_rid_with_the_authorizer_token_and_returns_the_logged_request() {
    let c = Ctx::start().await;

    let info =
        c.h.client
            .get_rid_info(&c.account, "rid-123")
            .await
            .unwrap();

    assert_eq!(info.cost_in_ms, 30);
    assert_eq!(info.client_ip, "113.0.0.1");
    let call = c.authorizer_call("POST", "/cgi-bin/openapi/rid/get");
    assert_eq!(call.body, Some(json!({"rid": "rid-123"})));
    c.done();
}

#[tokio::test]
async fn third_party_domains_are_managed_with_the_component_token() {
    let c = Ctx::start().await;
    let client = &c.h.client;

    let server = client
        .modify_wxa_server_domain(
            &c.component,
            &domain::ServerDomainChange {
                action: DomainAction::Add,
                wxa_server_domain: Some("a.example.com;b.example.com".into()),
                is_modify_published_together: Some(false),
            },
        )
        .await
        .unwrap();
    let file = client.get_domain_confirm_file(&c.component).await.unwrap();
    let jump = client
        .modify_wxa_jump_domain(
            &c.component,
            &domain::JumpDomainChange {
                action: DomainAction::Get,
                wxa_jump_h5_domain: None,
                is_modify_published_together: None,
            },
        )
        .await
        .unwrap();

    assert_eq!(
        server.testing_wxa_server_domain,
        "a.example.com;b.example.com"
    );
    assert_eq!(file.file_name, "SyZkSEtXZ0.txt");
    assert_eq!(jump.published_wxa_jump_h5_domain, "h5.example.com");
    let p = "component_access_token";
    let call = c.component_call("POST", "/cgi-bin/component/modify_wxa_server_domain", p);
    assert_eq!(
        call.body,
        Some(
            json!({"action": "add", "wxa_server_domain": "a.example.com;b.example.com", "is_modify_published_together": false})
        )
    );
    let call = c.component_call("POST", "/cgi-bin/component/get_domain_confirmfile", p);
    assert_eq!(call.body, Some(json!({})));
    let call = c.component_call("POST", "/cgi-bin/component/modify_wxa_jump_domain", p);
    assert_eq!(call.body, Some(json!({"action": "get"})));
    c.done();
}

#[tokio::test]
async fn the_privacy_guide_is_set_read_and_its_file_uploaded_as_multipart() {
    let c = Ctx::start().await;
    let client = &c.h.client;
    let setting = privacy::PrivacySettingRequest {
        privacy_ver: Some(2),
        owner_setting: privacy::PrivacyOwnerSetting {
            contact_email: Some("ops@example.com".into()),
            notice_method: "弹窗".into(),
            ..Default::default()
        },
        setting_list: vec![privacy::PrivacyItem {
            privacy_key: "UserInfo".into(),
            privacy_text: "登录".into(),
            privacy_label: None,
        }],
        sdk_privacy_info_list: None,
    };

    client
        .set_privacy_setting(&c.account, &setting)
        .await
        .unwrap();
    let read = client
        .get_privacy_setting(&c.account, Some(1))
        .await
        .unwrap();
    let media_id = client
        .upload_privacy_ext_file(&c.account, "privacy.txt", b"extra terms")
        .await
        .unwrap();

    assert_eq!(read.privacy_list, ["UserInfo", "Location"]);
    assert_eq!(
        read.setting_list[0].privacy_label.as_deref(),
        Some("用户信息")
    );
    assert_eq!(read.owner_setting.notice_method, "弹窗");
    assert_eq!(media_id, "ext-media-1");
    let call = c.authorizer_call("POST", "/cgi-bin/component/setprivacysetting");
    assert_eq!(
        call.body,
        Some(json!({
            "privacy_ver": 2,
            "owner_setting": {"contact_email": "ops@example.com", "notice_method": "弹窗"},
            "setting_list": [{"privacy_key": "UserInfo", "privacy_text": "登录"}],
        }))
    );
    let call = c.authorizer_call("POST", "/cgi-bin/component/getprivacysetting");
    assert_eq!(call.body, Some(json!({"privacy_ver": 1})));
    let call = c.authorizer_call("POST", "/cgi-bin/component/uploadprivacyextfile");
    assert_eq!(call.body, None, "a multipart body is not JSON");
    c.done();
}

#[tokio::test]
async fn open_platform_accounts_are_created_bound_read_and_unbound_for_the_authorizer() {
    let c = Ctx::start().await;
    let client = &c.h.client;

    let open_appid = client.open_create(&c.account, &c.appid).await.unwrap();
    client
        .open_bind(&c.account, &c.appid, &open_appid)
        .await
        .unwrap();
    let bound = client.open_get(&c.account, &c.appid).await.unwrap();
    client
        .open_unbind(&c.account, &c.appid, &open_appid)
        .await
        .unwrap();

    assert_eq!(open_appid, "wxopen0000000001");
    assert_eq!(bound, open_appid);
    let appid = c.appid.as_str();
    for path in ["/cgi-bin/open/create", "/cgi-bin/open/get"] {
        assert_eq!(
            c.authorizer_call("POST", path).body,
            Some(json!({"appid": appid}))
        );
    }
    for path in ["/cgi-bin/open/bind", "/cgi-bin/open/unbind"] {
        assert_eq!(
            c.authorizer_call("POST", path).body,
            Some(json!({"appid": appid, "open_appid": open_appid}))
        );
    }
    c.done();
}

#[tokio::test]
async fn fast_registration_uses_the_component_token_with_the_action_in_the_query() {
    let c = Ctx::start().await;
    let client = &c.h.client;
    let org = register::OrgWeappRegistration {
        name: "Sim Co., Ltd.".into(),
        code: "91440300MA5XXXXXXX".into(),
        code_type: 1,
        legal_persona_wechat: "legal_wx".into(),
        legal_persona_name: "张三".into(),
        component_phone: Some("13800000000".into()),
    };

    client
        .fast_register_org_weapp(&c.component, &org)
        .await
        .unwrap();
    client
        .query_org_weapp(
            &c.component,
            &register::OrgWeappQuery {
                name: org.name.clone(),
                legal_persona_wechat: org.legal_persona_wechat.clone(),
                legal_persona_name: org.legal_persona_name.clone(),
            },
        )
        .await
        .unwrap();
    let task = client
        .fast_register_personal_weapp(
            &c.component,
            &register::PersonalWeappRegistration {
                idname: "李四".into(),
                wxuser: "lisi_wx".into(),
                component_phone: None,
            },
        )
        .await
        .unwrap();
    let status = client
        .query_personal_weapp(&c.component, &task.taskid)
        .await
        .unwrap();

    assert_eq!(task.taskid, "task-1");
    assert!(task.authorize_url.starts_with("https://"));
    assert_eq!(status.status, 1);
    let p = "component_access_token";
    let org_calls = c.h.sim.calls_to("/cgi-bin/component/fastregisterweapp");
    assert_eq!(org_calls.len(), 2);
    assert_eq!(
        query_without_token(&org_calls[0]),
        q(&[("action", "create")])
    );
    assert_eq!(
        org_calls[0].body,
        Some(json!({
            "name": "Sim Co., Ltd.", "code": "91440300MA5XXXXXXX", "code_type": 1,
            "legal_persona_wechat": "legal_wx", "legal_persona_name": "张三",
            "component_phone": "13800000000",
        }))
    );
    assert_eq!(
        query_without_token(&org_calls[1]),
        q(&[("action", "search")])
    );
    assert_eq!(
        org_calls[1].body,
        Some(
            json!({"name": "Sim Co., Ltd.", "legal_persona_wechat": "legal_wx", "legal_persona_name": "张三"})
        )
    );
    c.component_call("POST", "/cgi-bin/component/fastregisterweapp", p);
    let personal = c.h.sim.calls_to("/wxa/component/fastregisterpersonalweapp");
    assert_eq!(
        query_without_token(&personal[0]),
        q(&[("action", "create")])
    );
    assert_eq!(
        personal[0].body,
        Some(json!({"idname": "李四", "wxuser": "lisi_wx"}))
    );
    assert_eq!(query_without_token(&personal[1]), q(&[("action", "query")]));
    assert_eq!(personal[1].body, Some(json!({"taskid": "task-1"})));
    c.component_call("POST", "/wxa/component/fastregisterpersonalweapp", p);
    c.done();
}

#[tokio::test]
async fn a_mini_program_is_registered_by_reusing_an_official_accounts_qualification() {
    let c = Ctx::start().await;
    // `c.account` plays the official account that scanned the fastregisterauth page.
    let ticket = Secret::new("fastregister-ticket");

    let created =
        c.h.client
            .fast_register_by_official_account(&c.account, &ticket)
            .await
            .unwrap();

    assert_eq!(created.appid, "wxnewmp000000001");
    assert_eq!(
        created.authorization_code.expose(),
        "queryauthcode@@@fastregister"
    );
    assert!(created.is_wx_verify_succ && created.is_link_succ);
    let call = c.authorizer_call("POST", "/cgi-bin/account/fastregister");
    assert_eq!(call.body, Some(json!({"ticket": "fastregister-ticket"})));
    c.done();
}

#[tokio::test]
async fn a_beta_mini_program_is_created_with_the_component_token_then_verified_and_renamed_with_its_own()
 {
    let c = Ctx::start().await;
    let client = &c.h.client;
    let verify = beta::BetaVerifyInfo {
        enterprise_name: "Sim Co., Ltd.".into(),
        code: "91440300MA5XXXXXXX".into(),
        code_type: 1,
        legal_persona_wechat: "legal_wx".into(),
        legal_persona_name: "张三".into(),
        legal_persona_idcard: None,
        component_phone: "13800000000".into(),
    };

    let task = client
        .fast_register_beta_weapp(&c.component, "Beta shop", "oUserOpenid")
        .await
        .unwrap();
    client.verify_beta_weapp(&c.account, &verify).await.unwrap();
    client
        .set_beta_weapp_nickname(&c.account, "Real shop")
        .await
        .unwrap();

    assert_eq!(task.unique_id, "beta-unique-1");
    let call = c.component_call(
        "POST",
        "/wxa/component/fastregisterbetaweapp",
        "access_token",
    );
    assert_eq!(
        call.body,
        Some(json!({"name": "Beta shop", "openid": "oUserOpenid"}))
    );
    let call = c.authorizer_call("POST", "/wxa/verifybetaweapp");
    assert_eq!(
        call.body.unwrap()["verify_info"]["enterprise_name"],
        "Sim Co., Ltd."
    );
    let call = c.authorizer_call("POST", "/wxa/setbetaweappnickname");
    assert_eq!(call.body, Some(json!({"name": "Real shop"})));
    c.done();
}

#[tokio::test]
async fn code_templates_are_listed_added_and_deleted_with_the_component_token_as_access_token() {
    let c = Ctx::start().await;
    let client = &c.h.client;

    let drafts = client.get_template_draft_list(&c.component).await.unwrap();
    client
        .add_to_template(&c.component, drafts[0].draft_id, Some(0))
        .await
        .unwrap();
    let templates = client
        .get_template_list(&c.component, Some(0))
        .await
        .unwrap();
    client
        .delete_template(&c.component, templates[0].template_id)
        .await
        .unwrap();

    assert_eq!(drafts[0].user_version, "1.0.0");
    assert_eq!(templates[0].template_id, 3);
    let p = "access_token";
    let call = c.component_call("GET", "/wxa/gettemplatedraftlist", p);
    assert_eq!(call.body, None);
    let call = c.component_call("POST", "/wxa/addtotemplate", p);
    assert_eq!(call.body, Some(json!({"draft_id": 0, "template_type": 0})));
    let call = c.component_call("GET", "/wxa/gettemplatelist", p);
    assert_eq!(query_without_token(&call), q(&[("template_type", "0")]));
    let call = c.component_call("POST", "/wxa/deletetemplate", p);
    assert_eq!(call.body, Some(json!({"template_id": 3})));
    c.done();
}

#[tokio::test]
async fn basic_info_settings_go_out_with_the_authorizer_token_and_their_documented_bodies() {
    let c = Ctx::start().await;
    let client = &c.h.client;
    let t = &c.account;

    let info = client.get_account_basic_info(t).await.unwrap();
    let have = client.open_have(t).await.unwrap();
    let domains = client
        .modify_domain(
            t,
            &basic_info::ServerDomainsChange {
                action: DomainAction::Set,
                requestdomain: vec!["https://api.example.com".into()],
                wsrequestdomain: vec![],
                uploaddomain: vec![],
                downloaddomain: vec![],
                udpdomain: vec![],
                tcpdomain: vec![],
            },
        )
        .await
        .unwrap();
    let webview = client
        .set_webview_domain(t, DomainAction::Add, &["https://h5.example.com".into()])
        .await
        .unwrap();
    let renamed = client
        .set_nickname(
            t,
            &basic_info::NicknameChange {
                nick_name: "Sim shop".into(),
                license: Some("media-license".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let check = client
        .check_wx_verify_nickname(t, "Sim shop")
        .await
        .unwrap();
    let audit = client.query_nickname(t, 8888).await.unwrap();
    client
        .modify_head_image(
            t,
            &basic_info::HeadImageChange {
                head_img_media_id: "media-avatar".into(),
                x1: 0.0,
                y1: 0.0,
                x2: 1.0,
                y2: 1.0,
            },
        )
        .await
        .unwrap();
    client.modify_signature(t, "A better shop").await.unwrap();
    let search = client.get_wxa_search_status(t).await.unwrap();
    client.change_wxa_search_status(t, 0).await.unwrap();
    let fetch = client.fetch_data_setting_get(t).await.unwrap();
    client
        .fetch_data_setting_set_pre_fetch(
            t,
            &basic_info::PreFetchSetting {
                is_pre_fetch_open: true,
                pre_fetch_type: 0,
                pre_fetch_url: Some("https://prefetch.example.com".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    client
        .fetch_data_setting_set_period_fetch(
            t,
            &basic_info::PeriodFetchSetting {
                is_period_fetch_open: false,
                ..Default::default()
            },
        )
        .await
        .unwrap();

    assert_eq!(info.account_type, 3);
    assert_eq!(info.principal_name, "Sim Co., Ltd.");
    assert_eq!(info.signature_info.modify_quota, 5);
    assert_eq!(info.nickname_info.nickname.as_deref(), Some("Sim shop"));
    assert!(have);
    assert_eq!(domains.requestdomain, ["https://api.example.com"]);
    assert_eq!(webview.webviewdomain, ["https://h5.example.com"]);
    assert_eq!(renamed.audit_id, Some(8888));
    assert!(check.hit_condition);
    assert_eq!(audit.audit_stat, 3);
    assert_eq!(search, 1);
    assert!(fetch.is_pre_fetch_open);
    assert_eq!(fetch.period_function_name, "login");

    assert_eq!(
        c.authorizer_call("GET", "/cgi-bin/account/getaccountbasicinfo")
            .body,
        None
    );
    assert_eq!(
        c.authorizer_call("POST", "/cgi-bin/open/have").body,
        Some(json!({}))
    );
    assert_eq!(
        c.authorizer_call("POST", "/wxa/modify_domain").body,
        Some(json!({"action": "set", "requestdomain": ["https://api.example.com"]}))
    );
    assert_eq!(
        c.authorizer_call("POST", "/wxa/setwebviewdomain").body,
        Some(json!({"action": "add", "webviewdomain": ["https://h5.example.com"]}))
    );
    assert_eq!(
        c.authorizer_call("POST", "/wxa/setnickname").body,
        Some(json!({"nick_name": "Sim shop", "license": "media-license"}))
    );
    assert_eq!(
        c.authorizer_call("POST", "/cgi-bin/wxverify/checkwxverifynickname")
            .body,
        Some(json!({"nick_name": "Sim shop"}))
    );
    assert_eq!(
        c.authorizer_call("POST", "/wxa/api_wxa_querynickname").body,
        Some(json!({"audit_id": 8888}))
    );
    assert_eq!(
        c.authorizer_call("POST", "/cgi-bin/account/modifyheadimage")
            .body,
        Some(
            json!({"head_img_media_id": "media-avatar", "x1": 0.0, "y1": 0.0, "x2": 1.0, "y2": 1.0})
        )
    );
    assert_eq!(
        c.authorizer_call("POST", "/cgi-bin/account/modifysignature")
            .body,
        Some(json!({"signature": "A better shop"}))
    );
    c.authorizer_call("GET", "/wxa/getwxasearchstatus");
    assert_eq!(
        c.authorizer_call("POST", "/wxa/changewxasearchstatus").body,
        Some(json!({"status": 0}))
    );
    let fetches: Vec<Option<Value>> =
        c.h.sim
            .calls_to("/wxa/fetchdatasetting")
            .into_iter()
            .map(|call| call.body)
            .collect();
    assert_eq!(
        fetches,
        [
            Some(json!({"action": "get"})),
            Some(
                json!({"action": "set_pre_fetch", "is_pre_fetch_open": true, "pre_fetch_type": 0, "pre_fetch_url": "https://prefetch.example.com"})
            ),
            Some(
                json!({"action": "set_period_fetch", "is_period_fetch_open": false, "period_fetch_type": 0})
            ),
        ]
    );
    c.authorizer_call("POST", "/wxa/fetchdatasetting");
    c.done();
}

#[tokio::test]
async fn the_unlimited_wxacode_comes_back_as_image_bytes_with_its_content_type() {
    let c = Ctx::start().await;
    let request = wxacode::WxaCodeUnlimitRequest {
        scene: "id=42".into(),
        page: Some("pages/index/index".into()),
        check_path: Some(false),
        env_version: Some("trial".into()),
        width: Some(430),
        ..Default::default()
    };

    let image =
        c.h.client
            .get_wxacode_unlimit(&c.account, &request)
            .await
            .unwrap();

    assert_eq!(image.body, JPEG);
    assert_eq!(image.content_type.as_deref(), Some("image/jpeg"));
    let call = c.authorizer_call("POST", "/wxa/getwxacodeunlimit");
    assert_eq!(
        call.body,
        Some(
            json!({"scene": "id=42", "page": "pages/index/index", "check_path": false, "env_version": "trial", "width": 430})
        )
    );
    c.done();
}

#[tokio::test]
async fn categories_are_read_added_modified_and_deleted_for_the_authorizer() {
    let c = Ctx::start().await;
    let client = &c.h.client;
    let t = &c.account;
    let change = category::CategoryChange {
        first: 1,
        second: 7,
        certicates: vec![category::Certificate {
            key: "快递业务经营许可证".into(),
            value: "media-licence".into(),
        }],
    };

    let all = client.get_all_categories(t).await.unwrap();
    let set = client.get_category(t).await.unwrap();
    let by_type = client.get_categories_by_type(t, 0).await.unwrap();
    client
        .add_category(t, std::slice::from_ref(&change))
        .await
        .unwrap();
    client.modify_category(t, &change).await.unwrap();
    client.delete_category(t, 1, 7).await.unwrap();
    let audit = client.get_audit_category(t).await.unwrap();

    assert_eq!(all.categories.len(), 3);
    assert_eq!(all.categories[2].father, 1);
    assert!(all.categories[2].qualify.get("exter_list").is_some());
    assert_eq!(set.categories[0].second_name, "快递、物流");
    assert_eq!(set.quota, 4);
    assert_eq!(by_type.categories[0].children, [7]);
    assert_eq!(audit[0].first_class, "工具");
    c.authorizer_call("GET", "/cgi-bin/wxopen/getallcategories");
    c.authorizer_call("GET", "/cgi-bin/wxopen/getcategory");
    assert_eq!(
        c.authorizer_call("POST", "/cgi-bin/wxopen/getcategoriesbytype")
            .body,
        Some(json!({"verify_type": 0}))
    );
    let certificate = json!({"first": 1, "second": 7, "certicates": [{"key": "快递业务经营许可证", "value": "media-licence"}]});
    assert_eq!(
        c.authorizer_call("POST", "/cgi-bin/wxopen/addcategory")
            .body,
        Some(json!({"categories": [certificate]}))
    );
    assert_eq!(
        c.authorizer_call("POST", "/cgi-bin/wxopen/modifycategory")
            .body,
        Some(certificate)
    );
    assert_eq!(
        c.authorizer_call("POST", "/cgi-bin/wxopen/deletecategory")
            .body,
        Some(json!({"first": 1, "second": 7}))
    );
    c.authorizer_call("GET", "/wxa/get_category");
    c.done();
}

#[tokio::test]
async fn testers_are_bound_listed_and_unbound() {
    let c = Ctx::start().await;
    let client = &c.h.client;

    let userstr = client.bind_tester(&c.account, "tester_wx").await.unwrap();
    let testers = client.get_testers(&c.account).await.unwrap();
    client
        .unbind_tester(&c.account, &tester::TesterRef::Userstr(userstr.clone()))
        .await
        .unwrap();

    assert_eq!(userstr, "userstr-1");
    assert_eq!(testers, ["userstr-1", "userstr-2"]);
    assert_eq!(
        c.authorizer_call("POST", "/wxa/bind_tester").body,
        Some(json!({"wechatid": "tester_wx"}))
    );
    assert_eq!(
        c.authorizer_call("POST", "/wxa/memberauth").body,
        Some(json!({"action": "get_experiencer"}))
    );
    assert_eq!(
        c.authorizer_call("POST", "/wxa/unbind_tester").body,
        Some(json!({"userstr": "userstr-1"}))
    );
    c.done();
}

#[tokio::test]
async fn code_is_committed_audited_released_and_rolled_back_with_the_authorizer_token() {
    // A quota of 20 audits and 2 expedites: after one of each, 19 and 1 are left.
    let mut config = SimConfig::random();
    config.audit_quota = 20;
    config.speedup_quota = 2;
    let c = Ctx::start_with(config).await;
    let client = &c.h.client;
    let t = &c.account;
    let audit = code::SubmitAuditRequest {
        item_list: vec![code::AuditItem {
            address: Some("pages/index/index".into()),
            first_class: "工具".into(),
            second_class: "备忘录".into(),
            first_id: 1,
            second_id: 2,
            ..Default::default()
        }],
        version_desc: Some("first version".into()),
        privacy_api_not_use: Some(true),
        order_path: Some("pages/orders/index".into()),
        ..Default::default()
    };

    client
        .commit_code(
            t,
            &code::CommitRequest {
                template_id: "3".into(),
                ext_json: r#"{"extAppid":"wxabc"}"#.into(),
                user_version: "1.0.0".into(),
                user_desc: "first".into(),
            },
        )
        .await
        .unwrap();
    let pages = client.get_code_page(t).await.unwrap();
    let qrcode = client
        .get_trial_qrcode(t, Some("pages/index/index?x=1"))
        .await
        .unwrap();
    // The privacy check of the committed code runs for a minute of sim time.
    c.h.clock.advance(60);
    let auditid = client.submit_audit(t, &audit).await.unwrap();
    let status = client.get_audit_status(t, auditid).await.unwrap();
    let latest = client.get_latest_audit_status(t).await.unwrap();
    // Expedited while under audit, then withdrawn.
    client.speedup_audit(t, auditid).await.unwrap();
    client.undo_code_audit(t).await.unwrap();
    let quota = client.query_quota(t).await.unwrap();
    // The withdrawn audit cannot be released: a new one is submitted and approved first.
    assert_eq!(
        client.release(t).await.unwrap_err().errcode(),
        Some(85020),
        "a withdrawn audit is not released"
    );
    c.h.sim.submit_audit_elsewhere(c.appid.as_str());
    c.h.sim.decide_audit(c.appid.as_str(), 0);
    client.release(t).await.unwrap();
    assert_eq!(
        client.release(t).await.unwrap_err().errcode(),
        Some(85052),
        "a released version is not released again"
    );
    let history = client.get_revert_history(t).await.unwrap();
    client
        .revert_code_release(t, Some(history[1].app_version))
        .await
        .unwrap();
    client
        .gray_release(
            t,
            &code::GrayReleaseRequest {
                gray_percentage: 8,
                support_debuger_first: Some(true),
                support_experiencer_first: None,
            },
        )
        .await
        .unwrap();
    let plan = client.get_gray_release_plan(t).await.unwrap();
    client.revert_gray_release(t).await.unwrap();
    client
        .change_visit_status(t, code::VisitAction::Close)
        .await
        .unwrap();
    let support = client.get_weapp_support_version(t).await.unwrap();
    client.set_weapp_support_version(t, "2.21.0").await.unwrap();

    assert_eq!(pages, ["index", "page/list", "page/detail"]);
    assert_eq!(
        (qrcode.body.as_slice(), qrcode.content_type.as_deref()),
        (JPEG, Some("image/jpeg"))
    );
    assert_eq!(auditid, 1234567);
    // Asked while under audit: status 2, no reason yet.
    assert_eq!((status.status, status.reason.as_str()), (2, ""));
    assert_eq!((latest.auditid, latest.status), (1234567, 2));
    assert_eq!((quota.rest, quota.limit, quota.speedup_rest), (19, 20, 1));
    assert_eq!(history.len(), 2);
    assert_eq!((plan.status, plan.gray_percentage), (1, 8));
    assert!(plan.support_debuger_first);
    assert_eq!(support.now_version, "2.21.0");
    assert_eq!(support.uv_info.items[1].percentage, 97.5);

    assert_eq!(
        c.authorizer_call("POST", "/wxa/commit").body,
        Some(
            json!({"template_id": "3", "ext_json": "{\"extAppid\":\"wxabc\"}", "user_version": "1.0.0", "user_desc": "first"})
        )
    );
    c.authorizer_call("GET", "/wxa/get_page");
    let call = c.authorizer_call("GET", "/wxa/get_qrcode");
    assert_eq!(
        query_without_token(&call),
        q(&[("path", "pages/index/index?x=1")])
    );
    assert_eq!(
        c.authorizer_call("POST", "/wxa/submit_audit").body,
        Some(json!({
            "item_list": [{"address": "pages/index/index", "first_class": "工具", "second_class": "备忘录", "first_id": 1, "second_id": 2}],
            "version_desc": "first version",
            "privacy_api_not_use": true,
            "order_path": "pages/orders/index",
        }))
    );
    assert_eq!(
        c.authorizer_call("POST", "/wxa/get_auditstatus").body,
        Some(json!({"auditid": 1234567}))
    );
    c.authorizer_call("GET", "/wxa/get_latest_auditstatus");
    c.authorizer_call("GET", "/wxa/undocodeaudit");
    assert_eq!(
        c.authorizer_call("POST", "/wxa/speedupaudit").body,
        Some(json!({"auditid": 1234567}))
    );
    c.authorizer_call("GET", "/wxa/queryquota");
    assert_eq!(
        c.authorizer_call("POST", "/wxa/release").body,
        Some(json!({}))
    );
    let reverts = c.h.sim.calls_to("/wxa/revertcoderelease");
    assert_eq!(
        query_without_token(&reverts[0]),
        q(&[("action", "get_history_version")])
    );
    assert_eq!(query_without_token(&reverts[1]), q(&[("app_version", "2")]));
    c.authorizer_call("GET", "/wxa/revertcoderelease");
    assert_eq!(
        c.authorizer_call("POST", "/wxa/grayrelease").body,
        Some(json!({"gray_percentage": 8, "support_debuger_first": true}))
    );
    c.authorizer_call("GET", "/wxa/getgrayreleaseplan");
    c.authorizer_call("GET", "/wxa/revertgrayrelease");
    assert_eq!(
        c.authorizer_call("POST", "/wxa/change_visitstatus").body,
        Some(json!({"action": "close"}))
    );
    c.authorizer_call("POST", "/cgi-bin/wxopen/getweappsupportversion");
    assert_eq!(
        c.authorizer_call("POST", "/cgi-bin/wxopen/setweappsupportversion")
            .body,
        Some(json!({"version": "2.21.0"}))
    );
    c.done();
}

#[tokio::test]
async fn violations_and_their_appeals_are_read_for_the_authorizer() {
    let c = Ctx::start().await;
    let client = &c.h.client;

    let records = client
        .get_illegal_records(&c.account, Some(1_662_000_000), Some(1_663_000_000))
        .await
        .unwrap();
    let appeals = client
        .get_appeal_records(&c.account, &records[0].illegal_record_id)
        .await
        .unwrap();

    assert_eq!(records[0].illegal_record_id, "record-1");
    assert_eq!(records[0].rule_name, "运营规范");
    assert_eq!(appeals[0].appeal_status, 2);
    assert!(appeals[0].materials.is_array());
    assert_eq!(
        c.authorizer_call("POST", "/wxa/getillegalrecords").body,
        Some(json!({"start_time": 1_662_000_000, "end_time": 1_663_000_000}))
    );
    assert_eq!(
        c.authorizer_call("POST", "/wxa/getappealrecords").body,
        Some(json!({"illegal_record_id": "record-1"}))
    );
    c.done();
}

#[tokio::test]
async fn component_jscode2session_sends_the_component_token_and_both_appids_and_the_key_decrypts_user_data()
 {
    let c = Ctx::start().await;

    let session =
        c.h.client
            .jscode2session(&c.component, &c.appid, &Secret::new("js-code-1"))
            .await
            .unwrap();

    assert_eq!(session.openid, "oUser0000000000000000000001");
    assert_eq!(
        session.unionid.as_deref(),
        Some("oUnion000000000000000000001")
    );
    assert!(!format!("{session:?}").contains("tiihtNczf5v6AKRyjwEUhQ=="));
    let call = c.component_call(
        "GET",
        "/sns/component/jscode2session",
        "component_access_token",
    );
    assert_eq!(
        query_without_token(&call),
        q(&[
            ("appid", c.appid.as_str()),
            ("js_code", "js-code-1"),
            ("grant_type", "authorization_code"),
            ("component_appid", &c.h.sim.config().component_appid),
        ])
    );
    // The sample's session key is WeChat's demo key: it opens the demo's encrypted data.
    let data = wxcomponent::wechat::user_data::decrypt_user_data(
        &session.session_key,
        DEMO_ENCRYPTED,
        "r7BXXKkLb8qrSNn05n0qiA==",
        "wx4f4bc4dec97d474b",
    )
    .unwrap();
    assert_eq!(data["nickName"], "Band");
    c.done();
}

const DEMO_ENCRYPTED: &str = concat!(
    "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+",
    "3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6",
    "/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs",
    "8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns",
    "/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG",
    "20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew=="
);

#[tokio::test]
async fn subscribe_message_templates_are_browsed_added_listed_deleted_and_a_message_sent() {
    let c = Ctx::start().await;
    let client = &c.h.client;
    let t = &c.account;

    let categories = client.get_subscribe_category(t).await.unwrap();
    let titles = client
        .get_pub_template_titles(t, &[616, 627], 0, 30)
        .await
        .unwrap();
    let keywords = client.get_pub_template_keywords(t, "99").await.unwrap();
    let id = client
        .add_subscribe_template(t, "99", &[1, 2], Some("payment notice"))
        .await
        .unwrap();
    let mine = client.get_subscribe_templates(t).await.unwrap();
    client
        .send_subscribe_message(
            t,
            &subscribe::SubscribeMessage {
                touser: "oUser".into(),
                template_id: id.clone(),
                page: Some("pages/order/index".into()),
                data: [(
                    "thing1".to_owned(),
                    subscribe::DataValue {
                        value: "Coffee".into(),
                    },
                )]
                .into(),
                miniprogram_state: Some("trial".into()),
                lang: None,
            },
        )
        .await
        .unwrap();
    client.delete_subscribe_template(t, &id).await.unwrap();

    assert_eq!(categories[1].name, "旅游服务");
    assert_eq!(
        (titles.count, titles.data[0].tid, titles.data[0].kind),
        (1, 99, 2)
    );
    assert_eq!(titles.data[0].category_id, "616");
    assert_eq!(keywords.data[1].rule, "amount");
    assert_eq!(id, "9Aw5ZV1j9xdWTFEkqCpZ7mIBbSC34khK55OtzUPl0rU");
    assert_eq!(mine[0].pri_tmpl_id, id);
    c.authorizer_call("GET", "/wxaapi/newtmpl/getcategory");
    let call = c.authorizer_call("GET", "/wxaapi/newtmpl/getpubtemplatetitles");
    assert_eq!(
        query_without_token(&call),
        q(&[("ids", "616,627"), ("start", "0"), ("limit", "30")])
    );
    let call = c.authorizer_call("GET", "/wxaapi/newtmpl/getpubtemplatekeywords");
    assert_eq!(query_without_token(&call), q(&[("tid", "99")]));
    assert_eq!(
        c.authorizer_call("POST", "/wxaapi/newtmpl/addtemplate")
            .body,
        Some(json!({"tid": "99", "kidList": [1, 2], "sceneDesc": "payment notice"}))
    );
    c.authorizer_call("GET", "/wxaapi/newtmpl/gettemplate");
    assert_eq!(
        c.authorizer_call("POST", "/cgi-bin/message/subscribe/send")
            .body,
        Some(json!({
            "touser": "oUser", "template_id": id, "page": "pages/order/index",
            "data": {"thing1": {"value": "Coffee"}}, "miniprogram_state": "trial",
        }))
    );
    assert_eq!(
        c.authorizer_call("POST", "/wxaapi/newtmpl/deltemplate")
            .body,
        Some(json!({"priTmplId": id}))
    );
    c.done();
}

#[tokio::test]
async fn the_paid_unionid_is_asked_by_transaction_or_by_merchant_order() {
    let c = Ctx::start().await;
    let client = &c.h.client;

    let by_transaction = client
        .get_paid_unionid(
            &c.account,
            "oUser",
            &unionid::PaidOrder::Transaction {
                transaction_id: "4200000001".into(),
            },
        )
        .await
        .unwrap();
    let by_order = client
        .get_paid_unionid(
            &c.account,
            "oUser",
            &unionid::PaidOrder::MerchantOrder {
                mch_id: "1900000109".into(),
                out_trade_no: "order-1".into(),
            },
        )
        .await
        .unwrap();

    assert_eq!(by_transaction, "oUnion000000000000000000001");
    assert_eq!(by_order, by_transaction);
    let calls = c.h.sim.calls_to("/wxa/getpaidunionid");
    assert_eq!(
        query_without_token(&calls[0]),
        q(&[("openid", "oUser"), ("transaction_id", "4200000001")])
    );
    assert_eq!(
        query_without_token(&calls[1]),
        q(&[
            ("openid", "oUser"),
            ("mch_id", "1900000109"),
            ("out_trade_no", "order-1")
        ])
    );
    c.authorizer_call("GET", "/wxa/getpaidunionid");
    c.done();
}

#[tokio::test]
async fn media_is_uploaded_as_multipart_and_downloaded_as_bytes_with_its_content_type() {
    let c = Ctx::start().await;
    let client = &c.h.client;

    let uploaded = client
        .upload_temp_media(
            &c.account,
            media::MediaType::Image,
            &media::MediaFile {
                filename: "avatar.jpg",
                content_type: "image/jpeg",
                bytes: JPEG,
            },
        )
        .await
        .unwrap();
    let temp = client
        .get_temp_media(&c.account, &uploaded.media_id)
        .await
        .unwrap();
    let permanent = client.get_material(&c.account, "material-1").await.unwrap();

    assert_eq!(uploaded.kind, media::MediaType::Image);
    assert_eq!(uploaded.media_id, "media-temp-1");
    assert_eq!(uploaded.created_at, 1_700_000_000);
    for file in [&temp, &permanent] {
        assert_eq!(file.body, JPEG);
        assert_eq!(file.content_type.as_deref(), Some("image/jpeg"));
    }
    let call = c.authorizer_call("POST", "/cgi-bin/media/upload");
    assert_eq!(query_without_token(&call), q(&[("type", "image")]));
    let call = c.authorizer_call("GET", "/cgi-bin/media/get");
    assert_eq!(
        query_without_token(&call),
        q(&[("media_id", "media-temp-1")])
    );
    assert_eq!(
        c.authorizer_call("POST", "/cgi-bin/material/get_material")
            .body,
        Some(json!({"media_id": "material-1"}))
    );
    c.done();
}

#[tokio::test]
async fn plugin_actions_travel_in_the_action_field() {
    let c = Ctx::start().await;
    let client = &c.h.client;

    let listed = client
        .plugin(&c.account, &plugin::PluginAction::List)
        .await
        .unwrap();
    client
        .plugin(
            &c.account,
            &plugin::PluginAction::Apply {
                plugin_appid: "wxplugin00000001".into(),
                reason: Some("maps".into()),
            },
        )
        .await
        .unwrap();
    client
        .plugin(
            &c.account,
            &plugin::PluginAction::Unbind {
                plugin_appid: "wxplugin00000001".into(),
            },
        )
        .await
        .unwrap();

    assert_eq!(listed.plugin_list[0].appid, "wxplugin00000001");
    assert_eq!(listed.plugin_list[0].status, 2);
    let bodies: Vec<Option<Value>> =
        c.h.sim
            .calls_to("/wxa/plugin")
            .into_iter()
            .map(|call| call.body)
            .collect();
    assert_eq!(
        bodies,
        [
            Some(json!({"action": "list"})),
            Some(json!({"action": "apply", "plugin_appid": "wxplugin00000001", "reason": "maps"})),
            Some(json!({"action": "unbind", "plugin_appid": "wxplugin00000001"})),
        ]
    );
    c.authorizer_call("POST", "/wxa/plugin");
    c.done();
}

// ----- errors: missing fields, error bodies on binary endpoints, token checks -----

#[tokio::test]
async fn a_missing_required_field_is_a_typed_api_error_with_the_documented_errcode() {
    let c = Ctx::start().await;
    let client = &c.h.client;

    let empty_commit = client
        .commit_code(
            &c.account,
            &code::CommitRequest {
                template_id: "3".into(),
                ext_json: "{}".into(),
                user_version: String::new(),
                user_desc: "d".into(),
            },
        )
        .await
        .unwrap_err();
    let no_code = client
        .jscode2session(&c.component, &c.appid, &Secret::new(""))
        .await
        .unwrap_err();
    let empty_file = client
        .upload_temp_media(
            &c.account,
            media::MediaType::Image,
            &media::MediaFile {
                filename: "empty.jpg",
                content_type: "image/jpeg",
                bytes: b"",
            },
        )
        .await
        .unwrap_err();

    assert!(
        matches!(
            &empty_commit,
            WechatError::Api {
                path: "/wxa/commit",
                errcode: 47001,
                ..
            }
        ),
        "{empty_commit:?}"
    );
    assert_eq!(no_code.errcode(), Some(41008));
    assert_eq!(empty_file.errcode(), Some(41005));
    // Not retried: a client error is final.
    assert_eq!(c.h.sim.call_count("/wxa/commit"), 1);
    c.done();
}

#[tokio::test]
async fn a_binary_endpoint_answering_an_error_body_is_an_error_not_an_image() {
    let c = Ctx::start().await;
    let client = &c.h.client;

    let no_scene = client
        .get_wxacode_unlimit(&c.account, &wxacode::WxaCodeUnlimitRequest::default())
        .await
        .unwrap_err();
    let no_media = client.get_temp_media(&c.account, "").await.unwrap_err();
    c.h.sim.inject(
        "/wxa/get_qrcode",
        Fault::Errcode { errcode: 85013 },
        Times::Next(1),
    );
    let faulted = client.get_trial_qrcode(&c.account, None).await.unwrap_err();

    assert_eq!(no_scene.errcode(), Some(47001));
    assert_eq!(no_media.errcode(), Some(41006));
    assert!(matches!(
        faulted,
        WechatError::Api {
            path: "/wxa/get_qrcode",
            errcode: 85013,
            ..
        }
    ));
    c.done();
}

#[tokio::test]
async fn the_sim_refuses_a_token_of_the_wrong_kind_an_expired_one_and_a_revoked_accounts() {
    let c = Ctx::start().await;
    let http = reqwest::Client::new();
    let base = c.h.sim.base_url();
    let errcode = |v: Value| v["errcode"].as_i64();
    let post = |path: &str, token_param: &str, token: &str| {
        let mut url = base.join(path.trim_start_matches('/')).unwrap();
        url.query_pairs_mut().append_pair(token_param, token);
        http.post(url).json(&json!({"action": "get"})).send()
    };

    // The component token where an authorizer token belongs, and the reverse.
    let component = c.component.secret().expose();
    let account = c.account.secret().expose();
    let wrong_kind = post("/wxa/modify_domain", "access_token", component)
        .await
        .unwrap();
    let reverse = post(
        "/cgi-bin/component/modify_wxa_server_domain",
        "component_access_token",
        account,
    )
    .await
    .unwrap();
    let missing = post("/wxa/modify_domain", "other", account).await.unwrap();
    assert_eq!(errcode(wrong_kind.json().await.unwrap()), Some(40001));
    assert_eq!(errcode(reverse.json().await.unwrap()), Some(40001));
    assert_eq!(errcode(missing.json().await.unwrap()), Some(41001));

    c.h.clock.advance(7200);
    let expired = c.h.client.open_have(&c.account).await.unwrap_err();
    assert_eq!(expired.errcode(), Some(42001));
    assert!(expired.is_token_invalid());

    let other = random_appid();
    let grant = c.h.sim.add_authorizer(&other);
    c.h.sim.revoke(&other);
    let revoked = c.h.client.open_have(&grant.token()).await.unwrap_err();
    assert_eq!(revoked.errcode(), Some(40001));
    c.done();
}

#[tokio::test]
async fn an_unknown_action_on_a_shared_path_is_refused_and_an_unknown_path_stays_unmatched() {
    let c = Ctx::start().await;
    let http = reqwest::Client::new();
    let mut url =
        c.h.sim
            .base_url()
            .join("cgi-bin/component/fastregisterweapp")
            .unwrap();
    url.query_pairs_mut()
        .append_pair("action", "bogus")
        .append_pair("component_access_token", c.component.secret().expose());

    let answer: Value = http
        .post(url)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["errcode"], 40097);
    assert!(c.h.sim.unmatched().is_empty());

    let unknown = c.h.sim.base_url().join("wxa/not_an_endpoint").unwrap();
    let _ = http.post(unknown).json(&json!({})).send().await.unwrap();
    assert_eq!(c.h.sim.unmatched().len(), 1);
}

// ----- the coverage table against the simulator -----

fn same_selector(a: &Selector, b: &catalog::Selector) -> bool {
    match (a, b) {
        (Selector::None, catalog::Selector::None) => true,
        (Selector::Query(n, v), catalog::Selector::Query(m, w))
        | (Selector::Body(n, v), catalog::Selector::Body(m, w)) => n == m && v == w,
        _ => false,
    }
}

fn same_token(a: TokenKind, b: catalog::Token) -> bool {
    matches!(
        (a, b),
        (TokenKind::Component, catalog::Token::Component)
            | (TokenKind::Authorizer, catalog::Token::Authorizer)
            | (TokenKind::None, catalog::Token::None)
    )
}

#[tokio::test]
async fn every_catalogue_endpoint_has_one_coverage_row_and_every_client_row_is_served_by_the_sim() {
    let c = Ctx::start().await;
    let calls: Vec<_> = COVERAGE
        .iter()
        .filter_map(|row| match &row.covered {
            Covered::Client { method, call } => Some((*method, call)),
            _ => None,
        })
        .collect();

    for entry in CATALOG {
        let rows: Vec<_> = calls
            .iter()
            .filter(|(_, call)| {
                call.http.as_str() == entry.method
                    && call.path == entry.path
                    && same_selector(&call.selector, &entry.selector)
            })
            .collect();
        assert_eq!(
            rows.len(),
            1,
            "{} {} {:?}",
            entry.method,
            entry.path,
            entry.selector
        );
        assert!(
            same_token(rows[0].1.token, entry.token),
            "token of {}",
            entry.path
        );
    }

    let http = reqwest::Client::new();
    for (method, call) in &calls {
        let in_catalog = CATALOG.iter().any(|e| {
            e.method == call.http.as_str()
                && e.path == call.path
                && same_selector(&call.selector, &e.selector)
        });
        if in_catalog {
            continue;
        }
        // Not catalogued: one of the sim's hand-written component endpoints must answer it.
        let url =
            c.h.sim
                .base_url()
                .join(call.path.trim_start_matches('/'))
                .unwrap();
        let request = match call.http {
            HttpMethod::Get => http.get(url),
            HttpMethod::Post => http.post(url).json(&json!({})),
        };
        request.send().await.unwrap();
        assert!(
            c.h.sim.unmatched().is_empty(),
            "{method}: {} is not served",
            call.path
        );
    }
}

#[test]
fn the_coverage_table_in_the_docs_matches_the_code() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(coverage::COVERAGE_DOC),
    )
    .unwrap();
    assert_eq!(
        coverage::generated_part(&doc),
        Some(coverage::coverage_markdown().as_str())
    );
}
