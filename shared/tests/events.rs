//! Typed push events: every known kind parses from its documented shape, unknown kinds are kept,
//! hostile or broken XML gets a typed error, and nothing secret leaks into keys, errors or Debug.

use std::error::Error as _;

use proptest::prelude::*;
use wxcomponent::event::{
    AuthorizerMessage, ComponentEvent, ComponentEventKind, EventError, MessageKind, text_reply_xml,
};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

fn component(name: &str) -> ComponentEvent {
    ComponentEvent::parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn message(name: &str) -> AuthorizerMessage {
    AuthorizerMessage::parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const COMPONENT_FIXTURES: &[&str] = &[
    "component_verify_ticket.xml",
    "authorized.xml",
    "updateauthorized.xml",
    "unauthorized.xml",
    "notify_third_fasteregister.xml",
    "notify_third_fasteregister_failed.xml",
    "notify_third_fasteregister_personal.xml",
    "notify_third_fastregisterbetaapp.xml",
    "notify_third_fastverifybetaapp.xml",
    "unknown_notify_3rd_wxa_auth.xml",
    "unknown_notify_apply_icpfiling_result.xml",
];

const MESSAGE_FIXTURES: &[&str] = &[
    "text.xml",
    "text_query_auth_code.xml",
    "weapp_audit_success.xml",
    "weapp_audit_fail.xml",
    "weapp_audit_delay.xml",
    "wxa_nickname_audit.xml",
    "unknown_event_wxa_privacy_apply.xml",
    "unknown_event_subscribe.xml",
    "unknown_location.xml",
];

/// Every ticket and auth code that appears in the fixtures (the distinctive part of each).
const SECRETS: &[&str] = &[
    "Vx2SQlpBUm8kYxSEs3pJ0hQb9dZ5vV1nQgQ-TESTTICKET",
    "AUTHCODE-authorized-0001",
    "PREAUTH-authorized-0001",
    "AUTHCODE-update-0002",
    "PREAUTH-update-0002",
    "AUTHCODE-fastregister-0003",
    "AUTHCODE-personal-0004",
    "SECRET-IN-CONTENT-0006",
];

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} contains a secret: {text}");
    }
}

/// The error's message and every source's, as a log line with the full chain would show them.
fn full_chain(e: &EventError) -> String {
    let mut out = format!("{e} / {e:?}");
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(&format!(" / {s}"));
        source = s.source();
    }
    out
}

// ---------------------------------------------------------------- component events

#[test]
fn verify_ticket_push_gives_the_platform_appid_time_and_ticket() {
    let event = component("component_verify_ticket.xml");

    assert_eq!(event.component_appid.as_str(), "wx3d5d4b6ce7a1f001");
    assert_eq!(event.create_time, 1_413_192_605);
    assert_eq!(event.info_type(), "component_verify_ticket");
    let ComponentEventKind::VerifyTicket { ticket } = &event.kind else {
        panic!("not a ticket: {event:?}");
    };
    assert_eq!(
        ticket.expose(),
        "ticket@@@Vx2SQlpBUm8kYxSEs3pJ0hQb9dZ5vV1nQgQ-TESTTICKET"
    );
}

#[test]
fn authorized_push_gives_authorizer_code_expiry_and_pre_auth_code() {
    let event = component("authorized.xml");

    assert_eq!(event.create_time, 1_413_192_760);
    let ComponentEventKind::Authorized(auth) = &event.kind else {
        panic!("not authorized: {event:?}");
    };
    assert_eq!(auth.authorizer_appid.as_str(), "wxd101a85aa106f53e");
    assert_eq!(
        auth.authorization_code.expose(),
        "queryauthcode@@@AUTHCODE-authorized-0001"
    );
    assert_eq!(auth.authorization_code_expires_at, 1_413_196_360);
    assert_eq!(
        auth.pre_auth_code.as_ref().map(|c| c.expose()),
        Some("preauthcode@@@PREAUTH-authorized-0001")
    );
}

#[test]
fn updateauthorized_push_in_plain_text_with_padded_and_cdata_numbers_parses() {
    let event = component("updateauthorized.xml");

    assert_eq!(event.info_type(), "updateauthorized");
    assert_eq!(event.create_time, 1_413_192_800);
    let ComponentEventKind::UpdateAuthorized(auth) = &event.kind else {
        panic!("not updateauthorized: {event:?}");
    };
    assert_eq!(auth.authorizer_appid.as_str(), "wxc39235c15087f6f3");
    assert_eq!(
        auth.authorization_code.expose(),
        "queryauthcode@@@AUTHCODE-update-0002"
    );
    assert_eq!(auth.authorization_code_expires_at, 1_413_196_400);
}

