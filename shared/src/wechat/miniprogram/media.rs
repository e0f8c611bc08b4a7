//! Media (素材): upload a temporary file (3 days), fetch it back, fetch a permanent one. Authorizer
//! token. Downloads come back as bytes with their content type; a JSON error body is an error.

use crate::wechat::access_tokens::AuthorizerAccessToken;
use crate::wechat::client::{Endpoint, RawResponse, WechatClient};
use crate::wechat::error::WechatError;
use crate::wechat::multipart::FilePart;
use serde::{Deserialize, Serialize};

// An upload creates a new media id each time: not replayed.
pub(crate) const MEDIA_UPLOAD: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/media/upload").not_replayable();
pub(crate) const MEDIA_GET: Endpoint<AuthorizerAccessToken> = Endpoint::new("/cgi-bin/media/get");
pub(crate) const GET_MATERIAL: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/material/get_material");

/// The kinds of temporary media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaType {
    Image,
    Voice,
    Video,
    Thumb,
}

impl MediaType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Voice => "voice",
            Self::Video => "video",
            Self::Thumb => "thumb",
        }
    }
}

/// A file to upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaFile<'a> {
    pub filename: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

/// An uploaded temporary file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UploadedMedia {
    #[serde(rename = "type")]
    pub kind: MediaType,
    /// For thumbnails WeChat names it `thumb_media_id`.
    #[serde(alias = "thumb_media_id")]
    pub media_id: String,
    pub created_at: i64,
}

#[derive(Serialize)]
struct MediaIdBody<'a> {
    media_id: &'a str,
}

impl WechatClient {
    /// `/cgi-bin/media/upload?type=..`: the file travels as the multipart field `media`.
    pub async fn upload_temp_media(
        &self,
        token: &AuthorizerAccessToken,
        kind: MediaType,
        file: &MediaFile<'_>,
    ) -> Result<UploadedMedia, WechatError> {
        let part = FilePart {
            field: "media",
            filename: file.filename,
            content_type: file.content_type,
            bytes: file.bytes,
        };
        self.post_file(&MEDIA_UPLOAD, token, &[("type", kind.as_str())], &part)
            .await
    }

    /// `GET /cgi-bin/media/get`: the file (a video answers JSON with `video_url` instead).
    pub async fn get_temp_media(
        &self,
        token: &AuthorizerAccessToken,
        media_id: &str,
    ) -> Result<RawResponse, WechatError> {
        self.get_raw(&MEDIA_GET, token, &[("media_id", media_id)])
            .await
    }

    /// `/cgi-bin/material/get_material`: a permanent file (news and video answer JSON).
    pub async fn get_material(
        &self,
        token: &AuthorizerAccessToken,
        media_id: &str,
    ) -> Result<RawResponse, WechatError> {
        self.post_json_raw(&GET_MATERIAL, token, &MediaIdBody { media_id })
            .await
    }
}
