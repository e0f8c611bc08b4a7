//! The merchant's authorization pages (`/auth`), rendered by askama from `shared/templates/auth/`
//! (every value escaped), in Chinese unless the browser prefers English, with the provider's name
//! (`BRAND_NAME`) when one is set.

use askama::Template;

use super::auth_flow::AuthStart;
use crate::store::Authorizer;

/// The languages of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Simplified Chinese, the default.
    #[default]
    Zh,
    En,
}

impl Lang {
    /// The first of Chinese and English in the browser's `Accept-Language` preference order;
    /// Chinese when it names neither (or there is no header).
    pub fn from_accept_language(header: Option<&str>) -> Self {
        let Some(header) = header else {
            return Self::Zh;
        };
        accept_language::parse(header)
            .iter()
            .find_map(|tag| {
                let primary = tag.split('-').next().unwrap_or_default();
                match primary.to_ascii_lowercase().as_str() {
                    "zh" => Some(Self::Zh),
                    "en" => Some(Self::En),
                    _ => None,
                }
            })
            .unwrap_or_default()
    }

    /// The page's `lang` attribute.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Zh => "zh-CN",
            Self::En => "en",
        }
    }

    fn texts(self) -> &'static Texts {
        match self {
            Self::Zh => &ZH,
            Self::En => &EN,
        }
    }
}

/// The fixed texts of the launch and success pages, per language.
pub struct Texts {
    pub launch_title: &'static str,
    pub launch_heading: &'static str,
    pub launch_text: &'static str,
    pub launch_button: &'static str,
    pub success_title: &'static str,
    pub success_before: &'static str,
    pub success_after: &'static str,
}

const ZH: Texts = Texts {
    launch_title: "授权",
    launch_heading: "授权给服务商",
    launch_text: "授权后，服务商可以代为管理您的公众号或小程序。微信会请您用账号管理员的微信扫码或确认。",
    launch_button: "去授权",
    success_title: "授权成功",
    success_before: "服务商现在可以代为管理 ",
    success_after: "。您可以关闭此页面。",
};

const EN: Texts = Texts {
    launch_title: "Authorize",
    launch_heading: "Authorize the platform",
    launch_text: "Authorize this platform to manage your official account or mini program. WeChat asks you to confirm with the account administrator's WeChat.",
    launch_button: "Authorize",
    success_title: "Authorized",
    success_before: "The platform now manages ",
    success_after: ". You can close this page.",
};

/// What went wrong, for the page that says so: a fixed text, never an error's detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The launch link's options cannot be used.
    InvalidRequest,
    /// No callback URL can be had (a configuration problem).
    Unavailable,
    /// WeChat could not be reached for a pre-auth code.
    WechatUnreachable,
    /// The callback carries no auth code.
    MissingCode,
    /// The callback is not this browser's flow.
    StateRefused,
    /// The auth code does not have WeChat's shape.
    MalformedCode,
    /// WeChat refused the auth code: expired or used.
    CodeRejected,
    /// The authorization could not be completed now; a reload may work.
    CompletionFailed,
    /// Anything else.
    Internal,
}

impl Notice {
    /// Title, message and the link's text, in `lang`.
    fn texts(self, lang: Lang) -> (&'static str, &'static str, &'static str) {
        use Notice::*;
        match (self, lang) {
            (InvalidRequest, Lang::Zh) => (
                "授权链接无效",
                "您打开的授权链接无效，请向服务商索取新的链接。",
                "返回",
            ),
            (InvalidRequest, Lang::En) => (
                "Invalid authorization request",
                "The link you followed is not valid.",
                "Try again",
            ),
            (Unavailable, Lang::Zh) => ("暂时无法授权", "授权暂时不可用，请稍后再试。", "重试"),
            (Unavailable, Lang::En) => (
                "Something went wrong",
                "Authorization is not available right now.",
                "Try again",
            ),
            (WechatUnreachable, Lang::Zh) => {
                ("请稍后再试", "暂时无法连接微信，请稍后再试。", "重试")
            }
            (WechatUnreachable, Lang::En) => (
                "Please try again",
                "WeChat could not be reached. Please try again in a moment.",
                "Try again",
            ),
            (MissingCode, Lang::Zh) => (
                "授权回调无效",
                "这个页面缺少授权码，请回到授权页重新发起授权。",
                "重新发起授权",
            ),
            (MissingCode, Lang::En) => (
                "Invalid authorization callback",
                "This page was opened without an authorization code.",
                "Start again",
            ),
            (StateRefused, Lang::Zh) => (
                "无法确认这次授权",
                "这个授权回调不是由当前浏览器发起的授权返回的：链接可能已经用过、已经过期，或者是在另一个浏览器中打开的。请回到授权页重新发起授权。",
                "重新发起授权",
            ),
            (StateRefused, Lang::En) => (
                "This authorization cannot be confirmed",
                "This callback does not come back to an authorization started in this browser: the link may be used, expired, or opened in another browser. Please start again.",
                "Start again",
            ),
            (MalformedCode, Lang::Zh) => (
                "授权码无效",
                "链接中的授权码格式不正确，无法完成授权。请回到授权页重新发起授权。",
                "重新发起授权",
            ),
            (MalformedCode, Lang::En) => (
                "Invalid authorization code",
                "The authorization code in the link is malformed. Please start again.",
                "Start again",
            ),
            (CodeRejected, Lang::Zh) => (
                "授权已过期",
                "授权码已失效（几分钟后过期，且只能使用一次），请重新发起授权。",
                "重新发起授权",
            ),
            (CodeRejected, Lang::En) => (
                "This authorization link has expired",
                "The authorization code is no longer valid (it expires after a few minutes and works once). Please start again.",
                "Start again",
            ),
            (CompletionFailed, Lang::Zh) => {
                ("请稍后再试", "暂时无法完成授权，请稍后刷新此页面。", "重试")
            }
            (CompletionFailed, Lang::En) => (
                "Please try again",
                "The authorization could not be completed right now. Reload this page in a moment.",
                "Try again",
            ),
            (Internal, Lang::Zh) => ("出错了", "请稍后再试。", "重试"),
            (Internal, Lang::En) => (
                "Something went wrong",
                "Please try again later.",
                "Try again",
            ),
        }
    }
}

