//! The `wxmsg` binary, run as a process exactly as a user would.

mod common;

use common::*;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::thread;
use wxcomponent::Secret;
use wxcomponent::crypto::{MessageCrypto, PushQuery};

fn wxmsg(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wxmsg"));
    cmd.args(args)
        // The caller's environment must not fill in options the test leaves out.
        .env_remove("WECHAT_TOKEN")
        .env_remove("WECHAT_ENCODING_AES_KEY")
        .env_remove("WECHAT_COMPONENT_APPID")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("wxmsg starts");
    // wxmsg stops reading at its size cap and may exit before taking all of an oversized input.
    match child.stdin.take().unwrap().write_all(stdin) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("writing stdin: {e}"),
        _ => {}
    }
    child.wait_with_output().unwrap()
}

fn decrypt_args(v: &DecryptVector) -> Vec<&str> {
    vec![
        "decrypt",
        "--token",
        &v.token,
        "--aes-key",
        &v.encoding_aes_key,
        "--appid",
        &v.appid,
        "--timestamp",
        &v.timestamp,
        "--nonce",
        &v.nonce,
        "--msg-signature",
        &v.msg_signature,
    ]
}

fn assert_fails_cleanly(out: &Output, what: &str) {
    assert_eq!(out.status.code(), Some(1), "{what}: exit code");
    assert!(out.stdout.is_empty(), "{what}: stdout must be empty");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{what}: one line on stderr, got {err:?}"
    );
}

#[test]
fn decrypt_prints_the_exact_plaintext_of_every_decrypt_vector() {
    for v in vectors().decrypt {
        let out = wxmsg(&decrypt_args(&v), &[], v.body().as_bytes());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            v.id,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            v.plaintext,
            "{}",
            v.id
        );
    }
}

#[test]
fn decrypt_fails_with_empty_stdout_on_every_negative_case() {
    let v6 = decrypt_vector("V6");

    let mut n2 = decrypt_args(&v6);
    n2[12] = "invalid-signature";
    let out = wxmsg(&n2, &[], v6.body().as_bytes());
    assert_fails_cleanly(&out, "N2");
    assert!(String::from_utf8_lossy(&out.stderr).contains("msg_signature"));

    let mut n3 = decrypt_args(&v6);
    n3[6] = "invalid appid";
    let out = wxmsg(&n3, &[], v6.body().as_bytes());
    assert_fails_cleanly(&out, "N3");
    assert!(String::from_utf8_lossy(&out.stderr).contains("appid"));

    let doctype = format!("<!DOCTYPE xml [<!ENTITY a \"b\">]>{}", v6.body());
    let too_big = format!("{}{}", v6.body(), " ".repeat(70 * 1024));
    let bodies: [(&str, &[u8]); 5] = [
        ("DTD", doctype.as_bytes()),
        ("no Encrypt", b"<xml><AppId>x</AppId></xml>"),
        ("malformed", b"<xml><Encrypt>abc"),
        ("empty", b""),
        ("too big", too_big.as_bytes()),
    ];
    for (what, body) in bodies {
        assert_fails_cleanly(&wxmsg(&decrypt_args(&v6), &[], body), what);
    }

    let mut bad_key = decrypt_args(&v6);
    bad_key[4] = "too-short";
    assert_fails_cleanly(&wxmsg(&bad_key, &[], v6.body().as_bytes()), "bad key");
}

#[test]
fn error_lines_do_not_echo_the_token_or_the_key() {
    let v6 = decrypt_vector("V6");
    let mut args = decrypt_args(&v6);
    args[12] = "invalid-signature";
    let out = wxmsg(&args, &[], v6.body().as_bytes());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains(&v6.token) && !err.contains(&v6.encoding_aes_key));
}

#[test]
fn encrypt_with_random16_reproduces_e3_byte_for_byte() {
    let e3 = encrypt_vector("E3");
    let (token, ts, nonce) = (e3.token.unwrap(), e3.timestamp.unwrap(), e3.nonce.unwrap());
    let out = wxmsg(
        &[
            "encrypt",
            "--token",
            &token,
            "--aes-key",
            &e3.encoding_aes_key,
            "--appid",
            &e3.appid,
            "--timestamp",
            &ts,
            "--nonce",
            &nonce,
            "--random16",
            &e3.random16,
        ],
        &[],
        e3.plaintext.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        e3.reply_xml.unwrap()
    );
}

