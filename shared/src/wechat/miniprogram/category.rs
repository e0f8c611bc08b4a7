//! A mini program's service categories (类目): what may be set, what is set, adding, removing and
//! re-qualifying them, and the categories an audit may name. Authorizer token.

use crate::wechat::access_tokens::AuthorizerAccessToken;
use crate::wechat::client::{Endpoint, WechatClient};
use crate::wechat::component::Ack;
use crate::wechat::error::WechatError;
use serde::{Deserialize, Serialize};

pub(crate) const GET_ALL_CATEGORIES: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/wxopen/getallcategories");
pub(crate) const GET_CATEGORY: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/wxopen/getcategory");
pub(crate) const GET_CATEGORIES_BY_TYPE: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/wxopen/getcategoriesbytype");
pub(crate) const ADD_CATEGORY: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/wxopen/addcategory");
pub(crate) const DELETE_CATEGORY: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/wxopen/deletecategory");
pub(crate) const MODIFY_CATEGORY: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/wxopen/modifycategory");
pub(crate) const GET_AUDIT_CATEGORY: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/get_category");

/// The category tree (`categories_list.categories`): a flat list whose entries point at their
/// `father` and `children`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CategoryTree {
    pub categories: Vec<CategoryNode>,
}

/// One node of the tree. `qualify` (the documents a category needs) stays JSON.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CategoryNode {
    pub id: i64,
    pub name: String,
    pub level: i64,
    pub father: i64,
    pub children: Vec<i64>,
    pub sensitive_type: i64,
    pub qualify: serde_json::Value,
}

#[derive(Deserialize)]
struct CategoryTreeWire {
    #[serde(default)]
    categories_list: CategoryTree,
}

/// The categories set on the account, and how many more may be.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct AccountCategories {
    pub categories: Vec<AccountCategory>,
    pub limit: i64,
    pub quota: i64,
    pub category_limit: i64,
}

/// A category on the account and its audit state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct AccountCategory {
    pub first: i64,
    pub first_name: String,
    pub second: i64,
    pub second_name: String,
    /// 1 under audit, 2 rejected, 3 approved.
    pub audit_status: i64,
    pub audit_reason: String,
}

/// A qualification document: its `key` from the tree's `qualify`, and a media id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    pub key: String,
    pub value: String,
}

/// A category to add or re-qualify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryChange {
    pub first: i64,
    pub second: i64,
    /// WeChat's spelling.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certicates: Vec<Certificate>,
}

/// A category an audit item may name (`first_class`/`first_id` and so on).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct AuditCategory {
    pub first_class: String,
    pub second_class: String,
    pub third_class: String,
    pub first_id: i64,
    pub second_id: i64,
    pub third_id: i64,
}

#[derive(Deserialize)]
struct AuditCategoryWire {
    #[serde(default)]
    category_list: Vec<AuditCategory>,
}

#[derive(Serialize)]
struct VerifyTypeBody {
    verify_type: i64,
}

#[derive(Serialize)]
struct AddBody<'a> {
    categories: &'a [CategoryChange],
}

#[derive(Serialize)]
struct DeleteBody {
    first: i64,
    second: i64,
}

impl WechatClient {
    /// `GET /cgi-bin/wxopen/getallcategories`: every category the account could set.
    pub async fn get_all_categories(
        &self,
        token: &AuthorizerAccessToken,
    ) -> Result<CategoryTree, WechatError> {
        let wire: CategoryTreeWire = self.get(&GET_ALL_CATEGORIES, token, &[]).await?;
        Ok(wire.categories_list)
    }

    /// `GET /cgi-bin/wxopen/getcategory`: the categories set on the account.
    pub async fn get_category(
        &self,
        token: &AuthorizerAccessToken,
    ) -> Result<AccountCategories, WechatError> {
        self.get(&GET_CATEGORY, token, &[]).await
    }

    /// `/cgi-bin/wxopen/getcategoriesbytype`: the tree for a principal type (`verify_type`
    /// 0 company, 1 individual, ...).
    pub async fn get_categories_by_type(
        &self,
        token: &AuthorizerAccessToken,
        verify_type: i64,
    ) -> Result<CategoryTree, WechatError> {
        let wire: CategoryTreeWire = self
            .post_json(
                &GET_CATEGORIES_BY_TYPE,
                token,
                &VerifyTypeBody { verify_type },
            )
            .await?;
        Ok(wire.categories_list)
    }

    /// `/cgi-bin/wxopen/addcategory`.
    pub async fn add_category(
        &self,
        token: &AuthorizerAccessToken,
        categories: &[CategoryChange],
    ) -> Result<(), WechatError> {
        let _: Ack = self
            .post_json(&ADD_CATEGORY, token, &AddBody { categories })
            .await?;
        Ok(())
    }

    /// `/cgi-bin/wxopen/deletecategory`.
    pub async fn delete_category(
        &self,
        token: &AuthorizerAccessToken,
        first: i64,
        second: i64,
    ) -> Result<(), WechatError> {
        let _: Ack = self
            .post_json(&DELETE_CATEGORY, token, &DeleteBody { first, second })
            .await?;
        Ok(())
    }

    /// `/cgi-bin/wxopen/modifycategory`: new qualification documents for a category.
    pub async fn modify_category(
        &self,
        token: &AuthorizerAccessToken,
        change: &CategoryChange,
    ) -> Result<(), WechatError> {
        let _: Ack = self.post_json(&MODIFY_CATEGORY, token, change).await?;
        Ok(())
    }

    /// `GET /wxa/get_category`: the categories an audit request may name.
    pub async fn get_audit_category(
        &self,
        token: &AuthorizerAccessToken,
    ) -> Result<Vec<AuditCategory>, WechatError> {
        let wire: AuditCategoryWire = self.get(&GET_AUDIT_CATEGORY, token, &[]).await?;
        Ok(wire.category_list)
    }
}
