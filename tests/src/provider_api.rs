//! The provider API's real handler on a [`TestApp`], called in process with the test key.

use api::Api;
use lambda_http::http::{Method, header};
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use wxcomponent::config::ApiKeyDigest;
use wxcomponent::store::DynamoStore;

use crate::app::TestApp;

/// The bearer key the test API accepts.
pub const KEY: &str = "test-api-key-0123456789";

pub struct ProviderApi {
    pub api: Api<DynamoStore>,
}

impl ProviderApi {
    pub fn on(app: &TestApp) -> Self {
        Self {
            api: Api::new(app.application().clone(), ApiKeyDigest::of(KEY)),
        }
    }

    pub async fn call(&self, method: Method, uri: &str, body: Body) -> Response<Body> {
        let request: Request = lambda_http::http::Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
            .body(body)
            .expect("a valid request");
        self.api.handle(request).await
    }

    pub async fn get(&self, uri: &str) -> Response<Body> {
        self.call(Method::GET, uri, Body::Empty).await
    }

    pub async fn post(&self, uri: &str, body: Value) -> Response<Body> {
        self.call(Method::POST, uri, Body::from(body.to_string()))
            .await
    }
}

/// The response body as JSON.
pub fn json_of(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).expect("a JSON body")
}

/// The `error.code` of an error answer.
pub fn error_code(response: &Response<Body>) -> String {
    json_of(response)["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
