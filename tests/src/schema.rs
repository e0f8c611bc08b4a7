//! The table's one definition is the `Table` resource of `template.yaml`. This module reads it (the
//! CloudFormation short tags elsewhere in the file, `!Ref`, `!Sub`..., parse as tagged values and are
//! ignored) and creates the same table for tests and local runs (`make dev`), so there is no second
//! schema to keep in step. A unit test checks that the template declares the keys and indexes the
//! DynamoDB adapter relies on (`wxcomponent::store::schema`).

use std::error::Error as StdError;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use yaml_serde::Value;

/// The SAM template, compiled in so every tool and test reads the same text.
pub const TEMPLATE_YAML: &str = include_str!("../../template.yaml");
/// The logical id of the table in the template.
pub const TABLE_RESOURCE: &str = "Table";

/// What `template.yaml` says about the table.
#[derive(Debug, Clone)]
pub struct TableDefinition {
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub key_schema: Vec<KeySchemaElement>,
    pub global_secondary_indexes: Vec<GlobalSecondaryIndex>,
    pub billing_mode: BillingMode,
    /// The attribute named in `TimeToLiveSpecification`, when enabled.
    pub ttl_attribute: Option<String>,
    /// Deploy-time protections, checked by tests; a local emulator has no use for them.
    pub point_in_time_recovery: bool,
    pub deletion_protection: bool,
    /// `DeletionPolicy` and `UpdateReplacePolicy` are both `Retain`.
    pub retained_by_cloudformation: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("the template is not valid YAML")]
    Yaml(#[source] yaml_serde::Error),
    #[error("the template's table definition is missing or malformed at {0}")]
    Malformed(String),
    #[error("table {0} already exists")]
    AlreadyExists(String),
    #[error("DynamoDB {operation} failed while creating table {table}")]
    Create {
        operation: &'static str,
        table: String,
        #[source]
        source: Box<dyn StdError + Send + Sync + 'static>,
    },
}

fn malformed(path: &str) -> SchemaError {
    SchemaError::Malformed(path.to_owned())
}

fn field<'a>(value: &'a Value, key: &str, path: &str) -> Result<&'a Value, SchemaError> {
    value
        .get(key)
        .ok_or_else(|| malformed(&format!("{path}.{key}")))
}

fn string<'a>(value: &'a Value, key: &str, path: &str) -> Result<&'a str, SchemaError> {
    field(value, key, path)?
        .as_str()
        .ok_or_else(|| malformed(&format!("{path}.{key}")))
}

fn sequence<'a>(value: &'a Value, key: &str, path: &str) -> Result<&'a [Value], SchemaError> {
    field(value, key, path)?
        .as_sequence()
        .map(Vec::as_slice)
        .ok_or_else(|| malformed(&format!("{path}.{key}")))
}

fn read_key_schema(value: &Value, path: &str) -> Result<Vec<KeySchemaElement>, SchemaError> {
    sequence(value, "KeySchema", path)?
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let at = format!("{path}.KeySchema[{i}]");
            let key_type = match string(k, "KeyType", &at)? {
                "HASH" => KeyType::Hash,
                "RANGE" => KeyType::Range,
                _ => return Err(malformed(&format!("{at}.KeyType"))),
            };
            KeySchemaElement::builder()
                .attribute_name(string(k, "AttributeName", &at)?)
                .key_type(key_type)
                .build()
                .map_err(|_| malformed(&at))
        })
        .collect()
}