#[test]
fn authorized_push_without_pre_auth_code_is_still_accepted() {
    let xml = fixture("authorized.xml").replace(
        "<PreAuthCode><![CDATA[preauthcode@@@PREAUTH-authorized-0001]]></PreAuthCode>",
        "",
    );

    let event = ComponentEvent::parse(&xml).expect("parses");

    let ComponentEventKind::Authorized(auth) = &event.kind else {
        panic!("not authorized: {event:?}");
    };
    assert!(auth.pre_auth_code.is_none());
}

#[test]
fn unauthorized_push_names_the_authorizer() {
    let event = component("unauthorized.xml");

    assert_eq!(event.create_time, 1_413_192_900);
    let ComponentEventKind::Unauthorized { authorizer_appid } = &event.kind else {
        panic!("not unauthorized: {event:?}");
    };
    assert_eq!(authorizer_appid.as_str(), "wx570bc396a51b8ff8");
}

#[test]
fn fast_registration_result_gives_appid_status_auth_code_and_company_info() {
    let event = component("notify_third_fasteregister.xml");

    assert_eq!(event.info_type(), "notify_third_fasteregister");
    assert_eq!(event.create_time, 1_535_442_403);
    let ComponentEventKind::FastRegister(result) = &event.kind else {
        panic!("not a fast registration: {event:?}");
    };
    assert_eq!(
        result.appid.as_ref().map(|a| a.as_str()),
        Some("wx7720d01d4b2a4500")
    );
    assert_eq!(result.status, 0);
    assert_eq!(
        result.auth_code.as_ref().map(|c| c.expose()),
        Some("queryauthcode@@@AUTHCODE-fastregister-0003")
    );
    assert_eq!(result.msg.as_deref(), Some("OK"));
    let info = &result.info;
    assert_eq!(info.name.as_deref(), Some("Example Trading Co., Ltd."));
    assert_eq!(info.code.as_deref(), Some("91310000EXAMPLE001"));
    assert_eq!(info.code_type, Some(1));
    assert_eq!(
        info.legal_persona_wechat.as_deref(),
        Some("legal_wechat_id")
    );
    assert_eq!(info.legal_persona_name.as_deref(), Some("Zhang San"));
    assert_eq!(info.component_phone.as_deref(), Some("02112345678"));
    assert_eq!(info.wxuser, None);
}

#[test]
fn failed_fast_registration_without_appid_or_auth_code_still_parses() {
    let event = component("notify_third_fasteregister_failed.xml");

    let ComponentEventKind::FastRegister(result) = &event.kind else {
        panic!("not a fast registration: {event:?}");
    };
    assert_eq!(result.status, -1);
    assert!(result.appid.is_none());
    assert!(result.auth_code.is_none());
    assert_eq!(result.msg.as_deref(), Some("open verity failed"));
    assert_eq!(result.info.legal_persona_name.as_deref(), Some("Li Si"));
}

#[test]
fn personal_fast_registration_keeps_wxuser_and_idname() {
    let event = component("notify_third_fasteregister_personal.xml");

    let ComponentEventKind::FastRegister(result) = &event.kind else {
        panic!("not a fast registration: {event:?}");
    };
    assert_eq!(
        result.appid.as_ref().map(|a| a.as_str()),
        Some("wx05d483572dcd5d8b")
    );
    assert_eq!(result.info.wxuser.as_deref(), Some("person_wechat_id"));
    assert_eq!(result.info.idname.as_deref(), Some("Wang Wu"));
    assert_eq!(result.info.component_phone.as_deref(), Some("13800000000"));
    assert_eq!(result.info.name, None);
}

#[test]
fn beta_app_registration_gives_appid_status_unique_id_and_name() {
    let event = component("notify_third_fastregisterbetaapp.xml");

    assert_eq!(event.info_type(), "notify_third_fastregisterbetaapp");
    let ComponentEventKind::FastRegisterBetaApp(result) = &event.kind else {
        panic!("not a beta app registration: {event:?}");
    };
    assert_eq!(
        result.appid.as_ref().map(|a| a.as_str()),
        Some("wx5910277cae6fd970")
    );
    assert_eq!(result.status, 0);
    assert_eq!(result.msg.as_deref(), Some("OK"));
    assert_eq!(
        result.info.unique_id.as_deref(),
        Some("beta-unique-id-0005")
    );
    assert_eq!(result.info.name.as_deref(), Some("Trial Shop"));
}