#[derive(Template)]
#[template(path = "auth/launch.html")]
struct LaunchPage<'a> {
    lang: Lang,
    brand: Option<&'a str>,
    t: &'static Texts,
    href: String,
}

#[derive(Template)]
#[template(path = "auth/success.html")]
struct SuccessPage<'a> {
    lang: Lang,
    brand: Option<&'a str>,
    t: &'static Texts,
    name: &'a str,
    appid: &'a str,
}

#[derive(Template)]
#[template(path = "auth/notice.html")]
struct NoticePage<'a> {
    lang: Lang,
    brand: Option<&'a str>,
    title: &'a str,
    message: &'a str,
    link: &'a str,
    link_id: &'a str,
    href: Option<&'a str>,
}

/// A page that renders: the templates are checked at compile time, so only a failing `Display`
/// of a value could fail, and none of these values has one that can.
fn rendered(result: askama::Result<String>) -> String {
    result.unwrap_or_else(|e| {
        tracing::error!(error = %e, "a page did not render");
        String::new()
    })
}

/// The pages in one language, for one provider.
#[derive(Debug, Clone, Copy)]
pub struct Pages<'a> {
    pub lang: Lang,
    /// `BRAND_NAME`, shown on every page when set.
    pub brand: Option<&'a str>,
}

impl Pages<'_> {
    /// The launch page: one link to `auth/go` with the request's options. The link is relative,
    /// so it works under any prefix (an API Gateway stage, `cargo lambda watch`'s `/lambda-url/<fn>`).
    pub fn launch(&self, start: &AuthStart) -> String {
        rendered(
            LaunchPage {
                lang: self.lang,
                brand: self.brand,
                t: self.lang.texts(),
                href: format!("auth/go?{}", start.query_string()),
            }
            .render(),
        )
    }

    /// Shown after a successful authorization; names the account (from WeChat: untrusted, escaped).
    pub fn success(&self, authorizer: &Authorizer) -> String {
        let name = authorizer
            .account
            .as_ref()
            .map(|a| a.nick_name.as_str())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(authorizer.appid.as_str());
        rendered(
            SuccessPage {
                lang: self.lang,
                brand: self.brand,
                t: self.lang.texts(),
                name,
                appid: authorizer.appid.as_str(),
            }
            .render(),
        )
    }

    /// A page saying what went wrong, with a link to `href` (start again, try again).
    pub fn notice(&self, notice: Notice, href: &str) -> String {
        let (title, message, link) = notice.texts(self.lang);
        self.message(title, message, Some(("restart", link, href)))
    }

    /// A page of a fixed `title` and `message` (never an error's detail), with a link
    /// `(id, text, href)` when given.
    pub fn message(&self, title: &str, message: &str, link: Option<(&str, &str, &str)>) -> String {
        let (link_id, link, href) = match link {
            Some((id, text, href)) => (id, text, Some(href)),
            None => ("", "", None),
        };
        rendered(
            NoticePage {
                lang: self.lang,
                brand: self.brand,
                title,
                message,
                link,
                link_id,
                href,
            }
            .render(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_unless_the_browser_prefers_english_to_chinese() {
        let cases = [
            (None, Lang::Zh),
            (Some(""), Lang::Zh),
            (Some("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh),
            (Some("en-US,en;q=0.9"), Lang::En),
            (Some("en-GB;q=0.8,zh-TW;q=0.9"), Lang::Zh),
            (Some("fr-FR,en;q=0.5"), Lang::En),
            (Some("fr-FR,de;q=0.5"), Lang::Zh),
            (Some("de,zh-Hans;q=0.3,en;q=0.2"), Lang::Zh),
        ];
        for (header, lang) in cases {
            assert_eq!(Lang::from_accept_language(header), lang, "{header:?}");
        }
    }

    #[test]
    fn every_notice_has_both_languages_and_values_are_escaped() {
        let brand = "<b>Shop & Co</b>";
        for lang in [Lang::Zh, Lang::En] {
            let pages = Pages {
                lang,
                brand: Some(brand),
            };
            let html = pages.notice(Notice::StateRefused, "../auth?a=1&b=\"2\"");
            assert!(html.contains(&format!("lang=\"{}\"", lang.tag())), "{html}");
            assert!(
                html.contains("&#60;b&#62;Shop &#38; Co&#60;/b&#62;"),
                "{html}"
            );
            assert!(!html.contains("<b>Shop"), "{html}");
            assert!(html.contains("id=\"restart\""), "{html}");
        }
        assert!(
            Pages {
                lang: Lang::Zh,
                brand: None
            }
            .notice(Notice::CodeRejected, "../auth")
            .contains("授权已过期")
        );
        assert!(
            !Pages {
                lang: Lang::En,
                brand: None
            }
            .notice(Notice::CodeRejected, "../auth")
            .contains("id=\"brand\"")
        );
    }
}