impl TableDefinition {
    /// Reads the `Table` resource of a SAM/CloudFormation template.
    pub fn from_template(template: &str) -> Result<Self, SchemaError> {
        let doc: Value = yaml_serde::from_str(template).map_err(SchemaError::Yaml)?;
        let resource = field(field(&doc, "Resources", "")?, TABLE_RESOURCE, "Resources")?;
        let base = format!("Resources.{TABLE_RESOURCE}");
        if string(resource, "Type", &base)? != "AWS::DynamoDB::Table" {
            return Err(malformed(&format!("{base}.Type")));
        }
        let retained =
            |policy: &str| resource.get(policy).and_then(Value::as_str) == Some("Retain");
        let retained_by_cloudformation =
            retained("DeletionPolicy") && retained("UpdateReplacePolicy");

        let path = format!("{base}.Properties");
        let props = field(resource, "Properties", &base)?;

        let attribute_definitions = sequence(props, "AttributeDefinitions", &path)?
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let at = format!("{path}.AttributeDefinitions[{i}]");
                let kind = match string(a, "AttributeType", &at)? {
                    "S" => ScalarAttributeType::S,
                    "N" => ScalarAttributeType::N,
                    "B" => ScalarAttributeType::B,
                    _ => return Err(malformed(&format!("{at}.AttributeType"))),
                };
                AttributeDefinition::builder()
                    .attribute_name(string(a, "AttributeName", &at)?)
                    .attribute_type(kind)
                    .build()
                    .map_err(|_| malformed(&at))
            })
            .collect::<Result<Vec<_>, _>>()?;

        let key_schema = read_key_schema(props, &path)?;

        let global_secondary_indexes = match props.get("GlobalSecondaryIndexes") {
            None => Vec::new(),
            Some(_) => sequence(props, "GlobalSecondaryIndexes", &path)?
                .iter()
                .enumerate()
                .map(|(i, g)| {
                    let at = format!("{path}.GlobalSecondaryIndexes[{i}]");
                    let proj_at = format!("{at}.Projection");
                    let proj = field(g, "Projection", &at)?;
                    let projection_type = match string(proj, "ProjectionType", &proj_at)? {
                        "KEYS_ONLY" => ProjectionType::KeysOnly,
                        "INCLUDE" => ProjectionType::Include,
                        "ALL" => ProjectionType::All,
                        _ => return Err(malformed(&format!("{proj_at}.ProjectionType"))),
                    };
                    let non_key = match proj.get("NonKeyAttributes") {
                        None => None,
                        Some(_) => Some(
                            sequence(proj, "NonKeyAttributes", &proj_at)?
                                .iter()
                                .map(|v| v.as_str().map(str::to_owned))
                                .collect::<Option<Vec<_>>>()
                                .ok_or_else(|| malformed(&format!("{proj_at}.NonKeyAttributes")))?,
                        ),
                    };
                    GlobalSecondaryIndex::builder()
                        .index_name(string(g, "IndexName", &at)?)
                        .set_key_schema(Some(read_key_schema(g, &at)?))
                        .projection(
                            Projection::builder()
                                .projection_type(projection_type)
                                .set_non_key_attributes(non_key)
                                .build(),
                        )
                        .build()
                        .map_err(|_| malformed(&at))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };

        let billing_mode = match props.get("BillingMode").and_then(Value::as_str) {
            Some("PAY_PER_REQUEST") => BillingMode::PayPerRequest,
            // Provisioned throughput is not worth supporting for this workload.
            _ => return Err(malformed(&format!("{path}.BillingMode (PAY_PER_REQUEST)"))),
        };

        let ttl_attribute = match props.get("TimeToLiveSpecification") {
            None => None,
            Some(spec) => {
                let at = format!("{path}.TimeToLiveSpecification");
                let enabled = field(spec, "Enabled", &at)?
                    .as_bool()
                    .ok_or_else(|| malformed(&format!("{at}.Enabled")))?;
                enabled
                    .then(|| string(spec, "AttributeName", &at).map(str::to_owned))
                    .transpose()?
            }
        };

        let point_in_time_recovery = props
            .get("PointInTimeRecoverySpecification")
            .and_then(|p| p.get("PointInTimeRecoveryEnabled"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let deletion_protection = props
            .get("DeletionProtectionEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(false);

        Ok(Self {
            attribute_definitions,
            key_schema,
            global_secondary_indexes,
            billing_mode,
            ttl_attribute,
            point_in_time_recovery,
            deletion_protection,
            retained_by_cloudformation,
        })
    }

    /// The definition in the compiled-in `template.yaml`.
    pub fn from_bundled_template() -> Result<Self, SchemaError> {
        Self::from_template(TEMPLATE_YAML)
    }

    /// Creates the table as defined (keys, attributes, indexes, billing, TTL) and waits until it is
    /// active. Point-in-time recovery and deletion protection are left to CloudFormation: they
    /// protect a deployed table, not an emulator's.
    pub async fn create_table(&self, client: &Client, table_name: &str) -> Result<(), SchemaError> {
        let fail = |operation: &'static str| {
            move |e: Box<dyn StdError + Send + Sync>| SchemaError::Create {
                operation,
                table: table_name.to_owned(),
                source: e,
            }
        };
        client
            .create_table()
            .table_name(table_name)
            .set_attribute_definitions(Some(self.attribute_definitions.clone()))
            .set_key_schema(Some(self.key_schema.clone()))
            .set_global_secondary_indexes(
                (!self.global_secondary_indexes.is_empty())
                    .then(|| self.global_secondary_indexes.clone()),
            )
            .billing_mode(self.billing_mode.clone())
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception())
                {
                    SchemaError::AlreadyExists(table_name.to_owned())
                } else {
                    fail("CreateTable")(e.into())
                }
            })?;
        client
            .wait_until_table_exists()
            .table_name(table_name)
            .wait(Duration::from_secs(120))
            .await
            .map_err(|e| fail("DescribeTable")(e.into()))?;
        if let Some(attribute) = &self.ttl_attribute {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(attribute)
                .enabled(true)
                .build()
                .map_err(|e| fail("UpdateTimeToLive")(e.into()))?;
            client
                .update_time_to_live()
                .table_name(table_name)
                .time_to_live_specification(spec)
                .send()
                .await
                .map_err(|e| fail("UpdateTimeToLive")(e.into()))?;
        }
        Ok(())
    }
}

