//! A `multipart/form-data` body with one file part: what WeChat's upload endpoints take
//! (`/cgi-bin/media/upload` wants the part named `media`, `uploadprivacyextfile` wants `file`).
//!
//! Built by hand rather than with reqwest's multipart form, so the body is plain bytes that a retry
//! can resend unchanged.

/// One file to upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilePart<'a> {
    /// The form field WeChat expects the file in.
    pub field: &'a str,
    /// The file name WeChat sees (it uses the extension to guess the type).
    pub filename: &'a str,
    /// The part's content type, e.g. `image/jpeg`.
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

impl FilePart<'_> {
    /// The request's `Content-Type` (with its boundary) and the encoded body.
    pub(crate) fn encode(&self) -> (String, Vec<u8>) {
        let boundary = self.boundary();
        let mut body = Vec::with_capacity(self.bytes.len() + 256);
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        body.extend_from_slice(
            format!(
                "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\n",
                quote(self.field),
                quote(self.filename)
            )
            .as_bytes(),
        );
        body.extend_from_slice(format!("Content-Type: {}\r\n\r\n", self.content_type).as_bytes());
        body.extend_from_slice(self.bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={boundary}"), body)
    }

    /// A random boundary, redrawn in the (astronomically unlikely) case the file contains it.
    fn boundary(&self) -> String {
        loop {
            let candidate = format!("wxcomponent-{}", uuid::Uuid::new_v4().simple());
            if !contains(self.bytes, candidate.as_bytes()) {
                return candidate;
            }
        }
    }
}

/// Header parameters are quoted strings: escape what would end them.
fn quote(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace(['\r', '\n'], " ")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_one_named_part_between_boundaries() {
        let part = FilePart {
            field: "media",
            filename: "a\"b.jpg",
            content_type: "image/jpeg",
            bytes: b"\xff\xd8\xff",
        };
        let (content_type, body) = part.encode();
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains("name=\"media\"; filename=\"a\\\"b.jpg\""));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
        assert!(contains(&body, b"\r\n\r\n\xff\xd8\xff\r\n"));
    }
}