#[test]
fn encrypt_with_random16_reproduces_e1s_ciphertext() {
    let e1 = encrypt_vector("E1");
    let out = wxmsg(
        &[
            "encrypt",
            "--token",
            "any",
            "--aes-key",
            &e1.encoding_aes_key,
            "--appid",
            &e1.appid,
            "--timestamp",
            "1",
            "--nonce",
            "2",
            "--random16",
            &e1.random16,
        ],
        &[],
        e1.plaintext.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0));
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(
        xml.contains(&format!("<Encrypt><![CDATA[{}]]></Encrypt>", e1.encrypt)),
        "{xml}"
    );
}

#[test]
fn encrypt_without_random16_still_decrypts_and_a_bad_random16_is_a_usage_error() {
    let key = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
    let base = [
        "encrypt",
        "--token",
        "t",
        "--aes-key",
        key,
        "--appid",
        "wx1",
        "--timestamp",
        "1",
        "--nonce",
        "2",
    ];
    let out = wxmsg(&base, &[], "你好".as_bytes());
    assert_eq!(out.status.code(), Some(0));
    let crypto = MessageCrypto::new(Secret::new("t"), "wx1", common::key(key), None);
    assert_eq!(crypto.decrypt_reply(&out.stdout).unwrap(), "你好");

    for bad in ["short", "seventeen-chars!!", "ääääääää"] {
        let mut args = base.to_vec();
        args.extend(["--random16", bad]);
        let out = wxmsg(&args, &[], b"x");
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn environment_variables_work_instead_of_flags() {
    let v1 = decrypt_vector("V1");
    let env = [
        ("WECHAT_TOKEN", v1.token.as_str()),
        ("WECHAT_ENCODING_AES_KEY", v1.encoding_aes_key.as_str()),
        ("WECHAT_COMPONENT_APPID", v1.appid.as_str()),
    ];
    let out = wxmsg(
        &[
            "decrypt",
            "--timestamp",
            &v1.timestamp,
            "--nonce",
            &v1.nonce,
            "--msg-signature",
            &v1.msg_signature,
        ],
        &env,
        v1.body().as_bytes(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), v1.plaintext);

    // Without them (and without flags) it is a usage error naming the missing option.
    let out = wxmsg(
        &[
            "decrypt",
            "--timestamp",
            "1",
            "--nonce",
            "2",
            "--msg-signature",
            "3",
        ],
        &[],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token"));
}

// ---- push against a loopback server -------------------------------------------------------

struct Received {
    path: String,
    query: Vec<(String, String)>,
    content_type: Option<String>,
    body: Vec<u8>,
}

/// Serve one HTTP request on 127.0.0.1: hand it to `answer`, send back its status and body.
fn serve_once(
    answer: impl FnOnce(&Received) -> (u16, String) + Send + 'static,
) -> (String, thread::JoinHandle<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/callback/component",
        listener.local_addr().unwrap()
    );
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let target = request_line.split_whitespace().nth(1).unwrap().to_owned();
        assert!(request_line.starts_with("POST "), "{request_line}");
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
        let len: usize = headers["content-length"].parse().unwrap();
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let url = url::Url::parse(&format!("http://localhost{target}")).unwrap();
        let received = Received {
            path: url.path().to_owned(),
            query: url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            content_type: headers.get("content-type").cloned(),
            body,
        };
        let (status, reply) = answer(&received);
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
            reply.len()
        )
        .unwrap();
        stream.flush().unwrap();
        received
    });
    (url, handle)
}

const TOKEN: &str = "push-token";
const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID: &str = "wxb11529c136998cb6";

fn server_crypto() -> MessageCrypto {
    MessageCrypto::new(Secret::new(TOKEN), APPID, key(KEY), None)
}

