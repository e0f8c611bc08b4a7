//! Interoperability with wechatpy, an independent and widely used implementation: pushes it
//! encrypts open with ours, and replies we encrypt open with it.
//!
//! The Python interpreter is `WXC_PYTHON`, else `<workspace>/.tools/venv/bin/python` (which
//! `make test` installs). Without one the test fails: it is never skipped silently.

use rand::{Rng as _, RngExt as _};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use wxcomponent::Secret;
use wxcomponent::crypto::{AesKey, MessageCrypto, PushQuery, parse_envelope, plain_signature};

const CASES: usize = 200;

#[derive(Serialize)]
struct Case {
    id: usize,
    token: String,
    encoding_aes_key: String,
    appid: String,
    message: String,
    timestamp: String,
    nonce: String,
    our_reply: String,
}

#[derive(Serialize)]
struct Request<'a> {
    cases: &'a [Case],
}

#[derive(Deserialize)]
struct Response {
    results: Vec<CaseResult>,
}

#[derive(Deserialize)]
struct CaseResult {
    id: usize,
    their_reply: Option<String>,
    decrypted: Option<String>,
    error: Option<String>,
}

fn python() -> PathBuf {
    let candidates: Vec<PathBuf> = std::env::var_os("WXC_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::iter::once(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/python"),
        ))
        .collect();
    for p in &candidates {
        let works = Command::new(p)
            .args(["-c", "import wechatpy.crypto"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if works {
            return p.clone();
        }
    }
    panic!(
        "no Python with wechatpy found (tried {candidates:?}); run `make test`, which installs it \
         into .tools/venv, or set WXC_PYTHON"
    );
}

/// A string of `alphabet` characters with a length drawn from `len`.
fn random_string(rng: &mut impl rand::Rng, alphabet: &[u8], len: std::ops::Range<usize>) -> String {
    let n = rng.random_range(len);
    (0..n)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Messages of every shape the test wants: empty, ASCII XML, CJK, mixed, and block-aligned.
fn message(rng: &mut impl rand::Rng, i: usize, appid_len: usize) -> String {
    const CJK: &[char] = &[
        '你', '好', '微', '信', '第', '三', '方', '平', '台', '。', '😀',
    ];
    match i % 5 {
        0 if i % 10 == 0 => String::new(),
        0 => {
            let n = rng.random_range(1..300);
            (0..n)
                .map(|_| CJK[rng.random_range(0..CJK.len())])
                .collect()
        }
        1 => format!(
            "<xml><ToUserName><![CDATA[gh_{}]]></ToUserName><Content><![CDATA[{}]]></Content></xml>",
            random_string(rng, ALNUM, 12..13),
            random_string(rng, ALNUM, 0..500),
        ),
        2 => {
            // Padded length an exact multiple of 32: a whole block of padding.
            let base = 20 + appid_len;
            let len = (32 - base % 32) % 32 + 32 * rng.random_range(0..6);
            random_string(rng, ALNUM, len..len + 1)
        }
        3 => {
            let n = rng.random_range(0..200);
            (0..n)
                .map(|_| {
                    if rng.random_bool(0.5) {
                        CJK[rng.random_range(0..CJK.len())]
                    } else {
                        char::from(ALNUM[rng.random_range(0..ALNUM.len())])
                    }
                })
                .collect()
        }
        _ => random_string(rng, b"abc <>&'\"=/\n\t", 0..100),
    }
}

#[test]
fn messages_encrypted_by_wechatpy_open_with_ours_and_ours_open_with_wechatpy() {
    let python = python();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/wechatpy_peer.py");
    let mut rng = rand::rng();

    let mut cases = Vec::with_capacity(CASES);
    let mut cryptos = Vec::with_capacity(CASES);
    for id in 0..CASES {
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        let key = AesKey::from_bytes(key);
        let appid = format!("wx{}", random_string(&mut rng, b"0123456789abcdef", 16..17));
        let token = random_string(&mut rng, ALNUM, 3..33);
        let msg = message(&mut rng, id, appid.len());
        if id % 5 == 2 {
            assert_eq!((20 + msg.len() + appid.len()) % 32, 0);
        }
        let timestamp = rng
            .random_range(1_400_000_000u64..2_000_000_000)
            .to_string();
        let nonce = random_string(&mut rng, b"0123456789", 10..11);
        let mut random16 = [0u8; 16];
        rng.fill_bytes(&mut random16);
        let crypto =
            MessageCrypto::new(Secret::new(token.clone()), appid.clone(), key.clone(), None);
        let our_reply = crypto
            .encrypt_reply(&msg, &timestamp, &nonce, &random16)
            .unwrap();
        cases.push(Case {
            id,
            token,
            encoding_aes_key: key.to_encoding_aes_key(),
            appid,
            message: msg,
            timestamp,
            nonce,
            our_reply,
        });
        cryptos.push(crypto);
    }

    let input = serde_json::to_vec(&Request { cases: &cases }).unwrap();
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {python:?}: {e}; run `make test`"));
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "wechatpy peer failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let response: Response = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(response.results.len(), CASES);

    for (case, result) in cases.iter().zip(&response.results) {
        let crypto = &cryptos[case.id];
        assert_eq!(result.id, case.id);
        assert_eq!(
            result.error, None,
            "case {}: wechatpy reported an error",
            case.id
        );

        // Ours, opened by wechatpy.
        assert_eq!(
            result.decrypted.as_deref(),
            Some(case.message.as_str()),
            "case {}",
            case.id
        );

        // wechatpy's, opened by ours: as a reply, and re-wrapped as a push.
        let theirs = result.their_reply.as_deref().unwrap();
        assert_eq!(
            crypto.decrypt_reply(theirs.as_bytes()).unwrap(),
            case.message,
            "case {}",
            case.id
        );
        let envelope = parse_envelope(theirs.as_bytes()).unwrap();
        let query = PushQuery {
            timestamp: Some(case.timestamp.clone()),
            nonce: Some(case.nonce.clone()),
            msg_signature: envelope.msg_signature.clone(),
            signature: Some(plain_signature(&case.token, &case.timestamp, &case.nonce)),
            encrypt_type: Some("aes".into()),
        };
        let push_body = format!(
            "<xml><AppId><![CDATA[{}]]></AppId><Encrypt><![CDATA[{}]]></Encrypt></xml>",
            case.appid, envelope.encrypt
        );
        assert_eq!(
            crypto.decrypt_push(&query, push_body.as_bytes()).unwrap(),
            case.message,
            "case {}",
            case.id
        );
    }
}
