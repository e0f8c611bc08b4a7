//! The request the `ticket_callback` target sends, as the fuzzer describes it (derived
//! [`Arbitrary`]), and [`PushRequest::to_fuzz_input`], which writes the bytes that decode to a
//! given description so that seeds can be made from the vectors and the event fixtures.
//!
//! A [`Payload::Signed`] push is signed and encrypted by the target with the component's real
//! crypto, so the fuzzer reaches the event handling behind the signature checks.

use arbitrary::{Arbitrary, Unstructured};
use lambda_http::{Body, Request};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use wxcomponent::MessageCrypto;

/// Bytes that cannot stand in a URI path as they are.
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|');
/// Bytes that cannot stand in a URI query as they are.
const QUERY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct PushRequest {
    pub method: Method,
    pub path: PathChoice,
    pub headers: Vec<Header>,
    /// Last, so that its body or plaintext takes the rest of the input.
    pub payload: Payload,
}

#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Post,
    Get,
    Other(String),
}

#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum PathChoice {
    /// `/wechat/component`
    Component,
    /// `/wechat/message/{appid}`
    Message(String),
    Other(String),
}

#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    pub value: String,
}

#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum HeaderName {
    ContentLength,
    ContentType,
    Other(String),
}

#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A query string and body as given.
    Raw {
        query: String,
        #[arbitrary(with = rest_bytes)]
        body: Vec<u8>,
    },
    /// A push signed and encrypted like WeChat's, then possibly tampered with.
    Signed(SignedPush),
}

#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct SignedPush {
    pub timestamp: Timestamp,
    pub nonce: String,
    pub random16: [u8; 16],
    /// `<ToUserName>` of a message envelope; `None` for a component envelope (`<AppId>`).
    pub to_user_name: Option<String>,
    pub tamper: Tamper,
    /// The decrypted XML (an event or a message).
    pub plaintext: String,
}

#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Timestamp {
    /// The handler's clock.
    Now,
    /// The handler's clock plus this many seconds.
    Offset(i32),
    Text(String),
}

#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Tamper {
    None,
    /// Leave out the plain `signature` (optional in the protocol).
    DropSignature,
    /// Append `&<this>` to the query string.
    AppendQuery(String),
    /// XOR one byte of the body (the index wraps).
    FlipBodyByte {
        at: u16,
        xor: u8,
    },
}

fn rest_bytes(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    Ok(u.bytes(u.len())?.to_vec())
}

impl PushRequest {
    /// The HTTP request, or `None` when the description makes no valid request (a method or URI
    /// that `http` refuses, a plaintext too large to encrypt). Invalid header names and values
    /// are left out.
    pub fn build(&self, crypto: &MessageCrypto, now: i64) -> Option<Request> {
        let method = match &self.method {
            Method::Post => http::Method::POST,
            Method::Get => http::Method::GET,
            Method::Other(m) => http::Method::from_bytes(m.as_bytes()).ok()?,
        };
        let path = match &self.path {
            PathChoice::Component => "/wechat/component".to_owned(),
            PathChoice::Message(appid) => {
                format!("/wechat/message/{}", utf8_percent_encode(appid, PATH))
            }
            PathChoice::Other(p) if p.starts_with('/') => utf8_percent_encode(p, PATH).to_string(),
            PathChoice::Other(p) => format!("/{}", utf8_percent_encode(p, PATH)),
        };
        let (query, body) = match &self.payload {
            Payload::Raw { query, body } => {
                (utf8_percent_encode(query, QUERY).to_string(), body.clone())
            }
            Payload::Signed(push) => push.sign(crypto, now)?,
        };
        let uri = format!("https://callback.example.com{path}?{query}");
        let mut builder = http::Request::builder().method(method).uri(uri);
        for header in &self.headers {
            let name = match &header.name {
                HeaderName::ContentLength => http::header::CONTENT_LENGTH,
                HeaderName::ContentType => http::header::CONTENT_TYPE,
                HeaderName::Other(n) => match http::HeaderName::from_bytes(n.as_bytes()) {
                    Ok(name) => name,
                    Err(_) => continue,
                },
            };
            if let Ok(value) = http::HeaderValue::from_str(&header.value) {
                builder = builder.header(name, value);
            }
        }
        builder.body(Body::from(body)).ok()
    }
}

