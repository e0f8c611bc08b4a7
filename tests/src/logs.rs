//! Log capture for the log-secrecy tests: a subscriber that writes into memory, with either the
//! functions' own filter ([`wxcomponent::logging::filter`]) or no filter at all.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use tracing_subscriber::EnvFilter;

/// Everything a subscriber wrote. Clones share the buffer.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What production logging installs when TRACE is asked for (the SDK, HTTP and runtime crates stay
/// capped at INFO).
pub fn production_filter_at_trace() -> EnvFilter {
    wxcomponent::logging::filter(Some("trace"))
}

/// Every crate at TRACE, with no cap: the strictest capture, for code that never touches the AWS SDK.
pub fn everything_at_trace() -> EnvFilter {
    EnvFilter::new("trace")
}

impl LogBuffer {
    /// All that was written so far.
    pub fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// A subscriber writing into this buffer through `filter`.
    pub fn subscriber(
        &self,
        filter: EnvFilter,
    ) -> impl tracing::Subscriber + Send + Sync + 'static {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
    }

    /// This test binary's global buffer, behind the functions' own filter at TRACE, installed by
    /// the first caller: for binaries whose tests all check their logs and run in parallel. Each
    /// test sees every test's lines, which only makes its check stricter.
    pub fn global_at_trace() -> Self {
        static GLOBAL: std::sync::OnceLock<LogBuffer> = std::sync::OnceLock::new();
        GLOBAL
            .get_or_init(|| Self::install_global(production_filter_at_trace()))
            .clone()
    }

    /// A new buffer behind this test binary's global subscriber (which also receives `log` records
    /// from reqwest and hyper). Panics if the binary already has one: give each such test its own
    /// test binary.
    pub fn install_global(filter: EnvFilter) -> Self {
        let buffer = Self::default();
        tracing::subscriber::set_global_default(buffer.subscriber(filter))
            .expect("the only global subscriber of this test binary");
        buffer
    }
}

/// Fails the test if any of `secrets` (empty strings ignored) appears in `text`, naming the line.
pub fn assert_no_secret(text: &str, secrets: &[String]) {
    assert!(
        !text.is_empty(),
        "nothing was logged: the capture is not working"
    );
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if let Some(line) = text.lines().find(|line| line.contains(secret.as_str())) {
            panic!("a secret reached the logs: {secret:?} in line {line:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::assert_no_secret;

    #[test]
    #[should_panic(expected = "a secret reached the logs")]
    fn a_secret_anywhere_in_a_line_fails_the_check() {
        assert_no_secret(
            "INFO ok\nWARN token atoken-abc in a message\n",
            &["atoken-abc".to_owned()],
        );
    }

    #[test]
    fn lines_without_secrets_pass_and_empty_secrets_are_ignored() {
        assert_no_secret("INFO ok\n", &["atoken-abc".to_owned(), String::new()]);
    }
}
