//! Credentials: explicit values, the environment, or the base64 forms users paste into an API.

use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};

use crate::error::{CredentialError, CredentialProblem};
use crate::secret::Secret;

const AWS_INI: &str = "AWS credentials INI";
const GCP_JSON: &str = "GCP service-account JSON";
const AZURE: &str = "Azure account key";

/// How a store authenticates.
///
/// In configuration files (and the HTTP API) credentials take one of these forms:
///
/// ```toml
/// credentials = "environment"                              # AWS_*, GOOGLE_*, AZURE_* variables
/// credentials = { aws_ini_base64 = "W2RlZmF1bHRdCmF3c1...=" }
/// credentials = { gcp_service_account_base64 = "eyJ0eXBlIjoi...=" }
/// credentials = { aws = { access_key_id = "AKIA…", secret_access_key = "…", region = "eu-west-1" } }
/// credentials = { azure = { account = "myaccount", access_key = "…" } }
/// ```
///
/// Base64 values are decoded and checked when the configuration is read, so a bad value is
/// reported with the field at fault before anything is opened. Serializing credentials writes
/// [`crate::REDACTED`] in place of every secret: they are for display, not for round-trips.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
#[serde(into = "CredentialsSpec")]
pub enum Credentials {
    /// Read from the backend's usual environment variables (and, for S3, instance metadata).
    #[default]
    Environment,
    /// An AWS (or S3-compatible) access key.
    Aws(AwsCredentials),
    /// A GCP service-account key.
    Gcp(GcpServiceAccount),
    /// An Azure storage account and its shared key.
    Azure(AzureCredentials),
}

impl Credentials {
    /// Decodes base64 of an AWS credentials INI file and reads profile `[default]` (or the file's
    /// only profile when it has just one).
    ///
    /// ```
    /// use base64::Engine as _;
    /// use tern_storage::Credentials;
    /// let ini = "[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = s3cr3t-value\nregion = eu-west-1\n";
    /// let b64 = base64::engine::general_purpose::STANDARD.encode(ini);
    /// let Credentials::Aws(aws) = Credentials::from_aws_ini_base64(&b64)? else { unreachable!() };
    /// assert_eq!(aws.region.as_deref(), Some("eu-west-1"));
    /// assert_eq!(format!("{aws:?}").contains("s3cr3t"), false);
    /// # Ok::<(), tern_storage::CredentialError>(())
    /// ```
    pub fn from_aws_ini_base64(encoded: &str) -> Result<Self, CredentialError> {
        let text = decode_base64_text(encoded, AWS_INI)?;
        AwsCredentials::from_ini(&text, None).map(Self::Aws)
    }

    /// Decodes base64 of a GCP service-account JSON key.
    pub fn from_gcp_service_account_base64(encoded: &str) -> Result<Self, CredentialError> {
        let text = decode_base64_text(encoded, GCP_JSON)?;
        GcpServiceAccount::from_json(&text).map(Self::Gcp)
    }

    /// Every secret value these credentials hold, for redaction of third-party messages.
    pub(crate) fn secrets(&self) -> Vec<&Secret> {
        match self {
            Self::Environment => Vec::new(),
            Self::Aws(a) => std::iter::once(&a.secret_access_key).chain(a.session_token.as_ref()).collect(),
            Self::Gcp(g) => vec![&g.key_json, &g.private_key],
            Self::Azure(a) => vec![&a.access_key],
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Environment => f.write_str("Environment"),
            Self::Aws(a) => f.debug_tuple("Aws").field(a).finish(),
            Self::Gcp(g) => f.debug_tuple("Gcp").field(g).finish(),
            Self::Azure(a) => f.debug_tuple("Azure").field(a).finish(),
        }
    }
}

/// An AWS access key (also used for S3-compatible servers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsCredentials {
    /// The access key id (an identifier, not a secret).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// A session token for temporary credentials.
    pub session_token: Option<Secret>,
    /// The region given with the credentials, used when the location names none.
    pub region: Option<String>,
}