#[test]
fn beta_app_verification_gives_appid_status_and_company_info() {
    let event = component("notify_third_fastverifybetaapp.xml");

    assert_eq!(event.info_type(), "notify_third_fastverifybetaapp");
    let ComponentEventKind::FastVerifyBetaApp(result) = &event.kind else {
        panic!("not a beta app verification: {event:?}");
    };
    assert_eq!(
        result.appid.as_ref().map(|a| a.as_str()),
        Some("wx5910277cae6fd970")
    );
    assert_eq!(result.status, 0);
    assert!(result.auth_code.is_none());
    assert_eq!(result.info.name.as_deref(), Some("Trial Shop Company Ltd."));
    assert_eq!(result.info.code.as_deref(), Some("91440300EXAMPLE003"));
    assert_eq!(result.info.code_type, Some(1));
    assert_eq!(
        result.info.legal_persona_wechat.as_deref(),
        Some("verify_wechat_id")
    );
    assert_eq!(result.info.legal_persona_name.as_deref(), Some("Zhao Liu"));
    assert_eq!(result.info.component_phone.as_deref(), Some("075512345678"));
}

#[test]
fn unknown_info_types_are_kept_with_their_raw_xml_not_refused() {
    // A verification progress push without the fields it must have is kept whole, as an
    // unknown kind is.
    {
        let (name, info_type) = ("unknown_notify_3rd_wxa_auth.xml", "notify_3rd_wxa_auth");
        let xml = fixture(name);

        let event = ComponentEvent::parse(&xml).expect(name);

        assert_eq!(event.component_appid.as_str(), "wx3d5d4b6ce7a1f001");
        assert_eq!(event.info_type(), info_type);
        let ComponentEventKind::Unknown {
            info_type: kept,
            raw_xml,
        } = &event.kind
        else {
            panic!("{name} should be unknown: {event:?}");
        };
        assert_eq!(kept, info_type);
        assert_eq!(raw_xml.expose(), xml);
    }
}

// ---------------------------------------------------------------- authorizer messages

#[test]
fn text_message_gives_header_content_and_msg_id() {
    let msg = message("text.xml");

    assert_eq!(msg.to_user_name, "gh_8dad206e9538");
    assert_eq!(msg.from_user_name, "ozy4qt5QUADNXORxCVipKMV9dss0");
    assert_eq!(msg.create_time, 1_488_856_741);
    assert_eq!(msg.msg_type, "text");
    assert_eq!(msg.event(), None);
    assert_eq!(
        msg.kind,
        MessageKind::Text {
            content: "TESTCOMPONENT_MSG_TYPE_TEXT".into(),
            msg_id: Some(6_403_247_895_999_455_936),
        }
    );
}

#[test]
fn code_audit_success_gives_the_success_time() {
    let msg = message("weapp_audit_success.xml");

    assert_eq!(msg.msg_type, "event");
    assert_eq!(msg.event(), Some("weapp_audit_success"));
    assert_eq!(msg.from_user_name, "od1P50M-fNQI5Gcq-trm4a7apsU8");
    assert_eq!(
        msg.kind,
        MessageKind::WeappAuditSuccess {
            succ_time: 1_488_856_741
        }
    );
}

#[test]
fn code_audit_failure_gives_reason_time_and_split_screenshots() {
    let msg = message("weapp_audit_fail.xml");

    assert_eq!(msg.event(), Some("weapp_audit_fail"));
    assert_eq!(
        msg.kind,
        MessageKind::WeappAuditFail {
            reason: "1: account information does not meet the rules:<br>(1): the category does not match the pages<br>".into(),
            fail_time: 1_488_856_591,
            screenshots: vec!["media_id_one".into(), "media_id_two".into()],
        }
    );
}

#[test]
fn code_audit_failure_without_screenshots_has_an_empty_list() {
    let xml = fixture("weapp_audit_fail.xml")
        .replace("<ScreenShot>media_id_one|media_id_two</ScreenShot>", "");

    let msg = AuthorizerMessage::parse(&xml).expect("parses");

    let MessageKind::WeappAuditFail { screenshots, .. } = &msg.kind else {
        panic!("not a failure: {msg:?}");
    };
    assert!(screenshots.is_empty());
}