impl SignedPush {
    /// The query string and body of this push, signed and encrypted with `crypto`.
    fn sign(&self, crypto: &MessageCrypto, now: i64) -> Option<(String, Vec<u8>)> {
        let timestamp = match &self.timestamp {
            Timestamp::Now => now.to_string(),
            Timestamp::Offset(secs) => (now + i64::from(*secs)).to_string(),
            Timestamp::Text(t) => t.clone(),
        };
        let pushed = crypto
            .build_push(
                &self.plaintext,
                &timestamp,
                &self.nonce,
                &self.random16,
                self.to_user_name.as_deref(),
            )
            .ok()?;
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in &pushed.query {
            if !(*name == "signature" && self.tamper == Tamper::DropSignature) {
                query.append_pair(name, value);
            }
        }
        let mut query = query.finish();
        let mut body = pushed.body.into_bytes();
        match &self.tamper {
            Tamper::None | Tamper::DropSignature => {}
            Tamper::AppendQuery(extra) => {
                query.push('&');
                query.extend(utf8_percent_encode(extra, QUERY));
            }
            Tamper::FlipBodyByte { at, xor } => {
                if !body.is_empty() {
                    let i = usize::from(*at) % body.len();
                    body[i] ^= xor;
                }
            }
        }
        Some((query, body))
    }
}

// ----- writing inputs: the inverse of the derived `Arbitrary` (arbitrary 1.x) -------------------

/// Writes the bytes that `arbitrary` decodes into a value: fixed-size values and string contents
/// from the front, string lengths from the back (read last byte first), a trailing field taking
/// the rest. Checked against the real decoder by the tests below.
#[derive(Default)]
struct Writer {
    ops: Vec<Op>,
}

enum Op {
    Front(Vec<u8>),
    /// A length read with `arbitrary_byte_size`, followed by that many front bytes.
    Len(usize),
}

impl Writer {
    fn front(&mut self, bytes: &[u8]) {
        self.ops.push(Op::Front(bytes.to_vec()));
    }

    fn u32(&mut self, v: u32) {
        self.front(&v.to_le_bytes());
    }

    fn bool(&mut self, v: bool) {
        self.front(&[u8::from(v)]);
    }

    /// Variant `index` of an enum with `count` variants: the derive maps a `u32` with
    /// `(u32 * count) >> 32`.
    fn variant(&mut self, index: u32, count: u32) {
        let v = (u64::from(index) << 32).div_ceil(u64::from(count));
        self.u32(u32::try_from(v).expect("index < count"));
    }

    fn string(&mut self, s: &str) {
        self.ops.push(Op::Len(s.len()));
        self.front(s.as_bytes());
    }

    /// The bytes, front and back. How many bytes a length takes depends on how much input is left
    /// when it is read, so the widths are settled by iterating to a fixed point.
    fn finish(self, rest: &[u8]) -> Vec<u8> {
        let fronts: usize = self
            .ops
            .iter()
            .map(|op| match op {
                Op::Front(b) => b.len(),
                Op::Len(_) => 0,
            })
            .sum::<usize>()
            + rest.len();
        let lens = self
            .ops
            .iter()
            .filter(|op| matches!(op, Op::Len(_)))
            .count();
        let mut widths = vec![1usize; lens];
        let lefts = loop {
            let total = fronts + widths.iter().sum::<usize>();
            let (mut used, mut i) = (0, 0);
            let mut lefts = Vec::with_capacity(lens);
            for op in &self.ops {
                match op {
                    Op::Front(b) => used += b.len(),
                    Op::Len(_) => {
                        lefts.push(total - used);
                        used += widths[i];
                        i += 1;
                    }
                }
            }
            let next: Vec<usize> = lefts.iter().map(|&left| size_width(left)).collect();
            if next == widths {
                break lefts;
            }
            widths = next;
        };
        let mut front = Vec::new();
        let mut back: Vec<Vec<u8>> = Vec::new();
        let mut i = 0;
        for op in self.ops {
            match op {
                Op::Front(b) => front.extend_from_slice(&b),
                Op::Len(len) => {
                    let (w, max) = (widths[i], lefts[i].saturating_sub(widths[i]));
                    i += 1;
                    // `int_in_range` reads only as many bytes of its slot as `max` needs,
                    // most significant first.
                    let used = (0..w).take_while(|k| (max as u64) >> (8 * k) > 0).count();
                    let be = (len as u64).to_be_bytes();
                    let mut slot = be[8 - used..].to_vec();
                    slot.resize(w, 0);
                    back.push(slot);
                }
            }
        }
        front.extend_from_slice(rest);
        for slot in back.iter().rev() {
            front.extend_from_slice(slot);
        }
        front
    }
}

/// How many bytes `arbitrary_byte_size` takes for a length when `left` bytes of input remain.
fn size_width(left: usize) -> usize {
    match left {
        0 => 0,
        1..=256 => 1,
        257..=65_537 => 2,
        _ => 4,
    }
}