impl AwsCredentials {
    /// Reads an AWS credentials INI text. `profile` defaults to `default`, or to the only profile
    /// of a file that has just one. Both `[name]` and `[profile name]` headers are accepted.
    pub fn from_ini(text: &str, profile: Option<&str>) -> Result<Self, CredentialError> {
        let err = |problem| CredentialError { format: AWS_INI, problem };
        let sections = parse_ini(text).map_err(err)?;
        let names: Vec<String> = sections.iter().map(|(n, _)| n.clone()).collect();
        let wanted = match profile {
            Some(p) => p.to_owned(),
            None if names.len() == 1 => names[0].clone(),
            None => "default".to_owned(),
        };
        let Some((_, fields)) = sections.into_iter().find(|(n, _)| *n == wanted) else {
            return Err(err(CredentialProblem::MissingProfile { profile: wanted, found: names }));
        };
        let get = |key: &str| fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let access_key_id = get("aws_access_key_id")
            .ok_or_else(|| err(CredentialProblem::MissingField { field: "aws_access_key_id".to_owned() }))?;
        let secret_access_key = get("aws_secret_access_key")
            .map(Secret::new)
            .ok_or_else(|| err(CredentialProblem::MissingField { field: "aws_secret_access_key".to_owned() }))?;
        let session_token = get("aws_session_token").filter(|v| !v.is_empty()).map(Secret::new);
        Self::new(access_key_id, secret_access_key, session_token, get("region"))
    }

    /// Checks and builds an access key. Field names in errors are those of the INI format.
    pub fn new(
        access_key_id: String,
        secret_access_key: Secret,
        session_token: Option<Secret>,
        region: Option<String>,
    ) -> Result<Self, CredentialError> {
        let invalid = |field: &str, expected: &str| CredentialError {
            format: AWS_INI,
            problem: CredentialProblem::InvalidField { field: field.to_owned(), expected: expected.to_owned() },
        };
        if access_key_id.is_empty() || access_key_id.chars().any(char::is_whitespace) {
            return Err(invalid("aws_access_key_id", "a non-empty key id without spaces"));
        }
        if secret_access_key.expose().is_empty() {
            return Err(invalid("aws_secret_access_key", "a non-empty value"));
        }
        if region.as_deref().is_some_and(|r| !is_region_name(r)) {
            return Err(invalid("region", "a region name such as `eu-west-1`"));
        }
        Ok(Self { access_key_id, secret_access_key, session_token, region })
    }
}

fn is_region_name(r: &str) -> bool {
    !r.is_empty() && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A GCP service-account key (the JSON file the console downloads).
#[derive(Clone, PartialEq, Eq)]
pub struct GcpServiceAccount {
    /// The service account's e-mail address.
    pub client_email: String,
    /// The project the key belongs to, when the file names it.
    pub project_id: Option<String>,
    /// The id of the private key.
    pub private_key_id: String,
    private_key: Secret,
    key_json: Secret,
}

impl GcpServiceAccount {
    /// Reads and checks a service-account JSON key.
    pub fn from_json(text: &str) -> Result<Self, CredentialError> {
        let err = |problem| CredentialError { format: GCP_JSON, problem };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            // serde_json's messages can quote the input; report only the position and kind.
            let kind = match e.classify() {
                serde_json::error::Category::Eof => "unexpected end of input",
                _ => "not valid JSON",
            };
            err(CredentialProblem::Syntax { detail: format!("{kind} at line {} column {}", e.line(), e.column()) })
        })?;
        let serde_json::Value::Object(map) = value else {
            return Err(err(CredentialProblem::InvalidField {
                field: "(top level)".to_owned(),
                expected: format!("a JSON object, found {}", json_type(&value)),
            }));
        };
        let string = |field: &str, required: bool| -> Result<Option<String>, CredentialError> {
            match map.get(field) {
                None | Some(serde_json::Value::Null) if !required => Ok(None),
                None => Err(err(CredentialProblem::MissingField { field: field.to_owned() })),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(err(CredentialProblem::InvalidField {
                    field: field.to_owned(),
                    expected: format!("a string, found {}", json_type(other)),
                })),
            }
        };
        let key_type = string("type", true)?.unwrap_or_default();
        if key_type != "service_account" {
            return Err(err(CredentialProblem::InvalidField {
                field: "type".to_owned(),
                expected: "\"service_account\" (a service-account key, not user credentials)".to_owned(),
            }));
        }
        let client_email = string("client_email", true)?.unwrap_or_default();
        if !client_email.contains('@') {
            return Err(err(CredentialProblem::InvalidField {
                field: "client_email".to_owned(),
                expected: "an e-mail address".to_owned(),
            }));
        }
        let private_key_id = string("private_key_id", true)?.unwrap_or_default();
        let private_key = Secret::new(string("private_key", true)?.unwrap_or_default());
        if !is_pem_private_key(private_key.expose()) {
            return Err(err(CredentialProblem::InvalidField {
                field: "private_key".to_owned(),
                expected: "a PEM private key (`-----BEGIN PRIVATE KEY-----`, base64 lines, \
                           `-----END PRIVATE KEY-----`)"
                    .to_owned(),
            }));
        }
        let project_id = string("project_id", false)?;
        Ok(Self { client_email, project_id, private_key_id, private_key, key_json: Secret::new(text) })
    }

    /// The whole key file, for the GCS client.
    pub fn key_json(&self) -> &Secret {
        &self.key_json
    }
}