#[test]
fn code_audit_delay_gives_reason_and_delay_time() {
    let msg = message("weapp_audit_delay.xml");

    assert_eq!(
        msg.kind,
        MessageKind::WeappAuditDelay {
            reason: "review queue is long; the result will come later".into(),
            delay_time: 1_488_856_591,
        }
    );
}

#[test]
fn nickname_audit_gives_result_nickname_and_reason() {
    let msg = message("wxa_nickname_audit.xml");

    assert_eq!(msg.to_user_name, "gh_393666f1fdf4");
    assert_eq!(msg.event(), Some("wxa_nickname_audit"));
    assert_eq!(
        msg.kind,
        MessageKind::NicknameAudit {
            ret: 2,
            nickname: "Example Nickname".into(),
            reason: Some("the name is too close to a registered trademark".into()),
        }
    );
}

#[test]
fn unknown_messages_and_events_are_kept_with_their_raw_xml_not_refused() {
    for (name, msg_type, event) in [
        ("unknown_event_subscribe.xml", "event", Some("subscribe")),
        ("unknown_location.xml", "location", None),
    ] {
        let xml = fixture(name);

        let msg = AuthorizerMessage::parse(&xml).expect(name);

        assert_eq!(msg.msg_type, msg_type);
        assert_eq!(msg.event(), event);
        let MessageKind::Unknown {
            msg_type: kept_type,
            event: kept_event,
            raw_xml,
        } = &msg.kind
        else {
            panic!("{name} should be unknown: {msg:?}");
        };
        assert_eq!(kept_type, msg_type);
        assert_eq!(kept_event.as_deref(), event);
        assert_eq!(raw_xml.expose(), xml);
    }
}

// ---------------------------------------------------------------- hostile input

#[test]
fn billion_laughs_and_external_entity_payloads_are_refused_as_dtd() {
    for name in ["attack_billion_laughs.xml", "attack_external_entity.xml"] {
        let xml = fixture(name);

        let as_component = ComponentEvent::parse(&xml);
        let as_message = AuthorizerMessage::parse(&xml);

        assert!(
            matches!(as_component, Err(EventError::DtdRefused)),
            "{name}: {as_component:?}"
        );
        assert!(
            matches!(as_message, Err(EventError::DtdRefused)),
            "{name}: {as_message:?}"
        );
    }
}

#[test]
fn any_doctype_is_refused_even_without_entities_or_when_unclosed() {
    for xml in [
        "<!DOCTYPE xml><xml><AppId>wx1</AppId></xml>",
        "<!doctype xml><xml></xml>",
        "<!DOCTYPE xml [ <!ENTITY a \"b\">",
        "<xml><!DOCTYPE x><AppId>wx1</AppId></xml>",
        "<xml></xml><!DOCTYPE x>",
    ] {
        let result = ComponentEvent::parse(xml);

        assert!(
            matches!(result, Err(EventError::DtdRefused)),
            "{xml}: {result:?}"
        );
    }
}

#[test]
fn entity_reference_without_declaration_is_refused_and_not_expanded() {
    let xml = fixture("text.xml").replace("TESTCOMPONENT_MSG_TYPE_TEXT]]>", "]]>&xxe;");

    let result = AuthorizerMessage::parse(&xml);

    assert!(matches!(result, Err(EventError::Shape(_))), "{result:?}");
}

#[test]
fn doctype_text_inside_cdata_is_content_not_markup() {
    let xml = fixture("text.xml").replace(
        "TESTCOMPONENT_MSG_TYPE_TEXT",
        "<!DOCTYPE html><!ENTITY x \"y\">",
    );

    let msg = AuthorizerMessage::parse(&xml).expect("parses");

    let MessageKind::Text { content, .. } = &msg.kind else {
        panic!("not text: {msg:?}");
    };
    assert_eq!(content, "<!DOCTYPE html><!ENTITY x \"y\">");
}

#[test]
fn predefined_entities_and_character_references_in_plain_text_are_decoded() {
    let xml = fixture("text.xml").replace(
        "<![CDATA[TESTCOMPONENT_MSG_TYPE_TEXT]]>",
        "a &lt;b&gt; &amp; &quot;c&apos; &#x4E2D;&#25991;",
    );

    let msg = AuthorizerMessage::parse(&xml).expect("parses");

    let MessageKind::Text { content, .. } = &msg.kind else {
        panic!("not text: {msg:?}");
    };
    assert_eq!(content, "a <b> & \"c' 中文");
}