#[test]
fn push_sends_what_wechat_sends_and_prints_the_decrypted_reply() {
    let event = "<xml><ToUserName><![CDATA[gh_3c884a361561]]></ToUserName><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[TESTCOMPONENT_MSG_TYPE_TEXT]]></Content></xml>";
    let (url, server) = serve_once(|req| {
        let q = PushQuery::from_pairs(req.query.iter().map(|(k, v)| (k.as_str(), v.clone())));
        match server_crypto().open_push(&q, &req.body) {
            Ok(push) if push.envelope_to_user_name.as_deref() == Some("gh_3c884a361561") => {
                let reply = server_crypto()
                    .encrypt_reply(
                        "<xml>TESTCOMPONENT_MSG_TYPE_TEXT_callback 回复</xml>",
                        "1700000000",
                        "987654",
                        &[8; 16],
                    )
                    .unwrap();
                (200, reply)
            }
            other => (400, format!("{other:?}")),
        }
    });
    let out = wxmsg(
        &[
            "push",
            "--url",
            &url,
            "--token",
            TOKEN,
            "--aes-key",
            KEY,
            "--appid",
            APPID,
            "--to",
            "gh_3c884a361561",
        ],
        &[],
        event.as_bytes(),
    );
    let received = server.join().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // What the server saw: WeChat's query, in WeChat's order, and the message envelope.
    let names: Vec<_> = received.query.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "signature",
            "timestamp",
            "nonce",
            "encrypt_type",
            "msg_signature"
        ]
    );
    let q: HashMap<_, _> = received.query.iter().cloned().collect();
    assert_eq!(q["encrypt_type"], "aes");
    assert!(q["nonce"].len() >= 6 && q["nonce"].bytes().all(|b| b.is_ascii_digit()));
    let ts: i64 = q["timestamp"].parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - ts).abs() < 60, "timestamp is now");
    assert_eq!(received.path, "/callback/component");
    assert!(received.content_type.unwrap().starts_with("text/xml"));
    let body = String::from_utf8(received.body).unwrap();
    assert!(
        body.starts_with("<xml><ToUserName><![CDATA[gh_3c884a361561]]></ToUserName><Encrypt>"),
        "{body}"
    );

    // What wxmsg printed: status, raw body, and the verified plaintext of the reply.
    assert!(stdout.starts_with("status: 200\n"), "{stdout}");
    assert!(stdout.contains("<MsgSignature>"));
    assert!(
        stdout.ends_with("plaintext:\n<xml>TESTCOMPONENT_MSG_TYPE_TEXT_callback 回复</xml>\n"),
        "{stdout}"
    );
}

#[test]
fn push_of_a_component_event_uses_the_appid_envelope_and_prints_success() {
    let ticket = "<xml><AppId><![CDATA[wxb11529c136998cb6]]></AppId><InfoType><![CDATA[component_verify_ticket]]></InfoType></xml>";
    let (url, server) = serve_once(|req| {
        let q = PushQuery::from_pairs(req.query.iter().map(|(k, v)| (k.as_str(), v.clone())));
        match server_crypto().decrypt_push(&q, &req.body) {
            Ok(plain) if plain.contains("component_verify_ticket") => (200, "success".into()),
            other => (400, format!("{other:?}")),
        }
    });
    let env = [
        ("WECHAT_TOKEN", TOKEN),
        ("WECHAT_ENCODING_AES_KEY", KEY),
        ("WECHAT_COMPONENT_APPID", APPID),
    ];
    let out = wxmsg(&["push", "--url", &url], &env, ticket.as_bytes());
    let received = server.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8(received.body)
            .unwrap()
            .starts_with(&format!("<xml><AppId><![CDATA[{APPID}]]></AppId><Encrypt>"))
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "status: 200\nbody:\nsuccess\n"
    );
}

#[test]
fn push_exits_1_when_the_server_refuses_or_replies_with_a_forged_envelope() {
    let (url, server) = serve_once(|_| (403, "forbidden".into()));
    let out = wxmsg(
        &[
            "push",
            "--url",
            &url,
            "--token",
            TOKEN,
            "--aes-key",
            KEY,
            "--appid",
            APPID,
        ],
        &[],
        b"<xml/>",
    );
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("status: 403\n"));

    let (url, server) = serve_once(|_| {
        let forger = MessageCrypto::new(Secret::new("not-the-token"), APPID, key(KEY), None);
        (
            200,
            forger
                .encrypt_reply("<xml>forged</xml>", "1", "2", &[0; 16])
                .unwrap(),
        )
    });
    let out = wxmsg(
        &[
            "push",
            "--url",
            &url,
            "--token",
            TOKEN,
            "--aes-key",
            KEY,
            "--appid",
            APPID,
        ],
        &[],
        b"<xml/>",
    );
    server.join().unwrap();
    assert_fails_cleanly(&out, "forged reply");
    assert!(String::from_utf8_lossy(&out.stderr).contains("msg_signature"));
}