impl fmt::Debug for GcpServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcpServiceAccount")
            .field("client_email", &self.client_email)
            .field("project_id", &self.project_id)
            .field("private_key_id", &self.private_key_id)
            .field("private_key", &self.private_key)
            .finish_non_exhaustive()
    }
}

/// The shape of a PEM private key: a BEGIN line, base64 lines, a matching END line. (Checked
/// here so that a key with lost line breaks is reported by field name; the PEM decoder's own
/// errors quote the key's bytes.)
fn is_pem_private_key(pem: &str) -> bool {
    let mut lines = pem.trim().lines().map(str::trim);
    let Some(label) = lines.next().and_then(|l| l.strip_prefix("-----BEGIN ")).and_then(|l| l.strip_suffix("-----"))
    else {
        return false;
    };
    if !label.ends_with("PRIVATE KEY") {
        return false;
    }
    let body: Vec<&str> = lines.collect();
    let Some((end, body)) = body.split_last() else { return false };
    *end == format!("-----END {label}-----")
        && !body.is_empty()
        && body.iter().all(|l| l.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)))
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// An Azure storage account with its shared key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureCredentials {
    /// The storage account's name.
    pub account: String,
    /// The account's shared key (base64, as the portal shows it).
    pub access_key: Secret,
}

impl AzureCredentials {
    /// Checks and builds Azure credentials.
    #[allow(clippy::needless_pass_by_value)] // owned, so that the caller's copy ends (zeroized) here
    pub fn new(account: impl Into<String>, access_key: Secret) -> Result<Self, CredentialError> {
        let err = |problem| CredentialError { format: AZURE, problem };
        let account = account.into();
        if account.is_empty() || !account.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
            return Err(err(CredentialProblem::InvalidField {
                field: "account".to_owned(),
                expected: "a storage account name (lower-case letters and digits)".to_owned(),
            }));
        }
        let Some(mut key) = decode_base64(access_key.expose()) else {
            return Err(err(CredentialProblem::InvalidField {
                field: "access_key".to_owned(),
                expected: "a base64 account key".to_owned(),
            }));
        };
        // Clients accept only padded standard base64: store the key in that form, whatever
        // form (URL-safe, unpadded, wrapped) it was pasted in.
        let access_key = Secret::new(base64::engine::general_purpose::STANDARD.encode(&key));
        zeroize::Zeroize::zeroize(&mut key);
        Ok(Self { account, access_key })
    }
}