#[test]
fn malformed_xml_gives_a_typed_error_for_both_parsers() {
    let ticket = fixture("component_verify_ticket.xml");
    let truncated = &ticket[..ticket.len() / 2];
    for xml in [
        "",
        "   ",
        "success",
        "<xml>",
        "<xml><AppId>wx1</xml>",
        "<xml></xml><xml></xml>",
        "<xml></xml> trailing",
        "<root><AppId>wx1</AppId></root>",
        "<xml><AppId>wx1</AppId></xml></extra>",
        "<xml><AppId a=>wx1</AppId></xml>",
        "<xml><![CDATA[unclosed</xml>",
        "<xml>&#0;</xml>",
        truncated,
    ] {
        let as_component = ComponentEvent::parse(xml);
        let as_message = AuthorizerMessage::parse(xml);

        assert!(
            matches!(
                as_component,
                Err(EventError::Malformed { .. } | EventError::Shape(_))
            ),
            "{xml:?}: {as_component:?}"
        );
        assert!(
            matches!(
                as_message,
                Err(EventError::Malformed { .. } | EventError::Shape(_))
            ),
            "{xml:?}: {as_message:?}"
        );
    }
}

#[test]
fn missing_required_fields_of_known_kinds_are_named_in_the_error() {
    let cases: [(&str, &str, &str, &str); 6] = [
        (
            "component_verify_ticket.xml",
            "<ComponentVerifyTicket><![CDATA[ticket@@@Vx2SQlpBUm8kYxSEs3pJ0hQb9dZ5vV1nQgQ-TESTTICKET]]></ComponentVerifyTicket>",
            "component_verify_ticket",
            "ComponentVerifyTicket",
        ),
        (
            "authorized.xml",
            "<AuthorizationCode><![CDATA[queryauthcode@@@AUTHCODE-authorized-0001]]></AuthorizationCode>",
            "authorized",
            "AuthorizationCode",
        ),
        (
            "authorized.xml",
            "<AuthorizationCodeExpiredTime>1413196360</AuthorizationCodeExpiredTime>",
            "authorized",
            "AuthorizationCodeExpiredTime",
        ),
        (
            "unauthorized.xml",
            "<AuthorizerAppid><![CDATA[wx570bc396a51b8ff8]]></AuthorizerAppid>",
            "unauthorized",
            "AuthorizerAppid",
        ),
        (
            "notify_third_fastregisterbetaapp.xml",
            "<status>0</status>",
            "notify_third_fastregisterbetaapp",
            "status",
        ),
        (
            "unauthorized.xml",
            "<CreateTime>1413192900</CreateTime>",
            "component event",
            "CreateTime",
        ),
    ];
    for (name, removed, want_kind, want_field) in cases {
        let xml = fixture(name).replace(removed, "");
        assert_ne!(xml, fixture(name), "{name}: nothing removed");

        let result = ComponentEvent::parse(&xml);

        match result {
            Err(ref e @ EventError::MissingField { kind, field }) => {
                assert_eq!((kind, field), (want_kind, want_field), "{name}");
                assert!(e.to_string().contains(want_field), "{e}");
            }
            other => panic!("{name} without <{want_field}>: {other:?}"),
        }
    }

    let message_cases: [(&str, &str, &str, &str); 5] = [
        (
            "text.xml",
            "<Content><![CDATA[TESTCOMPONENT_MSG_TYPE_TEXT]]></Content>",
            "text",
            "Content",
        ),
        (
            "text.xml",
            "<FromUserName><![CDATA[ozy4qt5QUADNXORxCVipKMV9dss0]]></FromUserName>",
            "authorizer message",
            "FromUserName",
        ),
        (
            "weapp_audit_fail.xml",
            "<FailTime>1488856591</FailTime>",
            "weapp_audit_fail",
            "FailTime",
        ),
        (
            "wxa_nickname_audit.xml",
            "<ret>2</ret>",
            "wxa_nickname_audit",
            "ret",
        ),
        (
            "unknown_event_subscribe.xml",
            "<Event><![CDATA[subscribe]]></Event>",
            "event message",
            "Event",
        ),
    ];
    for (name, removed, want_kind, want_field) in message_cases {
        let xml = fixture(name).replace(removed, "");
        assert_ne!(xml, fixture(name), "{name}: nothing removed");

        let result = AuthorizerMessage::parse(&xml);

        match result {
            Err(EventError::MissingField { kind, field }) => {
                assert_eq!((kind, field), (want_kind, want_field), "{name}");
            }
            other => panic!("{name} without <{want_field}>: {other:?}"),
        }
    }
}

