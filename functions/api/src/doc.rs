//! The parts of the OpenAPI document that are not one route's: its header, the bearer scheme, the
//! shared error answers, and the answer sets the routes name. Each route's own part is the
//! `#[utoipa::path]` on its handler, next to its code; `openapi.yaml` is generated from both (see
//! [`crate::openapi`]).

use std::collections::BTreeMap;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::server::{ServerBuilder, ServerVariableBuilder};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};
use utoipa::{IntoResponses, Modify};

use crate::error::ErrorBody;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "wxcomponent provider API",
        version = "0.1.0",
        description = "The authenticated management API of the WeChat third-party platform backend, \
            for the provider's own services. Every route requires `Authorization: Bearer <key>`; \
            the function compares the key's SHA-256 with `API_KEY_SHA256` in constant time. A \
            missing or wrong key gets 401 with no detail, on every path. Errors are JSON: \
            `{\"error\": {\"code\": \"...\", \"message\": \"...\"}}`. Responses are never \
            cacheable (`Cache-Control: no-store`). This document is generated from the `api` \
            function's code; a test fails when the committed copy is stale.",
        license(name = "MIT OR Apache-2.0"),
    ),
    security(("bearer" = [])),
    components(schemas(
        ErrorBody,
        wxcomponent::service::AuthorizerPage,
        wxcomponent::service::AuthorizerView,
        wxcomponent::service::AccountView,
        wxcomponent::service::StatusCountsView,
        wxcomponent::service::Health,
        wxcomponent::service::AuthLinksView,
        crate::authorizers::AccessTokenBody,
        crate::authorizers::AuthLinksBody,
        crate::authorizers::SettingsBody,
        wxcomponent::service::CampaignView,
        wxcomponent::service::CampaignPage,
        wxcomponent::service::CampaignAppView,
        wxcomponent::service::CampaignAppPage,
        crate::campaigns::CampaignRequestDoc,
        crate::campaigns::RetryBody,
        crate::official_accounts::JssdkConfigBody,
        crate::official_accounts::WebUserBody,
    )),
    modifiers(&Shared),
)]
pub(crate) struct ApiDoc;

/// The bearer scheme, the server and the shared error answers.
struct Shared;

impl Modify for Shared {
    fn modify(&self, openapi: &mut OpenApi) {
        openapi.servers = Some(vec![
            ServerBuilder::new()
                .url("{ApiBaseUrl}")
                .description(Some("The stack output ApiBaseUrl."))
                .parameter(
                    "ApiBaseUrl",
                    ServerVariableBuilder::new()
                        .default_value("https://example.execute-api.us-east-1.amazonaws.com"),
                )
                .build(),
        ]);
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The API key; its lowercase hex SHA-256 is deployed as API_KEY_SHA256.",
                    ))
                    .build(),
            ),
        );
        for (name, response) in shared_responses() {
            components
                .responses
                .insert(name.to_owned(), response.into());
        }
    }
}

fn error_response(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        Content::new(Some(Ref::from_schema_name("Error"))),
    )
}

fn string_header(description: &str, value: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([value])),
        )
        .description(Some(description))
        .build()
}