impl PushRequest {
    /// The fuzz input that decodes to this request.
    pub fn to_fuzz_input(&self) -> Vec<u8> {
        let mut w = Writer::default();
        match &self.method {
            Method::Post => w.variant(0, 3),
            Method::Get => w.variant(1, 3),
            Method::Other(m) => {
                w.variant(2, 3);
                w.string(m);
            }
        }
        match &self.path {
            PathChoice::Component => w.variant(0, 3),
            PathChoice::Message(appid) => {
                w.variant(1, 3);
                w.string(appid);
            }
            PathChoice::Other(p) => {
                w.variant(2, 3);
                w.string(p);
            }
        }
        for header in &self.headers {
            w.bool(true);
            match &header.name {
                HeaderName::ContentLength => w.variant(0, 3),
                HeaderName::ContentType => w.variant(1, 3),
                HeaderName::Other(n) => {
                    w.variant(2, 3);
                    w.string(n);
                }
            }
            w.string(&header.value);
        }
        w.bool(false);
        match &self.payload {
            Payload::Raw { query, body } => {
                w.variant(0, 2);
                w.string(query);
                w.finish(body)
            }
            Payload::Signed(push) => {
                w.variant(1, 2);
                match &push.timestamp {
                    Timestamp::Now => w.variant(0, 3),
                    Timestamp::Offset(secs) => {
                        w.variant(1, 3);
                        w.front(&secs.to_le_bytes());
                    }
                    Timestamp::Text(t) => {
                        w.variant(2, 3);
                        w.string(t);
                    }
                }
                w.string(&push.nonce);
                w.front(&push.random16);
                match &push.to_user_name {
                    None => w.bool(false),
                    Some(to) => {
                        w.bool(true);
                        w.string(to);
                    }
                }
                match &push.tamper {
                    Tamper::None => w.variant(0, 4),
                    Tamper::DropSignature => w.variant(1, 4),
                    Tamper::AppendQuery(extra) => {
                        w.variant(2, 4);
                        w.string(extra);
                    }
                    Tamper::FlipBodyByte { at, xor } => {
                        w.variant(3, 4);
                        w.front(&at.to_le_bytes());
                        w.front(&[*xor]);
                    }
                }
                w.finish(push.plaintext.as_bytes())
            }
        }
    }

    /// Decodes fuzz input as the target does.
    pub fn from_fuzz_input(data: &[u8]) -> arbitrary::Result<Self> {
        Self::arbitrary_take_rest(Unstructured::new(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(plaintext: &str, tamper: Tamper, timestamp: Timestamp) -> Payload {
        Payload::Signed(SignedPush {
            timestamp,
            nonce: "1234567890".into(),
            random16: *b"0123456789abcdef",
            to_user_name: Some("gh_8dad206e9538".into()),
            tamper,
            plaintext: plaintext.into(),
        })
    }

    #[test]
    fn written_inputs_decode_to_the_request_they_describe() {
        let long = "x".repeat(300);
        let longer = "y".repeat(70_000);
        let requests = [
            PushRequest {
                method: Method::Post,
                path: PathChoice::Component,
                headers: vec![],
                payload: Payload::Raw {
                    query: "a=b".into(),
                    body: b"<xml/>".to_vec(),
                },
            },
            PushRequest {
                method: Method::Other("PATCH".into()),
                path: PathChoice::Message("wxd101a85aa106f53e".into()),
                headers: vec![
                    Header {
                        name: HeaderName::ContentLength,
                        value: "5".into(),
                    },
                    Header {
                        name: HeaderName::Other("x-a".into()),
                        value: long.clone(),
                    },
                ],
                payload: signed(&long, Tamper::AppendQuery("z=1".into()), Timestamp::Now),
            },
            PushRequest {
                method: Method::Get,
                path: PathChoice::Other("/".into()),
                headers: vec![Header {
                    name: HeaderName::ContentType,
                    value: String::new(),
                }],
                payload: signed(
                    &longer,
                    Tamper::FlipBodyByte { at: 513, xor: 7 },
                    Timestamp::Offset(-86_401),
                ),
            },
            PushRequest {
                method: Method::Post,
                path: PathChoice::Other(String::new()),
                headers: vec![],
                payload: signed("", Tamper::DropSignature, Timestamp::Text(longer.clone())),
            },
            PushRequest {
                method: Method::Post,
                path: PathChoice::Component,
                headers: vec![],
                payload: Payload::Raw {
                    query: long,
                    body: vec![],
                },
            },
        ];
        for request in requests {
            let input = request.to_fuzz_input();
            let decoded = PushRequest::from_fuzz_input(&input).unwrap();
            assert!(decoded == request, "{:.300}", format!("{decoded:?}"));
        }
    }
}
