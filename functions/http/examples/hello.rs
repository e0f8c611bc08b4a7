//! The smallest `lambda_http` function, built like the product's functions: the baseline that
//! `scripts/bench.sh` compares their start-up time and size against.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