#[test]
fn a_blank_required_field_counts_as_missing() {
    let xml = fixture("component_verify_ticket.xml").replace(
        "ticket@@@Vx2SQlpBUm8kYxSEs3pJ0hQb9dZ5vV1nQgQ-TESTTICKET",
        "  ",
    );

    let result = ComponentEvent::parse(&xml);

    assert!(
        matches!(
            result,
            Err(EventError::MissingField {
                field: "ComponentVerifyTicket",
                ..
            })
        ),
        "{result:?}"
    );
}

#[test]
fn a_non_number_where_a_number_is_required_is_an_error_naming_the_field() {
    let cases = [
        (
            fixture("component_verify_ticket.xml").replace("1413192605", "soon"),
            "CreateTime",
        ),
        (
            fixture("notify_third_fasteregister.xml")
                .replace("<status>0</status>", "<status>ok</status>"),
            "status",
        ),
        (
            fixture("notify_third_fasteregister.xml")
                .replace("<code_type>1</code_type>", "<code_type>1a</code_type>"),
            "info/code_type",
        ),
        (
            fixture("authorized.xml").replace("1413196360", "1.5"),
            "AuthorizationCodeExpiredTime",
        ),
    ];
    for (xml, want) in cases {
        let result = ComponentEvent::parse(&xml);

        assert!(
            matches!(result, Err(EventError::NotANumber { field }) if field == want),
            "{want}: {result:?}"
        );
    }

    let xml = fixture("weapp_audit_success.xml").replace(
        "<SuccTime>1488856741</SuccTime>",
        "<SuccTime>yesterday</SuccTime>",
    );
    let result = AuthorizerMessage::parse(&xml);
    assert!(
        matches!(result, Err(EventError::NotANumber { field: "SuccTime" })),
        "{result:?}"
    );
}

#[test]
fn an_appid_that_is_not_an_appid_is_refused() {
    let xml = fixture("unauthorized.xml").replace("wx570bc396a51b8ff8", "wx/../../etc");

    let result = ComponentEvent::parse(&xml);

    assert!(
        matches!(
            result,
            Err(EventError::InvalidAppId {
                field: "AuthorizerAppid",
                ..
            })
        ),
        "{result:?}"
    );
}

#[test]
fn a_field_sent_twice_is_refused_rather_than_guessed() {
    let xml = fixture("unauthorized.xml").replace(
        "</xml>",
        "<AuthorizerAppid>wx9252c5e0bb1836fc</AuthorizerAppid></xml>",
    );

    let result = ComponentEvent::parse(&xml);

    assert!(
        matches!(
            result,
            Err(EventError::DuplicateField {
                field: "AuthorizerAppid"
            })
        ),
        "{result:?}"
    );
}

#[test]
fn unknown_extra_fields_are_ignored() {
    let xml = fixture("unauthorized.xml").replace(
        "</xml>",
        "<Extra>1</Extra><Nested><Deeper><Deepest>x</Deepest></Deeper></Nested></xml>",
    );

    let event = ComponentEvent::parse(&xml).expect("parses");

    assert!(matches!(
        event.kind,
        ComponentEventKind::Unauthorized { .. }
    ));
}

#[test]
fn errors_never_show_tickets_or_auth_codes() {
    let failing = [
        fixture("authorized.xml").replace("1413196360", "not-a-time"),
        fixture("authorized.xml").replace("wxd101a85aa106f53e", "bad appid"),
        fixture("authorized.xml").replace("</PreAuthCode>", "</PreAuthCodeX>"),
        fixture("component_verify_ticket.xml").replace(
            "<AppId>",
            "<AppId>&ticket@@@Vx2SQlpBUm8kYxSEs3pJ0hQb9dZ5vV1nQgQ-TESTTICKET;",
        ),
        fixture("component_verify_ticket.xml").replace("</ComponentVerifyTicket>", ""),
        fixture("text_query_auth_code.xml").replace("6403247895999455999", "x"),
    ];
    for xml in failing {
        let errors = [
            ComponentEvent::parse(&xml).err(),
            AuthorizerMessage::parse(&xml).err(),
        ];

        for error in errors.iter().flatten() {
            assert_no_secret("error", &full_chain(error));
        }
        assert!(errors.iter().any(Option::is_some), "should fail: {xml}");
    }
}