impl TableDefinition {
    /// Like [`TableDefinition::create_table`], but a table of that name that already exists is
    /// fine (for repeated local runs). Returns whether it was created. It does not compare the
    /// existing table's schema.
    pub async fn ensure_table(
        &self,
        client: &Client,
        table_name: &str,
    ) -> Result<bool, SchemaError> {
        match self.create_table(client, table_name).await {
            Ok(()) => Ok(true),
            Err(SchemaError::AlreadyExists(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Reads the table definition from `template` and creates it as `table_name` (for `make dev` and
/// the tests); [`SchemaError::AlreadyExists`] if there is one.
pub async fn create_table_from_template(
    client: &Client,
    template: &str,
    table_name: &str,
) -> Result<TableDefinition, SchemaError> {
    let definition = TableDefinition::from_template(template)?;
    definition.create_table(client, table_name).await?;
    Ok(definition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wxcomponent::store::schema::{
        DUE_AT, DUE_INDEX, DUE_PK, OUTBOX_AT, OUTBOX_INDEX, OUTBOX_PK, OUTBOX_PROJECTED, PK, SK,
        STATUS_INDEX, STATUS_PK, TTL, WORK_AT, WORK_INDEX, WORK_PK,
    };

    fn keys(schema: &[KeySchemaElement]) -> Vec<(&str, KeyType)> {
        schema
            .iter()
            .map(|k| (k.attribute_name(), k.key_type().clone()))
            .collect()
    }

    #[test]
    fn template_declares_the_keys_indexes_and_ttl_the_store_uses() {
        let def = TableDefinition::from_bundled_template().unwrap();
        assert_eq!(
            keys(&def.key_schema),
            [(PK, KeyType::Hash), (SK, KeyType::Range)]
        );
        let index = |name: &str| {
            def.global_secondary_indexes
                .iter()
                .find(|g| g.index_name() == name)
                .unwrap_or_else(|| panic!("index {name} missing"))
        };
        let due = index(DUE_INDEX);
        assert_eq!(
            keys(due.key_schema()),
            [(DUE_PK, KeyType::Hash), (DUE_AT, KeyType::Range)]
        );
        let by_status = index(STATUS_INDEX);
        assert_eq!(
            keys(by_status.key_schema()),
            [(STATUS_PK, KeyType::Hash), (SK, KeyType::Range)]
        );
        let work = index(WORK_INDEX);
        assert_eq!(
            keys(work.key_schema()),
            [(WORK_PK, KeyType::Hash), (WORK_AT, KeyType::Range)]
        );
        let outbox = index(OUTBOX_INDEX);
        assert_eq!(
            keys(outbox.key_schema()),
            [(OUTBOX_PK, KeyType::Hash), (OUTBOX_AT, KeyType::Range)]
        );
        assert_eq!(
            outbox.projection().and_then(|p| p.projection_type()),
            Some(&ProjectionType::Include)
        );
        assert_eq!(
            outbox.projection().map(|p| p.non_key_attributes()),
            Some(&OUTBOX_PROJECTED.map(str::to_owned)[..])
        );
        for g in &def.global_secondary_indexes {
            if g.index_name() == OUTBOX_INDEX {
                continue;
            }
            // The due query and the counts read keys only; projecting more would cost writes.
            assert_eq!(
                g.projection().and_then(|p| p.projection_type()),
                Some(&ProjectionType::KeysOnly)
            );
        }
        let attr_type = |name: &str| {
            def.attribute_definitions
                .iter()
                .find(|a| a.attribute_name() == name)
                .map(|a| a.attribute_type().clone())
        };
        assert_eq!(attr_type(DUE_AT), Some(ScalarAttributeType::N));
        assert_eq!(attr_type(WORK_AT), Some(ScalarAttributeType::N));
        assert_eq!(attr_type(OUTBOX_AT), Some(ScalarAttributeType::N));
        for name in [PK, SK, DUE_PK, STATUS_PK, WORK_PK, OUTBOX_PK] {
            assert_eq!(attr_type(name), Some(ScalarAttributeType::S), "{name}");
        }
        assert_eq!(def.ttl_attribute.as_deref(), Some(TTL));
        assert_eq!(def.billing_mode, BillingMode::PayPerRequest);
    }

    #[test]
    fn template_protects_the_table_from_stack_deletion_and_data_loss() {
        let def = TableDefinition::from_bundled_template().unwrap();
        assert!(
            def.retained_by_cloudformation,
            "Deletion/UpdateReplace policies must be Retain"
        );
        assert!(
            def.deletion_protection,
            "DeletionProtectionEnabled must be true"
        );
        assert!(
            def.point_in_time_recovery,
            "point-in-time recovery must be on"
        );
    }

    // ----- the functions' permissions and secrets -------------------------------------------

    const TABLE_ARN: &str = "!GetAtt Table.Arn";
    const DUE_INDEX_ARN: &str = "!Sub ${Table.Arn}/index/due";
    const STATUS_INDEX_ARN: &str = "!Sub ${Table.Arn}/index/by_status";
    const WORK_INDEX_ARN: &str = "!Sub ${Table.Arn}/index/work";
    const OUTBOX_INDEX_ARN: &str = "!Sub ${Table.Arn}/index/outbox";
    /// The bus the stack creates, or the one `EventBusName` names.
    const EVENT_BUS_ARN: &str = "!If [CreateEventBus, !GetAtt EventBus.Arn, !Sub arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}]";
    const ITEMS: [&str; 4] = [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    ];

    /// What each function may do, from the store methods it calls and the operation the DynamoDB
    /// adapters issue for each: GetItem for every read, PutItem for tickets, leases, audits,
    /// completed codes and ledger claims, UpdateItem for tokens, authorizers and ledger releases,
    /// DeleteItem for leases (every function may renew the component token under a lease); Query
    /// for `list_authorizers` (table) and `count_authorizers_by_status` (by_status index), which
    /// only the api calls, and `authorizer_tokens_due` (due index), which only the refresher calls.
    /// Release campaigns: the api creates them (BatchWriteItem for the apps) and lists them and
    /// their apps (Query on the table); the campaign worker finds active campaigns (by_status) and
    /// due apps (work index) and reads counters (table). A step's outcome and its counters are one
    /// TransactWriteItems, which IAM checks as the PutItem and UpdateItem inside it.
    fn least_privilege(function: &str) -> Vec<(String, String)> {
        let mut grants: Vec<(&str, &str)> = ITEMS.iter().map(|a| (TABLE_ARN, *a)).collect();
        match function {
            // The console lists what the api lists, reads recent events (Query on the table)
            // and starts campaigns too.
            "ApiFunction" | "ConsoleFunction" => grants.extend([
                (TABLE_ARN, "dynamodb:Query"),
                (TABLE_ARN, "dynamodb:BatchWriteItem"),
                (STATUS_INDEX_ARN, "dynamodb:Query"),
            ]),
            "CampaignWorkerFunction" => grants.extend([
                (TABLE_ARN, "dynamodb:Query"),
                (STATUS_INDEX_ARN, "dynamodb:Query"),
                (WORK_INDEX_ARN, "dynamodb:Query"),
            ]),
            "TokenRefresherFunction" => grants.extend([
                (DUE_INDEX_ARN, "dynamodb:Query"),
                (OUTBOX_INDEX_ARN, "dynamodb:Query"),
            ]),
            _ => {}
        }
        // Every function records events with the changes it makes and publishes them; the
        // refresher also drains what is left (Query on the outbox index).
        grants.push((EVENT_BUS_ARN, "events:PutEvents"));
        let mut grants: Vec<(String, String)> = grants
            .into_iter()
            .map(|(r, a)| (r.to_owned(), a.to_owned()))
            .collect();
        grants.sort();
        grants
    }

    /// The secrets each function reads: the component secret everywhere (any function may renew
    /// the component token), the push crypto's for ticket-callback (`TicketCallbackConfig`), the
    /// key digest for the api (`ApiConfig`), the success redirect's signing key for auth-redirect
    /// (`auth_flow_settings`), the console key's digest and the session signing key for the
    /// console (`ConsoleConfig`).
    fn secrets_read(function: &str) -> Vec<&'static str> {
        use wxcomponent::config::{
            API_KEY_SHA256, AUTH_SIGNING_SECRET, COMPONENT_SECRET, CONSOLE_KEY_SHA256,
            ENCODING_AES_KEY, ENCODING_AES_KEY_PREVIOUS, TOKEN,
        };
        let mut secrets = vec![COMPONENT_SECRET];
        match function {
            "TicketCallbackFunction" => {
                secrets.extend([TOKEN, ENCODING_AES_KEY, ENCODING_AES_KEY_PREVIOUS]);
            }
            "ApiFunction" => secrets.push(API_KEY_SHA256),
            "ConsoleFunction" => secrets.extend([CONSOLE_KEY_SHA256, AUTH_SIGNING_SECRET]),
            "AuthRedirectFunction" => secrets.push(AUTH_SIGNING_SECRET),
            _ => {}
        }
        secrets.sort_unstable();
        secrets
    }

    const FUNCTIONS: [&str; 6] = [
        "TicketCallbackFunction",
        "AuthRedirectFunction",
        "ApiFunction",
        "ConsoleFunction",
        "TokenRefresherFunction",
        "CampaignWorkerFunction",
    ];

    /// A template value as text, CloudFormation short tags included (`!GetAtt Table.Arn`).
    fn text(value: &Value) -> String {
        match value {
            Value::String(s) => s.clone(),
            Value::Tagged(t) => format!("{} {}", t.tag, text(&t.value)),
            Value::Sequence(items) => {
                format!(
                    "[{}]",
                    items.iter().map(text).collect::<Vec<_>>().join(", ")
                )
            }
            other => format!("{other:?}"),
        }
    }

    fn template() -> Value {
        yaml_serde::from_str(TEMPLATE_YAML).expect("template.yaml parses")
    }

    /// Every (resource, action) the function's policies allow, sorted.
    fn granted(doc: &Value, function: &str) -> Vec<(String, String)> {
        let props = &doc["Resources"][function]["Properties"];
        let mut grants = Vec::new();
        for policy in props["Policies"].as_sequence().expect("a list of policies") {
            for statement in policy["Statement"].as_sequence().expect("statements") {
                assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{function}");
                let list = |v: &Value| match v.as_sequence() {
                    // A condition's choice (`!If`) is one resource.
                    Some(items) if !matches!(v, Value::Tagged(_)) => {
                        items.iter().map(text).collect::<Vec<_>>()
                    }
                    _ => vec![text(v)],
                };
                for resource in list(&statement["Resource"]) {
                    for action in list(&statement["Action"]) {
                        grants.push((resource.clone(), action));
                    }
                }
            }
        }
        grants.sort();
        grants
    }

    /// The names of the environment variables the function gets (the globals and its own).
    fn environment(doc: &Value, function: &str) -> Vec<String> {
        let mut names = Vec::new();
        for vars in [
            &doc["Globals"]["Function"]["Environment"]["Variables"],
            &doc["Resources"][function]["Properties"]["Environment"]["Variables"],
        ] {
            if let Some(map) = vars.as_mapping() {
                names.extend(map.keys().map(text));
            }
        }
        names
    }

    #[test]
    fn each_function_is_allowed_exactly_the_dynamodb_operations_it_uses() {
        let doc = template();
        for function in FUNCTIONS {
            assert_eq!(
                granted(&doc, function),
                least_privilege(function),
                "{function}"
            );
        }
        // The DynamoDB endpoint's policy (fixed egress IP) allows the union and nothing more.
        let endpoint = &doc["Resources"]["EgressDynamoDbEndpoint"]["Properties"]["PolicyDocument"];
        let mut allowed: Vec<String> = endpoint["Statement"][0]["Action"]
            .as_sequence()
            .expect("actions")
            .iter()
            .map(text)
            .collect();
        allowed.sort();
        let mut union: Vec<String> = FUNCTIONS
            .iter()
            .flat_map(|f| least_privilege(f).into_iter().map(|(_, a)| a))
            .filter(|a| a.starts_with("dynamodb:"))
            .collect();
        union.sort();
        union.dedup();
        assert_eq!(allowed, union);
    }

    #[test]
    fn each_function_gets_only_the_secrets_it_reads() {
        use wxcomponent::config::{
            API_KEY_SHA256, AUTH_SIGNING_SECRET, COMPONENT_SECRET, CONSOLE_KEY_SHA256,
            ENCODING_AES_KEY, ENCODING_AES_KEY_PREVIOUS, TOKEN,
        };
        let secrets = [
            COMPONENT_SECRET,
            TOKEN,
            ENCODING_AES_KEY,
            ENCODING_AES_KEY_PREVIOUS,
            API_KEY_SHA256,
            AUTH_SIGNING_SECRET,
            CONSOLE_KEY_SHA256,
        ];
        let doc = template();
        for function in FUNCTIONS {
            let mut given: Vec<&str> = environment(&doc, function)
                .iter()
                .filter_map(|name| secrets.iter().find(|s| **s == name.as_str()).copied())
                .collect();
            given.sort_unstable();
            assert_eq!(given, secrets_read(function), "{function}");
        }
    }

    #[test]
    fn cloudformation_short_tags_elsewhere_do_not_break_parsing() {
        let template = r#"
Globals:
  Function:
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
        URL: !Sub "https://${HttpApi}.example/${AWS::Region}"
        ARN: !GetAtt Table.Arn
Resources:
  Other:
    Type: AWS::Serverless::Function
    Properties:
      Policies: [!Ref Whatever]
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
"#;
        let def = TableDefinition::from_template(template).unwrap();
        assert_eq!(keys(&def.key_schema), [("pk", KeyType::Hash)]);
        assert!(def.global_secondary_indexes.is_empty());
        assert_eq!(def.ttl_attribute, None);
        assert!(!def.retained_by_cloudformation);
    }

    #[test]
    fn a_template_without_a_table_is_refused_with_the_path() {
        let err = TableDefinition::from_template("Resources:\n  Api: {Type: X}\n").unwrap_err();
        assert!(err.to_string().contains("Resources.Table"), "{err}");
        let err = TableDefinition::from_template(
            "Resources:\n  Table:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      BillingMode: PAY_PER_REQUEST\n      AttributeDefinitions: []\n      KeySchema:\n        - {AttributeName: pk, KeyType: SIDEWAYS}\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("KeyType"), "{err}");
    }
}