fn shared_responses() -> Vec<(&'static str, Response)> {
    vec![
        (
            "BadRequest",
            error_response(
                "A malformed parameter or body: `invalid_limit`, `invalid_cursor`, \
                 `invalid_appid`, `invalid_request`.",
            )
            .build(),
        ),
        (
            "Unauthorized",
            error_response(
                "Missing or wrong bearer key (`unauthorized`), on every path. No detail is given.",
            )
            .header(
                "WWW-Authenticate",
                string_header("The scheme to authenticate with.", "Bearer"),
            )
            .build(),
        ),
        (
            "Forbidden",
            error_response(
                "The passthrough refuses the path: `path_not_allowed` (not under an allowed \
                 prefix, or not plain) or `use_typed_route` (a typed route keeps records for it; \
                 the message names it). Nothing is called.",
            )
            .build(),
        ),
        (
            "NotFound",
            error_response("No such authorizer or campaign (`not_found`).").build(),
        ),
        (
            "Conflict",
            error_response(
                "The authorizer revoked the authorization (`authorization_revoked`) or must \
                 authorize again (`reauthorization_required`).",
            )
            .build(),
        ),
        (
            "WrongState",
            error_response(
                "The campaign's state does not allow it (`wrong_state`; the message says why).",
            )
            .build(),
        ),
        (
            "EmptyCohort",
            error_response(
                "No `appids` were given and no authorized mini program is stored (`empty_cohort`).",
            )
            .build(),
        ),
        (
            "InternalError",
            error_response("The store failed (`internal_error`); nothing more is said.").build(),
        ),
        (
            "WechatError",
            error_response(
                "WeChat failed or refused (`wechat_error`, with its errcode; \
                 `wechat_ip_not_whitelisted` for 61004, with the fix).",
            )
            .build(),
        ),
        (
            "WechatQuota",
            error_response(
                "WeChat's quota is used up or calls are too frequent (`wechat_quota`); a mini \
                 program's audit withdrawals are spent for the day or month \
                 (`withdrawals_spent`).",
            )
            .build(),
        ),
        (
            "Unavailable",
            error_response(
                "No valid component_verify_ticket yet (`ticket_unavailable`; WeChat was asked \
                 to push one), or another worker is refreshing the token (`busy`). Retry.",
            )
            .header(
                "Retry-After",
                string_header("Seconds to wait before retrying.", "5"),
            )
            .build(),
        ),
    ]
}

fn shared(name: &str) -> RefOr<Response> {
    RefOr::Ref(Ref::from_response_name(name))
}

fn answers(
    success: (&str, Response),
    errors: &[(&str, &str)],
) -> BTreeMap<String, RefOr<Response>> {
    let mut map = BTreeMap::new();
    map.insert(success.0.to_owned(), RefOr::T(success.1));
    for (status, name) in errors {
        map.insert((*status).to_owned(), shared(name));
    }
    map
}

/// WeChat's JSON answer.
fn wechat_json() -> Response {
    ResponseBuilder::new()
        .description("WeChat's answer (`{}` for a bare acknowledgement).")
        .content("application/json", Content::new(Some(Object::new())))
        .build()
}

/// WeChat's bytes (an image).
fn wechat_image() -> Response {
    ResponseBuilder::new()
        .description("The image WeChat returned, with its content type.")
        .content(
            "image/jpeg",
            Content::new(Some(ObjectBuilder::new().schema_type(Type::String).format(
                Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Binary,
                )),
            ))),
        )
        .build()
}

const AUTHORIZER_ERRORS: &[(&str, &str)] = &[
    ("400", "BadRequest"),
    ("401", "Unauthorized"),
    ("404", "NotFound"),
    ("409", "Conflict"),
    ("429", "WechatQuota"),
    ("502", "WechatError"),
    ("503", "Unavailable"),
];

const COMPONENT_ERRORS: &[(&str, &str)] = &[
    ("400", "BadRequest"),
    ("401", "Unauthorized"),
    ("429", "WechatQuota"),
    ("502", "WechatError"),
    ("503", "Unavailable"),
];

/// The answers of a route acting for one authorizer with its token: WeChat's JSON.
pub(crate) struct ForAuthorizer;

impl IntoResponses for ForAuthorizer {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(("200", wechat_json()), AUTHORIZER_ERRORS)
    }
}

/// As [`ForAuthorizer`], answering the image WeChat returns.
pub(crate) struct ImageForAuthorizer;

impl IntoResponses for ImageForAuthorizer {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(("200", wechat_image()), AUTHORIZER_ERRORS)
    }
}

/// The passthrough's answers: as [`ForAuthorizer`], and 403 for a path it does not forward.
pub(crate) struct Passthrough;

impl IntoResponses for Passthrough {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut map = answers(("200", wechat_json()), AUTHORIZER_ERRORS);
        map.insert("403".to_owned(), shared("Forbidden"));
        map
    }
}

/// The answers of a route acting with the component token: WeChat's JSON.
pub(crate) struct ForComponent;

impl IntoResponses for ForComponent {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(("200", wechat_json()), COMPONENT_ERRORS)
    }
}

