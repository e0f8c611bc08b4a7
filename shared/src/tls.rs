//! The trusted root certificates, read once per process and handed to both HTTPS clients: the
//! WeChat client (reqwest) and the AWS SDK's. Left alone, each loads the system's store itself at
//! start-up, and each load (the bundle, then every file of the certificate directory) is most of a
//! function's start-up time.
//!
//! The roots are the bundle OpenSSL would use on this system (`SSL_CERT_FILE` when set, otherwise
//! the distribution's bundle, such as `/etc/ssl/certs/ca-certificates.crt` on Debian or
//! `/etc/pki/tls/certs/ca-bundle.crt` on Amazon Linux). Only certificates that are usable as trust
//! anchors are kept, so neither client can refuse the set. With no bundle, or none of it usable,
//! each client falls back to loading the platform's store as before.

use std::sync::Arc;

use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
use base64::Engine as _;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The trusted roots as PEM, each certificate checked to be a usable trust anchor.
#[derive(Clone)]
pub struct TrustedRoots {
    /// For reqwest, which takes DER.
    ders: Arc<[CertificateDer<'static>]>,
    /// For the AWS SDK, which takes PEM.
    pem: Arc<str>,
}

impl std::fmt::Debug for TrustedRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedRoots")
            .field("certificates", &self.ders.len())
            .finish()
    }
}

impl TrustedRoots {
    /// The system's bundle (see the module documentation), or `None` when there is no usable one.
    pub fn system() -> Option<Self> {
        let path = openssl_probe::probe().cert_file?;
        match std::fs::read(&path) {
            Ok(bundle) => Self::from_pem_bundle(&bundle),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not read the bundle of trusted roots; each client loads the system's store");
                None
            }
        }
    }

    /// The usable trust anchors of a PEM bundle; `None` when there is none.
    pub fn from_pem_bundle(bundle: &[u8]) -> Option<Self> {
        let mut pem = String::new();
        let mut ders = Vec::new();
        for cert in CertificateDer::pem_slice_iter(bundle).flatten() {
            if webpki::anchor_from_trusted_cert(&cert).is_err() {
                continue;
            }
            pem.push_str("-----BEGIN CERTIFICATE-----\n");
            let encoded = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
            for line in encoded.as_bytes().chunks(64) {
                // Base64 is ASCII, so every chunk is valid UTF-8.
                pem.push_str(std::str::from_utf8(line).unwrap_or_default());
                pem.push('\n');
            }
            pem.push_str("-----END CERTIFICATE-----\n");
            ders.push(cert);
        }
        (!ders.is_empty()).then(|| Self {
            ders: ders.into(),
            pem: pem.into(),
        })
    }

    /// How many certificates are trusted.
    pub fn len(&self) -> usize {
        self.ders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ders.is_empty()
    }

    /// The roots for reqwest, which then trusts these and nothing else.
    pub fn reqwest_certificates(&self) -> Vec<reqwest::Certificate> {
        self.ders
            .iter()
            .filter_map(|der| reqwest::Certificate::from_der(der).ok())
            .collect()
    }

    /// The AWS SDK's HTTPS client (rustls on aws-lc, as the SDK's default is), trusting these roots
    /// and nothing else.
    pub fn sdk_http_client(
        &self,
    ) -> Result<aws_sdk_dynamodb::config::SharedHttpClient, aws_smithy_http_client::HttpClientError>
    {
        let trust = TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(self.pem.as_bytes().to_vec());
        let tls = TlsContext::builder().with_trust_store(trust).build()?;
        Ok(aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(tls)
            .build_https())
    }
}

/// The AWS SDK's configuration from the environment, its HTTPS client trusting `roots` when given.
pub async fn sdk_config(roots: Option<&TrustedRoots>) -> aws_config::SdkConfig {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    let loader = match roots.map(TrustedRoots::sdk_http_client) {
        Some(Ok(client)) => loader.http_client(client),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "could not build the AWS SDK's client on the trusted roots; it loads the system's store");
            loader
        }
        None => loader,
    };
    loader.load().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_bundle_is_read_once_and_both_clients_accept_it() {
        let Some(roots) = TrustedRoots::system() else {
            panic!("this machine has no bundle of trusted roots for OpenSSL to find");
        };
        assert!(roots.len() > 10, "{roots:?}");
        assert_eq!(roots.reqwest_certificates().len(), roots.len());
        reqwest::Client::builder()
            .tls_certs_only(roots.reqwest_certificates())
            .build()
            .expect("reqwest accepts the roots");
        roots.sdk_http_client().expect("the SDK accepts the roots");
    }

    #[test]
    fn what_is_not_a_usable_trust_anchor_is_left_out() {
        let Some(system) = TrustedRoots::system() else {
            panic!("this machine has no bundle of trusted roots for OpenSSL to find");
        };
        let junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let mixed = format!("{junk}{}not pem at all\n", system.pem);
        let roots = TrustedRoots::from_pem_bundle(mixed.as_bytes()).unwrap();
        assert_eq!(roots.len(), system.len());
        assert!(TrustedRoots::from_pem_bundle(junk.as_bytes()).is_none());
        assert!(TrustedRoots::from_pem_bundle(b"").is_none());
    }
}
