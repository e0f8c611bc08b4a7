//! `fake-eventbridge`: a loopback stand-in for Amazon EventBridge's `PutEvents`, for local runs
//! (`make dev` starts it and points the functions at it with `AWS_ENDPOINT_URL_EVENTBRIDGE`). It
//! takes every event, prints each as one JSON line as it arrives, and answers `GET /events` with
//! all of them.
//!
//! `fake-eventbridge [--port N]` (default 0: a free port); the first line printed is
//! `listening on http://127.0.0.1:<port>`.

use std::process::ExitCode;
use std::time::Duration;

use wxcomponent_tests::fake_bus::FakeBus;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut port = 0u16;
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().map(|v| v.parse::<u16>())) {
            ("--port", Some(Ok(p))) => port = p,
            _ => {
                eprintln!("usage: fake-eventbridge [--port N]");
                return ExitCode::FAILURE;
            }
        }
    }
    let bus = match FakeBus::start_on(port).await {
        Ok(bus) => bus,
        Err(e) => {
            eprintln!("fake-eventbridge: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", bus.endpoint_url());
    let mut shown = 0;
    loop {
        let accepted = bus.accepted();
        for entry in &accepted[shown..] {
            match serde_json::to_string(entry) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("fake-eventbridge: {e}"),
            }
        }
        shown = accepted.len();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