impl<'de> Deserialize<'de> for Credentials {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Credentials;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`environment` or a table such as `{ aws_ini_base64 = \"…\" }`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Credentials, E> {
                // Any other string may be a pasted secret (a forgotten key name): never quote it.
                if v == "environment" {
                    Ok(Credentials::Environment)
                } else {
                    Err(E::custom(
                        "credentials given as a string must be `environment`; give others as a table, \
                         e.g. `{ aws_ini_base64 = \"…\" }` (value not shown)",
                    ))
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Credentials, A::Error> {
                let spec = CredentialsSpec::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Credentials::try_from(spec).map_err(serde::de::Error::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The serde form of [`Credentials`]; see its documentation.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum CredentialsSpec {
    Environment,
    AwsIniBase64(Secret),
    GcpServiceAccountBase64(Secret),
    Aws {
        access_key_id: String,
        secret_access_key: Secret,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_token: Option<Secret>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
    },
    GcpServiceAccount {
        client_email: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project_id: Option<String>,
        private_key_id: String,
        private_key: Secret,
    },
    Azure {
        account: String,
        access_key: Secret,
    },
}

impl TryFrom<CredentialsSpec> for Credentials {
    type Error = CredentialError;

    fn try_from(spec: CredentialsSpec) -> Result<Self, Self::Error> {
        match spec {
            CredentialsSpec::Environment => Ok(Self::Environment),
            CredentialsSpec::AwsIniBase64(s) => Self::from_aws_ini_base64(s.expose()),
            CredentialsSpec::GcpServiceAccountBase64(s) => Self::from_gcp_service_account_base64(s.expose()),
            CredentialsSpec::Aws { access_key_id, secret_access_key, session_token, region } => {
                AwsCredentials::new(access_key_id, secret_access_key, session_token, region).map(Self::Aws)
            }
            CredentialsSpec::GcpServiceAccount { client_email, project_id, private_key_id, private_key } => {
                let json = serde_json::json!({
                    "type": "service_account",
                    "client_email": client_email,
                    "project_id": project_id,
                    "private_key_id": private_key_id,
                    "private_key": private_key.expose(),
                });
                GcpServiceAccount::from_json(&json.to_string()).map(Self::Gcp)
            }
            CredentialsSpec::Azure { account, access_key } => {
                AzureCredentials::new(account, access_key).map(Self::Azure)
            }
        }
    }
}

impl From<Credentials> for CredentialsSpec {
    fn from(c: Credentials) -> Self {
        match c {
            Credentials::Environment => Self::Environment,
            Credentials::Aws(a) => Self::Aws {
                access_key_id: a.access_key_id.clone(),
                secret_access_key: a.secret_access_key.clone(),
                session_token: a.session_token.clone(),
                region: a.region.clone(),
            },
            Credentials::Gcp(g) => Self::GcpServiceAccount {
                client_email: g.client_email.clone(),
                project_id: g.project_id.clone(),
                private_key_id: g.private_key_id.clone(),
                private_key: g.private_key.clone(),
            },
            Credentials::Azure(a) => Self::Azure { account: a.account.clone(), access_key: a.access_key.clone() },
        }
    }
}

/// Decodes base64 as users paste it: standard or URL-safe alphabet, padded or not, and with line
/// breaks or spaces (as `base64` wraps its output) ignored.
pub(crate) fn decode_base64(encoded: &str) -> Option<Vec<u8>> {
    let compact: String = encoded.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return None;
    }
    let config = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    let url_safe = GeneralPurpose::new(&base64::alphabet::URL_SAFE, config);
    standard.decode(&compact).or_else(|_| url_safe.decode(&compact)).ok()
}

fn decode_base64_text(encoded: &str, format: &'static str) -> Result<String, CredentialError> {
    let err = |problem| CredentialError { format, problem };
    let bytes = decode_base64(encoded).ok_or(err(CredentialProblem::InvalidBase64))?;
    String::from_utf8(bytes).map_err(|_| err(CredentialProblem::NotUtf8))
}

type IniSection = (String, Vec<(String, String)>);

/// The small subset of INI that AWS credential files use: `[section]` headers, `key = value`
/// lines, and `#`/`;` comment lines. Errors name the line number, never its content.
fn parse_ini(text: &str) -> Result<Vec<IniSection>, CredentialProblem> {
    let mut sections: Vec<IniSection> = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text); // editors on Windows add a BOM
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let syntax = |what: &str| CredentialProblem::Syntax { detail: format!("line {}: {what}", index + 1) };
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let name = header.strip_suffix(']').ok_or_else(|| syntax("unclosed `[` in a section header"))?;
            let name = name.trim();
            let name = name.strip_prefix("profile ").map_or(name, str::trim);
            if name.is_empty() {
                return Err(syntax("empty section name"));
            }
            sections.push((name.to_owned(), Vec::new()));
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| syntax("expected `key = value`"))?;
        let section = sections.last_mut().ok_or_else(|| syntax("a key before any `[profile]` header"))?;
        section.1.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(sections)
}