#[test]
fn debug_output_of_parsed_pushes_never_shows_secrets_or_message_text() {
    for name in COMPONENT_FIXTURES {
        assert_no_secret(name, &format!("{:?}", component(name)));
    }
    for name in MESSAGE_FIXTURES {
        assert_no_secret(name, &format!("{:?}", message(name)));
    }
    let text = format!("{:?}", message("text.xml"));
    assert!(!text.contains("TESTCOMPONENT_MSG_TYPE_TEXT"), "{text}");
}

// ---------------------------------------------------------------- passive reply

#[test]
fn text_reply_has_the_documented_shape_with_to_and_from_swapped() {
    let incoming = message("text.xml");

    let reply = incoming.text_reply("TESTCOMPONENT_MSG_TYPE_TEXT_callback", 1_700_000_000);

    assert_eq!(
        reply,
        "<xml><ToUserName><![CDATA[ozy4qt5QUADNXORxCVipKMV9dss0]]></ToUserName>\
         <FromUserName><![CDATA[gh_8dad206e9538]]></FromUserName>\
         <CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>\
         <Content><![CDATA[TESTCOMPONENT_MSG_TYPE_TEXT_callback]]></Content></xml>"
    );
}

#[test]
fn text_reply_reads_back_through_the_parser() {
    let incoming = message("text.xml");

    let reply = incoming.text_reply("TESTCOMPONENT_MSG_TYPE_TEXT_callback", 1_700_000_000);
    let parsed = AuthorizerMessage::parse(&reply).expect("reply parses");

    assert_eq!(parsed.to_user_name, incoming.from_user_name);
    assert_eq!(parsed.from_user_name, incoming.to_user_name);
    assert_eq!(parsed.create_time, 1_700_000_000);
    assert_eq!(
        parsed.kind,
        MessageKind::Text {
            content: "TESTCOMPONENT_MSG_TYPE_TEXT_callback".into(),
            msg_id: None,
        }
    );
}

#[test]
fn text_reply_escapes_cdata_terminators_and_keeps_the_content_exact() {
    for content in [
        "a]]>b",
        "]]>",
        "]]>]]>",
        "]]]>>",
        "x]]",
        "<b>&amp;</b> ]]> <![CDATA[ nested ]]>",
        "中文 ]]> emoji 🎉",
    ] {
        let reply = text_reply_xml("o_user", "gh_account", 42, content);

        let parsed = AuthorizerMessage::parse(&reply).expect(content);
        let MessageKind::Text { content: back, .. } = parsed.kind else {
            panic!("{content:?} did not read back as text");
        };
        assert_eq!(back, content);
    }
}

#[test]
fn text_reply_splits_a_cdata_terminator_across_two_sections() {
    let reply = text_reply_xml("o_user", "gh_account", 42, "a]]>b");

    assert!(
        reply.contains("<Content><![CDATA[a]]]]><![CDATA[>b]]></Content>"),
        "{reply}"
    );
}

#[test]
fn text_reply_escapes_cdata_terminators_in_user_names_too() {
    let reply = text_reply_xml("o]]>evil", "gh_]]>", 1, "hi");

    let parsed = AuthorizerMessage::parse(&reply).expect("parses");

    assert_eq!(parsed.to_user_name, "o]]>evil");
    assert_eq!(parsed.from_user_name, "gh_]]>");
}

// ---------------------------------------------------------------- idempotency keys

#[test]
fn idempotency_keys_are_the_same_for_every_delivery_of_a_push() {
    for name in COMPONENT_FIXTURES {
        assert_eq!(
            component(name).idempotency_key(),
            component(name).idempotency_key(),
            "{name}"
        );
    }
    for name in MESSAGE_FIXTURES {
        assert_eq!(
            message(name).idempotency_key(),
            message(name).idempotency_key(),
            "{name}"
        );
    }
}

#[test]
fn idempotency_keys_differ_between_different_pushes() {
    let mut keys: Vec<String> = COMPONENT_FIXTURES
        .iter()
        .map(|name| component(name).idempotency_key())
        .chain(
            MESSAGE_FIXTURES
                .iter()
                .map(|name| message(name).idempotency_key()),
        )
        .collect();
    let count = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), count, "{keys:#?}");

    let later = fixture("component_verify_ticket.xml").replace("1413192605", "1413193205");
    assert_ne!(
        ComponentEvent::parse(&later)
            .expect("parses")
            .idempotency_key(),
        component("component_verify_ticket.xml").idempotency_key()
    );
}

#[test]
fn idempotency_keys_contain_no_secret() {
    for name in COMPONENT_FIXTURES {
        assert_no_secret(name, &component(name).idempotency_key());
    }
    for name in MESSAGE_FIXTURES {
        assert_no_secret(name, &message(name).idempotency_key());
    }
}

