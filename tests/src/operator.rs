//! The console's real handler on a [`TestApp`], called in process by an operator whose browser
//! keeps cookies: [`Operator::sign_in`] fills the sign-in form as a browser would.

use std::collections::BTreeMap;
use std::sync::Mutex;

use console::{Console, ConsoleSettings};
use lambda_http::http::{Method, header};
use lambda_http::{Body, Request, RequestExt, Response};
use wxcomponent::config::ApiKeyDigest;
use wxcomponent::service::SigningKey;

use crate::app::TestApp;

/// The operator key the test console accepts.
pub const CONSOLE_KEY: &str = "test-console-key-0123456789";
/// The key its sessions are signed with.
pub const SIGNING_SECRET: &str = "test-console-signing-secret-0123456789";
/// The host the console is reached on (a loopback one: a local run over plain HTTP).
pub const LOCAL_HOST: &str = "127.0.0.1:3000";

/// The console's settings for tests: the test key, the test signing secret, the launch page on a
/// made-up origin, a provider name.
pub fn console_settings() -> ConsoleSettings {
    ConsoleSettings {
        key: ApiKeyDigest::of(CONSOLE_KEY),
        signing: SigningKey::new(wxcomponent::Secret::new(SIGNING_SECRET)).expect("a long key"),
        launch_url: Some(url::Url::parse("https://auth.example.com/prod/auth").expect("a URL")),
        brand: Some("示例服务商".to_owned()),
    }
}

/// One browser: its cookie jar, the host it uses and its language.
pub struct Operator {
    pub console: Console,
    pub host: String,
    pub accept_language: Option<String>,
    /// The client address API Gateway reports (`requestContext.http.sourceIp`).
    pub source_ip: String,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl Operator {
    pub fn on(app: &TestApp) -> Self {
        Self::with(Console::new(app.application().clone(), console_settings()))
    }

    pub fn with(console: Console) -> Self {
        Self {
            console,
            host: LOCAL_HOST.to_owned(),
            accept_language: None,
            source_ip: "192.0.2.10".to_owned(),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    /// Another browser on the same console, with no cookies.
    pub fn another(&self) -> Self {
        Self::with(self.console.clone())
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().expect("the jar").get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .expect("the jar")
            .insert(name.to_owned(), value.to_owned());
    }

    pub fn forget_cookies(&self) {
        self.cookies.lock().expect("the jar").clear();
    }

    /// Sends a request with the jar's cookies and keeps what the answer sets (a `Max-Age=0`
    /// removes).
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Response<Body> {
        let mut builder = lambda_http::http::Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, &self.host);
        if let Some(lang) = &self.accept_language {
            builder = builder.header(header::ACCEPT_LANGUAGE, lang);
        }
        let jar: Vec<String> = self
            .cookies
            .lock()
            .expect("the jar")
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !jar.is_empty() {
            builder = builder.header(header::COOKIE, jar.join("; "));
        }
        let body = match form {
            Some(fields) => {
                builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                let mut encoded = url::form_urlencoded::Serializer::new(String::new());
                for (name, value) in fields {
                    encoded.append_pair(name, value);
                }
                Body::from(encoded.finish())
            }
            None => Body::Empty,
        };
        let mut context =
            lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
        context.http.source_ip = Some(self.source_ip.clone());
        let request: Request = builder
            .body(body)
            .expect("a valid request")
            .with_request_context(lambda_http::request::RequestContext::ApiGatewayV2(context));
        let response = self.console.handle(request).await;
        for value in response.headers().get_all(header::SET_COOKIE) {
            let value = value.to_str().expect("a text cookie");
            let (pair, attributes) = value.split_once(';').unwrap_or((value, ""));
            let (name, cookie) = pair.split_once('=').expect("name=value");
            let mut jar = self.cookies.lock().expect("the jar");
            if attributes.contains("Max-Age=0") {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), cookie.to_owned());
            }
        }
        response
    }

    pub async fn get(&self, uri: &str) -> Response<Body> {
        self.send(Method::GET, uri, None).await
    }

    pub async fn post(&self, uri: &str, form: &[(&str, &str)]) -> Response<Body> {
        self.send(Method::POST, uri, Some(form)).await
    }

    /// Opens the sign-in form and submits `key` with the form's token.
    pub async fn try_sign_in(&self, key: &str) -> Response<Body> {
        let form = self.get("/console/").await;
        assert_eq!(form.status(), 200, "the sign-in form");
        let token = hidden_value(&body_of(&form), "csrf").expect("the form's token");
        self.post("/console/login", &[("key", key), ("csrf", &token)])
            .await
    }

    /// Signs in with the right key.
    pub async fn sign_in(&self) {
        let answer = self.try_sign_in(CONSOLE_KEY).await;
        assert_eq!(answer.status(), 303, "{}", body_of(&answer));
        assert_eq!(location(&answer), "./authorizers");
    }

    /// The CSRF token of a signed-in page's forms.
    pub async fn csrf(&self) -> String {
        let page = self.get("/console/overview").await;
        assert_eq!(page.status(), 200, "{}", body_of(&page));
        hidden_value(&body_of(&page), "csrf").expect("the page's forms carry a token")
    }
}

pub fn body_of(response: &Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

pub fn location(response: &Response<Body>) -> String {
    response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The `value` of the first hidden input named `name` on a page.
pub fn hidden_value(page: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = page.find(&marker)? + marker.len();
    let end = page[start..].find('"')?;
    Some(page[start..start + end].to_owned())
}
