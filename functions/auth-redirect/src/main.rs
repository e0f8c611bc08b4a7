//! Lambda entry point. Filled in by a later issue; until then every request gets a clear 501.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

async fn handler(_request: Request) -> Result<Response<Body>, Error> {
    Ok(Response::builder()
        .status(501)
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"error":{"code":"not_implemented","message":"not implemented yet"}}"#,
        ))?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(handler)).await
}
