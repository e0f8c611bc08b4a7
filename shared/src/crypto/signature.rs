//! SHA-1 signatures over the sorted concatenation of their parts.

use super::ct_eq;
use sha1::{Digest, Sha1};

/// `hex(sha1(concat(sort(parts))))`, lower-case hex. The sort is a plain byte-wise one.
pub fn sha1_signature(parts: &[&str]) -> String {
    let mut sorted: Vec<&str> = parts.to_vec();
    sorted.sort_unstable();
    let mut hasher = Sha1::new();
    for part in sorted {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The `msg_signature` of a push or `MsgSignature` of a reply.
pub fn msg_signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    sha1_signature(&[token, timestamp, nonce, encrypt])
}

/// The plain `signature` query parameter of a push (also used for URL verification).
pub fn plain_signature(token: &str, timestamp: &str, nonce: &str) -> String {
    sha1_signature(&[token, timestamp, nonce])
}

/// Constant-time check of a received `msg_signature`. Case matters: WeChat sends lower-case hex.
pub fn verify_msg_signature(
    token: &str,
    timestamp: &str,
    nonce: &str,
    encrypt: &str,
    received: &str,
) -> bool {
    ct_eq(
        msg_signature(token, timestamp, nonce, encrypt).as_bytes(),
        received.as_bytes(),
    )
}

/// Constant-time check of a received plain `signature`.
pub fn verify_plain_signature(token: &str, timestamp: &str, nonce: &str, received: &str) -> bool {
    ct_eq(
        plain_signature(token, timestamp, nonce).as_bytes(),
        received.as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_of_the_parts_does_not_matter() {
        assert_eq!(
            sha1_signature(&["b", "a", "c"]),
            sha1_signature(&["c", "b", "a"])
        );
        // sha1("abc")
        assert_eq!(
            sha1_signature(&["c", "a", "b"]),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    #[test]
    fn an_upper_case_copy_of_a_valid_signature_is_refused() {
        let sig = plain_signature("t", "1", "n");
        assert!(verify_plain_signature("t", "1", "n", &sig));
        assert!(!verify_plain_signature("t", "1", "n", &sig.to_uppercase()));
        assert!(!verify_plain_signature("t", "1", "n", ""));
    }
}
