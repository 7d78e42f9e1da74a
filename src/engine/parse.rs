//! Reading rules from JSON: syntax and shape errors with the path of the
//! node they are about (`root.children[2].op`), and unknown operators listed.

use std::fmt;

use serde_json::Value as Json;

use super::rule::*;

/// Where a node sits in a rule: `root`, `root.children[2]`,
/// `root.children[2].value`. One type for every path, so that lookups by
/// path are typed and hashed rather than strings searched.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct NodePath(String);

impl NodePath {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for NodePath {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for NodePath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for NodePath {
    fn from(s: String) -> NodePath {
        NodePath(s)
    }
}

impl From<&str> for NodePath {
    fn from(s: &str) -> NodePath {
        NodePath(s.to_string())
    }
}

impl From<&String> for NodePath {
    fn from(s: &String) -> NodePath {
        NodePath(s.clone())
    }
}

impl PartialEq<str> for NodePath {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for NodePath {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for NodePath {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

/// A rule problem, with the path of the node it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    pub path: NodePath,
    pub message: String,
    pub kind: RuleErrorKind,
}

/// What kind of problem a rule has, for code that must tell them apart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RuleErrorKind {
    /// A value, field, operator or shape that is not valid here.
    #[default]
    Invalid,
    /// A segment or score that (through others) refers to itself.
    Cycle,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for RuleError {}

pub(super) fn cycle_err<T>(path: &str, message: impl Into<String>) -> Result<T, RuleError> {
    Err(RuleError {
        kind: RuleErrorKind::Cycle,
        path: NodePath::from(path.to_string()),
        message: message.into(),
    })
}

pub(super) fn err<T>(path: &str, message: impl Into<String>) -> Result<T, RuleError> {
    Err(RuleError {
        kind: RuleErrorKind::Invalid,
        path: NodePath::from(path.to_string()),
        message: message.into(),
    })
}

/// Reads a rule from JSON text. Syntax and shape errors name the path too.
pub fn parse_rule(json: &str) -> Result<Rule, RuleError> {
    let v: Json = serde_json::from_str(json).map_err(|e| RuleError {
        kind: RuleErrorKind::Invalid,
        path: "rule".into(),
        message: format!(
            "not valid JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        ),
    })?;
    rule_from_json(&v)
}

/// Reads a rule from parsed JSON.
pub fn rule_from_json(v: &Json) -> Result<Rule, RuleError> {
    let Some(obj) = v.as_object() else {
        return err(
            "rule",
            "expected an object like {\"version\": 1, \"root\": {…}}",
        );
    };
    only_keys(obj, &["version", "root"], "rule")?;
    let version = match obj.get("version") {
        Some(Json::Number(n)) => n.as_u64().unwrap_or(0),
        Some(other) => return err("version", format!("expected a number, got {other}")),
        None => return err("version", "missing; this Prism writes version 1"),
    };
    if version != RULE_FORMAT_VERSION as u64 {
        return err(
            "version",
            format!(
                "rule format version {version} is not supported (this Prism reads version {RULE_FORMAT_VERSION})"
            ),
        );
    }
    let Some(root) = obj.get("root") else {
        return err("rule", "missing \"root\"");
    };
    Ok(Rule {
        version: RULE_FORMAT_VERSION,
        root: node_from_json(root, "root")?,
    })
}

fn only_keys(
    obj: &serde_json::Map<String, Json>,
    keys: &[&str],
    path: &str,
) -> Result<(), RuleError> {
    for k in obj.keys() {
        if !keys.contains(&k.as_str()) {
            return err(
                path,
                format!("unknown key {k:?} (expected {})", keys.join(", ")),
            );
        }
    }
    Ok(())
}

/// Reads one node, so that errors inside it carry its path.
pub fn node_from_json(v: &Json, path: &str) -> Result<Node, RuleError> {
    let Some(obj) = v.as_object() else {
        return err(path, format!("expected a node object, got {v}"));
    };
    let ty = match obj.get("type") {
        Some(Json::String(t)) => t.as_str(),
        _ => {
            return err(
                path,
                "missing \"type\" (group, profile, event, segment or trait)",
            );
        }
    };
    let mut rest = obj.clone();
    rest.remove("type");
    let rest = Json::Object(rest);
    Ok(match ty {
        "group" => {
            only_keys(obj, &["type", "not", "match", "children"], path)?;
            let not = match obj.get("not") {
                None => false,
                Some(Json::Bool(b)) => *b,
                Some(other) => {
                    return err(
                        &format!("{path}.not"),
                        format!("expected true or false, got {other}"),
                    );
                }
            };
            let combine = match obj.get("match").and_then(Json::as_str) {
                Some("all") => Combine::All,
                Some("any") => Combine::Any,
                _ => return err(&format!("{path}.match"), "expected \"all\" or \"any\""),
            };
            let children = match obj.get("children") {
                None => Vec::new(),
                Some(Json::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, c)| node_from_json(c, &format!("{path}.children[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?,
                Some(other) => {
                    return err(
                        &format!("{path}.children"),
                        format!("expected a list of nodes, got {other}"),
                    );
                }
            };
            Node::Group(Group {
                not,
                combine,
                children,
            })
        }
        "profile" => Node::Profile(typed(&rest, path)?),
        "event" => Node::Event(typed(&rest, path)?),
        "segment" => Node::Segment(typed(&rest, path)?),
        "trait" => Node::Trait(typed(&rest, path)?),
        other => {
            return err(
                path,
                format!(
                    "unknown node type {other:?} (use group, profile, event, segment or trait)"
                ),
            );
        }
    })
}

fn typed<T: serde::de::DeserializeOwned>(v: &Json, path: &str) -> Result<T, RuleError> {
    serde_path_to_error::deserialize(v.clone()).map_err(|e| {
        let inner_path = e.path().to_string();
        let full = if inner_path == "." || inner_path.is_empty() {
            path.to_string()
        } else {
            format!("{path}.{inner_path}")
        };
        let message = e.into_inner().to_string();
        // An operator that is not one: list the ones there are.
        let bad_op = (inner_path == "op")
            .then(|| v.get("op").and_then(Json::as_str))
            .flatten()
            .filter(|op| !Op::ALL.iter().any(|o| o.key() == *op));
        let message = if let Some(bad) = bad_op {
            format!(
                "unknown operator {bad:?} (operators: {})",
                Op::ALL
                    .iter()
                    .map(|o| o.key())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            message
        };
        RuleError {
            kind: RuleErrorKind::Invalid,
            path: NodePath::from(full),
            message,
        }
    })
}

pub fn parse_score_model(json: &str) -> Result<ScoreModel, RuleError> {
    let de = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(de).map_err(|e| RuleError {
        kind: RuleErrorKind::Invalid,
        path: NodePath::from(e.path().to_string()),
        message: e.into_inner().to_string(),
    })
}