/// A route's answers: a success (200 unless named) with a body of a named schema, and shared
/// error answers.
macro_rules! answers {
    ($(#[$doc:meta])* $name:ident, $description:literal, $schema:literal, [$($status:literal => $error:literal),* $(,)?]) => {
        answers!($(#[$doc])* $name, "200", $description, $schema, [$($status => $error),*]);
    };
    ($(#[$doc:meta])* $name:ident, $success:literal, $description:literal, $schema:literal, [$($status:literal => $error:literal),* $(,)?]) => {
        $(#[$doc])*
        pub(crate) struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                let success = ResponseBuilder::new()
                    .description($description)
                    .content("application/json", Content::new(Some(Ref::from_schema_name($schema))))
                    .build();
                answers(($success, success), &[$(($status, $error)),*])
            }
        }
    };
}

answers!(
    /// `GET /authorizers`.
    ListAnswers, "One page.", "AuthorizerPage",
    ["400" => "BadRequest", "401" => "Unauthorized", "500" => "InternalError"]
);
answers!(
    /// `GET /authorizers/{appid}`.
    AuthorizerAnswers, "The authorizer.", "Authorizer",
    ["400" => "BadRequest", "401" => "Unauthorized", "404" => "NotFound", "500" => "InternalError"]
);
answers!(
    /// `GET /authorizers/{appid}/access-token`.
    AccessTokenAnswers, "The token and its absolute expiry.", "AccessToken",
    [
        "400" => "BadRequest", "401" => "Unauthorized", "404" => "NotFound", "409" => "Conflict",
        "429" => "WechatQuota", "500" => "InternalError", "502" => "WechatError", "503" => "Unavailable",
    ]
);
answers!(
    /// `GET /authorizers/{appid}/jssdk-config`.
    JssdkConfigAnswers, "What wx.config takes besides jsApiList.", "JssdkConfig",
    [
        "400" => "BadRequest", "401" => "Unauthorized", "404" => "NotFound", "409" => "Conflict",
        "429" => "WechatQuota", "500" => "InternalError", "502" => "WechatError", "503" => "Unavailable",
    ]
);
answers!(
    /// `GET /authorizers/{appid}/web-users/{openid}`.
    WebUserAnswers, "The kept profile.", "WebUser",
    ["400" => "BadRequest", "401" => "Unauthorized", "404" => "NotFound", "500" => "InternalError"]
);
answers!(
    /// `POST /auth-links`.
    AuthLinksAnswers, "The links and when their pre-auth code expires.", "AuthLinks",
    [
        "400" => "BadRequest", "401" => "Unauthorized", "429" => "WechatQuota",
        "500" => "InternalError", "502" => "WechatError", "503" => "Unavailable",
    ]
);
answers!(
    /// `GET` and `PUT /authorizers/{appid}/settings`.
    SettingsAnswers, "The authorizer's settings.", "Settings",
    ["400" => "BadRequest", "401" => "Unauthorized", "404" => "NotFound", "500" => "InternalError"]
);
answers!(
    /// `GET /health`.
    HealthAnswers, "Ticket age, component token expiry, authorizers by status.", "Health",
    ["401" => "Unauthorized", "500" => "InternalError"]
);
answers!(
    /// `POST /campaigns`.
    CampaignCreatedAnswers, "201", "The campaign, started.", "Campaign",
    [
        "400" => "BadRequest", "401" => "Unauthorized", "422" => "EmptyCohort",
        "500" => "InternalError",
    ]
);
answers!(
    /// `GET /campaigns`.
    CampaignsAnswers, "One page.", "CampaignPage",
    ["400" => "BadRequest", "401" => "Unauthorized", "500" => "InternalError"]
);
answers!(
    /// `GET /campaigns/{id}` and the campaign's actions.
    CampaignAnswers, "The campaign as it now is.", "Campaign",
    [
        "401" => "Unauthorized", "404" => "NotFound", "409" => "WrongState",
        "500" => "InternalError",
    ]
);
answers!(
    /// `POST /campaigns/{id}/retry-failed`.
    CampaignRetryAnswers, "The campaign and how many apps start again.", "CampaignRetry",
    [
        "401" => "Unauthorized", "404" => "NotFound", "409" => "WrongState",
        "500" => "InternalError",
    ]
);
answers!(
    /// `GET /campaigns/{id}/apps`.
    CampaignAppsAnswers, "One page.", "CampaignAppPage",
    [
        "400" => "BadRequest", "401" => "Unauthorized", "404" => "NotFound",
        "500" => "InternalError",
    ]
);