#[test]
fn idempotency_keys_follow_wechats_advice_for_each_kind() {
    assert_eq!(
        component("component_verify_ticket.xml").idempotency_key(),
        "component:wx3d5d4b6ce7a1f001:component_verify_ticket:1413192605"
    );
    assert_eq!(
        component("authorized.xml").idempotency_key(),
        "component:wx3d5d4b6ce7a1f001:authorized:1413192760:wxd101a85aa106f53e"
    );
    assert_eq!(
        component("notify_third_fasteregister.xml").idempotency_key(),
        "component:wx3d5d4b6ce7a1f001:notify_third_fasteregister:1535442403:wx7720d01d4b2a4500"
    );
    assert_eq!(
        message("text.xml").idempotency_key(),
        "msg:gh_8dad206e9538:6403247895999455936"
    );
    assert_eq!(
        message("weapp_audit_success.xml").idempotency_key(),
        "event:gh_8dad206e9538:od1P50M-fNQI5Gcq-trm4a7apsU8:1488856741:weapp_audit_success"
    );
}

#[test]
fn unknown_pushes_and_registrations_without_appid_are_keyed_by_a_hash_of_the_whole_push() {
    let keys = [
        component("unknown_notify_3rd_wxa_auth.xml").idempotency_key(),
        component("notify_third_fasteregister_failed.xml").idempotency_key(),
        message("unknown_location.xml").idempotency_key(),
        message("unknown_event_subscribe.xml").idempotency_key(),
    ];

    for key in keys {
        let hash = key
            .rsplit_once(":sha256:")
            .map(|(_, hash)| hash)
            .unwrap_or_else(|| panic!("no hash in {key}"));
        assert_eq!(hash.len(), 64, "{key}");
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
    }
}

// ---------------------------------------------------------------- robustness

proptest! {
    #[test]
    fn arbitrary_strings_never_panic_the_parsers(input in any::<String>()) {
        let _ = ComponentEvent::parse(&input);
        let _ = AuthorizerMessage::parse(&input);
    }

    #[test]
    fn xml_like_fragments_never_panic_the_parsers(
        input in "(<xml>|</xml>|<info>|</info>|<AppId>wx1</AppId>|<CreateTime>|</CreateTime>|<InfoType>|</InfoType>|authorized|<MsgType>text</MsgType>|<Content>|</Content>|<!\\[CDATA\\[|\\]\\]>|&amp;|&#x4E2D;|&#0;|&#xFFFFFFFF;|&lol;|<!DOCTYPE x>|<!--|-->|<\\?xml version=\"1.0\"\\?>|<a/>|[a-z0-9 <>&;/!=\"\\[\\]]){0,40}"
    ) {
        let _ = ComponentEvent::parse(&input);
        let _ = AuthorizerMessage::parse(&input);
    }

    #[test]
    fn any_text_content_survives_the_reply_round_trip(content in "\\PC{1,60}") {
        prop_assume!(!content.trim().is_empty());
        let reply = text_reply_xml("o_user", "gh_account", 7, &content);

        let parsed = AuthorizerMessage::parse(&reply);

        let parsed = parsed.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed.kind, MessageKind::Text { content, msg_id: None });
    }
}

#[test]
fn filing_and_privacy_interface_results_once_unknown_now_read_as_typed_notices() {
    use wxcomponent::event::NoticeKind;
    let icp = ComponentEvent::parse(&fixture("unknown_notify_apply_icpfiling_result.xml")).unwrap();
    let ComponentEventKind::Notice(notice) = &icp.kind else {
        panic!("a notice: {icp:?}");
    };
    assert_eq!(notice.event, "notify_apply_icpfiling_result");
    assert_eq!(
        notice.appid.as_ref().map(|a| a.as_str()),
        Some("wxd101a85aa106f53e")
    );
    assert!(matches!(
        notice.kind,
        NoticeKind::IcpFilingResult { beian_status: 1 }
    ));

    let privacy =
        AuthorizerMessage::parse(&fixture("unknown_event_wxa_privacy_apply.xml")).unwrap();
    let MessageKind::Notice(notice) = &privacy.kind else {
        panic!("a notice: {privacy:?}");
    };
    assert_eq!(notice.event, "wxa_privacy_apply");
    assert_eq!(notice.fields()["api_name"], "wx.chooseAddress");
    assert_eq!(notice.fields()["status"], 2);
}
