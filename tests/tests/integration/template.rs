//! Facts of `template.yaml` that the code and the docs rely on, beyond the table's (those are in
//! `wxcomponent::store::schema`): the HTTP API's throttles, the functions' reserved concurrency,
//! and the signing secret of the success redirect. Read from the same compiled-in text.

use std::collections::BTreeSet;

use wxcomponent::config::AUTH_SIGNING_SECRET;
use wxcomponent::service::auth_state::MIN_SIGNING_SECRET_LEN;
use wxcomponent_tests::schema::TEMPLATE_YAML;
use yaml_serde::Value;

fn template() -> Value {
    yaml_serde::from_str(TEMPLATE_YAML).expect("template.yaml parses")
}

/// `value[a][b]...`, which must exist.
fn at<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(value, |v, key| {
        v.get(*key)
            .unwrap_or_else(|| panic!("template.yaml has no {}", path.join(".")))
    })
}

fn number(value: &Value, path: &[&str]) -> f64 {
    at(value, path)
        .as_f64()
        .unwrap_or_else(|| panic!("{} is not a number", path.join(".")))
}

/// The route keys (`GET /auth/go`) of every function's HttpApi events.
fn routes(doc: &Value) -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for (_, resource) in at(doc, &["Resources"]).as_mapping().unwrap() {
        let Some(events) = resource
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(Value::as_mapping)
        else {
            continue;
        };
        for (_, event) in events {
            if event.get("Type").and_then(Value::as_str) == Some("HttpApi") {
                let method = at(event, &["Properties", "Method"]).as_str().unwrap();
                let path = at(event, &["Properties", "Path"]).as_str().unwrap();
                routes.insert(format!("{method} {path}"));
            }
        }
    }
    routes
}

#[test]
fn the_http_api_throttles_every_route_and_the_routes_that_spend_wechat_quota_most() {
    let doc = template();
    let api = at(&doc, &["Resources", "HttpApi", "Properties"]);
    let default_rate = number(api, &["DefaultRouteSettings", "ThrottlingRateLimit"]);
    let default_burst = number(api, &["DefaultRouteSettings", "ThrottlingBurstLimit"]);
    assert!(default_rate > 0.0 && default_burst >= default_rate);

    let settings = at(api, &["RouteSettings"]).as_mapping().unwrap();
    let routes = routes(&doc);
    for (key, setting) in settings {
        let key = key.as_str().unwrap();
        assert!(
            routes.contains(key),
            "RouteSettings names {key}, which no function's HttpApi event defines: the stage would fail"
        );
        assert!(
            number(setting, &["ThrottlingBurstLimit"]) >= number(setting, &["ThrottlingRateLimit"])
        );
    }
    // Each GET of /auth/go mints a pre-auth code; a matching callback spends an api_query_auth.
    for spending in ["GET /auth/go", "GET /auth/callback"] {
        let rate = number(api, &["RouteSettings", spending, "ThrottlingRateLimit"]);
        let burst = number(api, &["RouteSettings", spending, "ThrottlingBurstLimit"]);
        assert!(
            rate > 0.0 && rate <= 5.0 && rate < default_rate && burst < default_burst,
            "{spending}: {rate}/s, burst {burst}"
        );
    }
}

#[test]
fn the_push_and_refresh_functions_have_reserved_concurrency() {
    let doc = template();
    let reserved = |function: &str| {
        number(
            &doc,
            &[
                "Resources",
                function,
                "Properties",
                "ReservedConcurrentExecutions",
            ],
        )
    };
    let pushes = reserved("TicketCallbackFunction");
    assert!((10.0..=100.0).contains(&pushes), "{pushes}");
    assert_eq!(reserved("TokenRefresherFunction"), 1.0, "one run at a time");
    // A run throttled behind a long one must not wait into the next scheduled run.
    let max_age = number(
        &doc,
        &[
            "Resources",
            "TokenRefresherFunction",
            "Properties",
            "EventInvokeConfig",
            "MaximumEventAgeInSeconds",
        ],
    );
    assert!((60.0..300.0).contains(&max_age), "{max_age}");
}

#[test]
fn with_a_success_url_or_oauth_hosts_the_stack_generates_the_signing_secret_for_auth_redirect() {
    let doc = template();
    let secret = at(&doc, &["Resources", "AuthSigningSecret"]);
    assert_eq!(
        at(secret, &["Type"]).as_str(),
        Some("AWS::SecretsManager::Secret")
    );
    assert_eq!(
        at(secret, &["Condition"]).as_str(),
        Some("NeedsSigningSecret")
    );
    // Either parameter makes it: the success redirect and the web authorization result are signed.
    let needs = format!("{:?}", at(&doc, &["Conditions", "NeedsSigningSecret"]));
    assert!(
        needs.contains("HasAuthSuccessUrl")
            && needs.contains("HasOauthRedirectHosts")
            && needs.contains("HasConsole"),
        "{needs}"
    );
    let generate = at(secret, &["Properties", "GenerateSecretString"]);
    let length = number(generate, &["PasswordLength"]);
    assert!(length >= MIN_SIGNING_SECRET_LEN as f64, "{length}");
    assert_eq!(at(generate, &["ExcludePunctuation"]).as_bool(), Some(true));

    let variables = at(
        &doc,
        &[
            "Resources",
            "AuthRedirectFunction",
            "Properties",
            "Environment",
            "Variables",
        ],
    );
    assert!(variables.get(AUTH_SIGNING_SECRET).is_some());
    assert!(variables.get("AUTH_SUCCESS_URL").is_some());
    assert!(variables.get("OAUTH_REDIRECT_HOSTS").is_some());
    assert!(
        at(&doc, &["Outputs", "AuthSigningSecretArn"])
            .get("Value")
            .is_some()
    );
}
