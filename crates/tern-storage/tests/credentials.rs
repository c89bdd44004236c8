//! Credentials: base64 AWS INI files and GCP service-account keys, the serde forms, Azure keys,
//! and every bad input asserted by its exact message. GCS stores are built from a real RSA key
//! generated with `openssl` at test time (building makes no network request).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use tern_storage::{
    AwsCredentials, AzureCredentials, CredentialError, CredentialProblem, Credentials, Error, Location, Secret,
};

const INI_FORMAT: &str = "AWS credentials INI";
const GCP_FORMAT: &str = "GCP service-account JSON";

fn b64(text: impl AsRef<[u8]>) -> String {
    STANDARD.encode(text)
}

fn aws_from_ini(ini: &str) -> Result<AwsCredentials, CredentialError> {
    match Credentials::from_aws_ini_base64(&b64(ini))? {
        Credentials::Aws(aws) => Ok(aws),
        other => panic!("not AWS credentials: {other:?}"),
    }
}

fn aws_ini_err(ini: &str) -> String {
    match Credentials::from_aws_ini_base64(&b64(ini)) {
        Ok(c) => panic!("{ini:?} was accepted as {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn gcp_err(json: &str) -> String {
    match Credentials::from_gcp_service_account_base64(&b64(json)) {
        Ok(c) => panic!("{json:?} was accepted as {c:?}"),
        Err(e) => e.to_string(),
    }
}

/// Wraps `text` at `width` columns, as `base64` (the command) does.
fn wrap(text: &str, width: usize) -> String {
    text.as_bytes().chunks(width).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join("\n") + "\n"
}

const BASIC_INI: &str = "[default]\naws_access_key_id = AKIDBASIC\naws_secret_access_key = basic/secret+value=\n";

// ---------------------------------------------------------------------------------------------
// AWS INI: valid files
// ---------------------------------------------------------------------------------------------

#[test]
fn aws_ini_basic() {
    let aws = aws_from_ini(BASIC_INI).unwrap();
    assert_eq!(aws.access_key_id, "AKIDBASIC");
    // `=` inside a value is kept: only the first `=` of a line separates key and value.
    assert_eq!(aws.secret_access_key.expose(), "basic/secret+value=");
    assert_eq!(aws.session_token, None);
    assert_eq!(aws.region, None);
}

#[test]
fn aws_ini_with_comments_blank_lines_and_crlf() {
    let ini = "# written by hand\r\n; another comment\r\n\r\n[default]\r\n  # indented comment\r\n\
               AWS_ACCESS_KEY_ID=AKIDCOMMENTS\r\naws_secret_access_key   =   spaced-secret   \r\nregion = eu-west-1\r\n";
    let aws = aws_from_ini(ini).unwrap();
    assert_eq!(aws.access_key_id, "AKIDCOMMENTS");
    assert_eq!(aws.secret_access_key.expose(), "spaced-secret");
    assert_eq!(aws.region.as_deref(), Some("eu-west-1"));
}

#[test]
fn aws_ini_default_profile_among_several() {
    let ini = "[profile staging]\naws_access_key_id = AKIDSTAGING\naws_secret_access_key = staging-secret\n\
               [default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-secret\n\
               [prod]\naws_access_key_id = AKIDPROD\naws_secret_access_key = prod-secret\n";
    let aws = aws_from_ini(ini).unwrap();
    assert_eq!(aws.access_key_id, "AKIDDEFAULT");
    assert_eq!(aws.secret_access_key.expose(), "default-secret");
}

#[test]
fn aws_ini_profile_header_form_is_accepted() {
    let ini = "[profile   default ]\naws_access_key_id = AKIDPROFILEHDR\naws_secret_access_key = s\n\
               [other]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = t\n";
    assert_eq!(aws_from_ini(ini).unwrap().access_key_id, "AKIDPROFILEHDR");
}

#[test]
fn aws_ini_single_non_default_profile_is_used() {
    let ini = "[profile backup-writer]\naws_access_key_id = AKIDSINGLE\naws_secret_access_key = single-secret\n\
               region = ap-southeast-2\n";
    let aws = aws_from_ini(ini).unwrap();
    assert_eq!(aws.access_key_id, "AKIDSINGLE");
    assert_eq!(aws.region.as_deref(), Some("ap-southeast-2"));
}

#[test]
fn aws_ini_explicit_profile() {
    let ini = "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = d\n\
               [profile prod]\naws_access_key_id = AKIDPROD\naws_secret_access_key = p\n";
    let aws = AwsCredentials::from_ini(ini, Some("prod")).unwrap();
    assert_eq!(aws.access_key_id, "AKIDPROD");
    let err = AwsCredentials::from_ini(ini, Some("staging")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "credentials (AWS credentials INI): profile [staging] not found (found: default, prod)"
    );
}

#[test]
fn aws_ini_with_session_token() {
    let ini = "[default]\naws_access_key_id = ASIATEMP\naws_secret_access_key = temp-secret\n\
               aws_session_token = FwoGZXIvYXdzEJr//////////token==\n";
    let aws = aws_from_ini(ini).unwrap();
    assert_eq!(aws.access_key_id, "ASIATEMP");
    assert_eq!(aws.session_token.as_ref().map(Secret::expose), Some("FwoGZXIvYXdzEJr//////////token=="));
}

#[test]
fn aws_ini_empty_session_token_is_no_token() {
    let ini = "[default]\naws_access_key_id = AKID\naws_secret_access_key = s\naws_session_token =\n";
    assert_eq!(aws_from_ini(ini).unwrap().session_token, None);
}

#[test]
fn aws_ini_later_value_of_a_key_wins() {
    let ini = "[default]\naws_access_key_id = AKIDFIRST\naws_access_key_id = AKIDSECOND\naws_secret_access_key = s\n";
    assert_eq!(aws_from_ini(ini).unwrap().access_key_id, "AKIDSECOND");
}

#[test]
fn aws_ini_base64_wrapped_at_76_columns() {
    let ini =
        format!("{BASIC_INI}region = us-west-2\n# padding comment to make the file longer than one line of base64\n");
    let encoded = b64(&ini);
    assert!(encoded.len() > 2 * 76, "the test needs several wrapped lines");
    let wrapped = wrap(&encoded, 76);
    assert!(wrapped.lines().count() >= 3);
    let Credentials::Aws(aws) = Credentials::from_aws_ini_base64(&wrapped).unwrap() else { panic!() };
    assert_eq!(aws.access_key_id, "AKIDBASIC");
    assert_eq!(aws.region.as_deref(), Some("us-west-2"));
    // Windows line breaks and surrounding spaces too.
    let crlf = format!("  {}  ", wrapped.replace('\n', "\r\n"));
    assert_eq!(Credentials::from_aws_ini_base64(&crlf).unwrap(), Credentials::Aws(aws));
}

#[test]
fn aws_ini_url_safe_alphabet() {
    // `?>~` characters make `/` and `+` in the standard alphabet, so the URL-safe form differs.
    let ini = format!("{BASIC_INI}# ???>>>~~~ ?>?>?>\n");
    let standard = STANDARD.encode(&ini);
    let url_safe = URL_SAFE.encode(&ini);
    assert!(standard.contains('/') || standard.contains('+'), "{standard}");
    assert_ne!(standard, url_safe);
    let from_standard = Credentials::from_aws_ini_base64(&standard).unwrap();
    let from_url_safe = Credentials::from_aws_ini_base64(&url_safe).unwrap();
    assert_eq!(from_url_safe, from_standard);
    let no_pad = URL_SAFE_NO_PAD.encode(&ini);
    assert_eq!(Credentials::from_aws_ini_base64(&no_pad).unwrap(), from_standard);
}

#[test]
fn aws_ini_missing_padding() {
    // One byte more than a multiple of three: the padded form ends in `==`.
    let mut ini = BASIC_INI.to_owned();
    while ini.len() % 3 != 1 {
        ini.push('\n');
    }
    let padded = STANDARD.encode(&ini);
    let unpadded = STANDARD_NO_PAD.encode(&ini);
    assert!(padded.ends_with("=="));
    assert_eq!(unpadded.len() % 4, 2);
    assert_eq!(
        Credentials::from_aws_ini_base64(&unpadded).unwrap(),
        Credentials::from_aws_ini_base64(&padded).unwrap()
    );
}

/// Files saved by some Windows editors start with a UTF-8 byte-order mark.
#[test]
fn aws_ini_with_a_byte_order_mark() {
    let with_bom = format!("\u{feff}{BASIC_INI}");
    assert_eq!(aws_from_ini(&with_bom).unwrap(), aws_from_ini(BASIC_INI).unwrap());
}

// ---------------------------------------------------------------------------------------------
// AWS INI: bad input
// ---------------------------------------------------------------------------------------------

#[test]
fn aws_ini_malformed_base64() {
    let err = Credentials::from_aws_ini_base64("this is *not* base64!").unwrap_err();
    assert_eq!(err, CredentialError { format: INI_FORMAT, problem: CredentialProblem::InvalidBase64 });
    assert_eq!(err.to_string(), "credentials (AWS credentials INI): the value is not valid base64");
    // Empty and whitespace-only values are not base64 of anything useful either.
    assert_eq!(
        Credentials::from_aws_ini_base64(" \n ").unwrap_err().to_string(),
        "credentials (AWS credentials INI): the value is not valid base64"
    );
    // A truncated value (a length no base64 can have).
    let truncated = &b64(BASIC_INI)[..9];
    assert_eq!(
        Credentials::from_aws_ini_base64(truncated).unwrap_err().to_string(),
        "credentials (AWS credentials INI): the value is not valid base64"
    );
}

#[test]
fn aws_ini_not_utf8() {
    let err = Credentials::from_aws_ini_base64(&STANDARD.encode([0xff, 0xfe, 0x5b, 0x00, 0xc3])).unwrap_err();
    assert_eq!(err.problem, CredentialProblem::NotUtf8);
    assert_eq!(err.to_string(), "credentials (AWS credentials INI): the decoded value is not UTF-8 text");
}

#[test]
fn aws_ini_syntax_error_names_the_line() {
    let err = aws_ini_err("[default]\naws_access_key_id = AKID\n\naws_secret_access_key the-secret-value\n");
    assert_eq!(err, "credentials (AWS credentials INI): syntax error: line 4: expected `key = value`");
}

#[test]
fn aws_ini_unclosed_section_header() {
    assert_eq!(
        aws_ini_err("# comment\n[default\naws_access_key_id = AKID\n"),
        "credentials (AWS credentials INI): syntax error: line 2: unclosed `[` in a section header"
    );
}

#[test]
fn aws_ini_empty_section_name() {
    assert_eq!(
        aws_ini_err("[ ]\naws_access_key_id = AKID\n"),
        "credentials (AWS credentials INI): syntax error: line 1: empty section name"
    );
}

#[test]
fn aws_ini_key_before_any_section() {
    assert_eq!(
        aws_ini_err("aws_access_key_id = AKID\n[default]\n"),
        "credentials (AWS credentials INI): syntax error: line 1: a key before any `[profile]` header"
    );
}

#[test]
fn aws_ini_missing_access_key_id() {
    let err = Credentials::from_aws_ini_base64(&b64("[default]\naws_secret_access_key = s\n")).unwrap_err();
    assert_eq!(err.problem, CredentialProblem::MissingField { field: "aws_access_key_id".into() });
    assert_eq!(err.to_string(), "credentials (AWS credentials INI): field `aws_access_key_id` is missing");
}

#[test]
fn aws_ini_missing_secret_access_key() {
    assert_eq!(
        aws_ini_err("[default]\naws_access_key_id = AKID\nregion = eu-west-1\n"),
        "credentials (AWS credentials INI): field `aws_secret_access_key` is missing"
    );
}

#[test]
fn aws_ini_empty_secret() {
    assert_eq!(
        aws_ini_err("[default]\naws_access_key_id = AKID\naws_secret_access_key =\n"),
        "credentials (AWS credentials INI): field `aws_secret_access_key` is invalid: expected a non-empty value"
    );
}

#[test]
fn aws_ini_bad_access_key_id() {
    assert_eq!(
        aws_ini_err("[default]\naws_access_key_id = AKID WITH SPACES\naws_secret_access_key = s\n"),
        "credentials (AWS credentials INI): field `aws_access_key_id` is invalid: expected a non-empty key id \
         without spaces"
    );
    assert_eq!(
        aws_ini_err("[default]\naws_access_key_id =\naws_secret_access_key = s\n"),
        "credentials (AWS credentials INI): field `aws_access_key_id` is invalid: expected a non-empty key id \
         without spaces"
    );
}

#[test]
fn aws_ini_several_profiles_and_no_default() {
    let err =
        Credentials::from_aws_ini_base64(&b64("[profile staging]\naws_access_key_id = A\naws_secret_access_key = s\n\
         [prod]\naws_access_key_id = B\naws_secret_access_key = t\n"))
        .unwrap_err();
    assert_eq!(
        err.problem,
        CredentialProblem::MissingProfile { profile: "default".into(), found: vec!["staging".into(), "prod".into()] }
    );
    assert_eq!(
        err.to_string(),
        "credentials (AWS credentials INI): profile [default] not found (found: staging, prod)"
    );
}

#[test]
fn aws_ini_without_any_profile() {
    assert_eq!(
        aws_ini_err("# nothing but a comment\n"),
        "credentials (AWS credentials INI): profile [default] not found (found: none)"
    );
}

#[test]
fn aws_ini_bad_region() {
    for region in ["EU-WEST-1", "eu west 1", "eu_west_1"] {
        assert_eq!(
            aws_ini_err(&format!("{BASIC_INI}region = {region}\n")),
            "credentials (AWS credentials INI): field `region` is invalid: expected a region name such as `eu-west-1`",
            "{region}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// GCP service-account JSON
// ---------------------------------------------------------------------------------------------

const FAKE_PEM: &str = "-----BEGIN PRIVATE KEY-----\nbm90IGEgcmVhbCBrZXk=\n-----END PRIVATE KEY-----\n";

fn service_account_json(private_key: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "service_account",
        "project_id": "tern-test",
        "private_key_id": "9f8e7d6c5b4a",
        "private_key": private_key,
        "client_email": "backup-writer@tern-test.iam.gserviceaccount.com",
        "client_id": "123456789012345678901",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    })
}

fn with_field(field: &str, value: serde_json::Value) -> String {
    let mut json = service_account_json(FAKE_PEM);
    json[field] = value;
    json.to_string()
}

fn without_field(field: &str) -> String {
    let mut json = service_account_json(FAKE_PEM);
    json.as_object_mut().unwrap().remove(field);
    json.to_string()
}

#[test]
fn gcp_service_account_from_base64() {
    let json = service_account_json(FAKE_PEM).to_string();
    let Credentials::Gcp(gcp) = Credentials::from_gcp_service_account_base64(&b64(&json)).unwrap() else {
        panic!("not GCP credentials")
    };
    assert_eq!(gcp.client_email, "backup-writer@tern-test.iam.gserviceaccount.com");
    assert_eq!(gcp.project_id.as_deref(), Some("tern-test"));
    assert_eq!(gcp.private_key_id, "9f8e7d6c5b4a");
    // The whole file is kept for the client.
    assert_eq!(gcp.key_json().expose(), json);
}

#[test]
fn gcp_service_account_wrapped_and_url_safe_base64() {
    let json = service_account_json(FAKE_PEM).to_string();
    let expected = Credentials::from_gcp_service_account_base64(&b64(&json)).unwrap();
    let wrapped = wrap(&b64(&json), 76);
    assert!(wrapped.lines().count() > 3);
    assert_eq!(Credentials::from_gcp_service_account_base64(&wrapped).unwrap(), expected);
    assert_eq!(Credentials::from_gcp_service_account_base64(&URL_SAFE_NO_PAD.encode(&json)).unwrap(), expected);
}

#[test]
fn gcp_service_account_without_project_id() {
    let Credentials::Gcp(gcp) =
        Credentials::from_gcp_service_account_base64(&b64(without_field("project_id"))).unwrap()
    else {
        panic!()
    };
    assert_eq!(gcp.project_id, None);
    let Credentials::Gcp(gcp) =
        Credentials::from_gcp_service_account_base64(&b64(with_field("project_id", serde_json::Value::Null))).unwrap()
    else {
        panic!()
    };
    assert_eq!(gcp.project_id, None);
}

#[test]
fn gcp_malformed_base64() {
    assert_eq!(
        Credentials::from_gcp_service_account_base64("{\"type\": \"service_account\"}").unwrap_err().to_string(),
        "credentials (GCP service-account JSON): the value is not valid base64"
    );
}

#[test]
fn gcp_not_utf8() {
    assert_eq!(
        Credentials::from_gcp_service_account_base64(&STANDARD.encode(b"{\"type\": \"\xff\"}"))
            .unwrap_err()
            .to_string(),
        "credentials (GCP service-account JSON): the decoded value is not UTF-8 text"
    );
}

#[test]
fn gcp_not_json() {
    assert_eq!(
        gcp_err("type = service_account"),
        "credentials (GCP service-account JSON): syntax error: not valid JSON at line 1 column 2"
    );
    assert_eq!(
        gcp_err("{\n  \"type\": service_account\n}"),
        "credentials (GCP service-account JSON): syntax error: not valid JSON at line 2 column 11"
    );
}

#[test]
fn gcp_truncated_json() {
    let json = service_account_json(FAKE_PEM).to_string();
    let truncated = &json[..json.len() / 2];
    let err = Credentials::from_gcp_service_account_base64(&b64(truncated)).unwrap_err();
    assert_eq!(
        err.problem,
        CredentialProblem::Syntax { detail: format!("unexpected end of input at line 1 column {}", truncated.len()) }
    );
    assert_eq!(
        gcp_err("{\"type\": \"service_account\",\n\"private_key\": \"-----BEGIN"),
        "credentials (GCP service-account JSON): syntax error: unexpected end of input at line 2 column 26"
    );
}

#[test]
fn gcp_top_level_array() {
    assert_eq!(
        gcp_err(&format!("[{}]", service_account_json(FAKE_PEM))),
        "credentials (GCP service-account JSON): field `(top level)` is invalid: expected a JSON object, found an array"
    );
    assert_eq!(
        gcp_err("\"service_account\""),
        "credentials (GCP service-account JSON): field `(top level)` is invalid: expected a JSON object, found a string"
    );
}

#[test]
fn gcp_missing_fields() {
    for field in ["type", "client_email", "private_key_id", "private_key"] {
        let err = Credentials::from_gcp_service_account_base64(&b64(without_field(field))).unwrap_err();
        assert_eq!(err.format, GCP_FORMAT);
        assert_eq!(err.problem, CredentialProblem::MissingField { field: field.into() });
        assert_eq!(err.to_string(), format!("credentials (GCP service-account JSON): field `{field}` is missing"));
    }
}

#[test]
fn gcp_private_key_of_the_wrong_type() {
    assert_eq!(
        gcp_err(&with_field("private_key", serde_json::json!(12345))),
        "credentials (GCP service-account JSON): field `private_key` is invalid: expected a string, found a number"
    );
    assert_eq!(
        gcp_err(&with_field("private_key", serde_json::json!(["-----BEGIN PRIVATE KEY-----"]))),
        "credentials (GCP service-account JSON): field `private_key` is invalid: expected a string, found an array"
    );
    assert_eq!(
        gcp_err(&with_field("client_email", serde_json::Value::Null)),
        "credentials (GCP service-account JSON): field `client_email` is invalid: expected a string, found null"
    );
    assert_eq!(
        gcp_err(&with_field("project_id", serde_json::json!(true))),
        "credentials (GCP service-account JSON): field `project_id` is invalid: expected a string, found a boolean"
    );
}

#[test]
fn gcp_authorized_user_is_refused() {
    let user = serde_json::json!({
        "type": "authorized_user",
        "client_id": "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com",
        "client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty",
        "refresh_token": "1//0refresh",
    });
    assert_eq!(
        gcp_err(&user.to_string()),
        "credentials (GCP service-account JSON): field `type` is invalid: expected \"service_account\" (a \
         service-account key, not user credentials)"
    );
}

#[test]
fn gcp_client_email_without_at() {
    assert_eq!(
        gcp_err(&with_field("client_email", serde_json::json!("backup-writer"))),
        "credentials (GCP service-account JSON): field `client_email` is invalid: expected an e-mail address"
    );
}

#[test]
fn gcp_private_key_not_pem() {
    assert_eq!(
        gcp_err(&with_field("private_key", serde_json::json!("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"))),
        "credentials (GCP service-account JSON): field `private_key` is invalid: expected a PEM private key \
         (`-----BEGIN PRIVATE KEY-----`, base64 lines, `-----END PRIVATE KEY-----`)"
    );
}

// ---------------------------------------------------------------------------------------------
// Azure
// ---------------------------------------------------------------------------------------------

#[test]
fn azure_credentials() {
    let az = AzureCredentials::new("ternbackups01", Secret::new(STANDARD.encode("azure account key bytes"))).unwrap();
    assert_eq!(az.account, "ternbackups01");
    assert_eq!(az.access_key.expose(), STANDARD.encode("azure account key bytes"));
}

#[test]
fn azure_bad_account_name() {
    for account in ["", "Tern", "tern-backups", "tern backups"] {
        let err = AzureCredentials::new(account, Secret::new(STANDARD.encode("k"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "credentials (Azure account key): field `account` is invalid: expected a storage account name \
             (lower-case letters and digits)",
            "{account:?}"
        );
    }
}

#[test]
fn azure_non_base64_key() {
    for key in ["", "not base64!", "abc$def"] {
        let err = AzureCredentials::new("ternbackups", Secret::new(key)).unwrap_err();
        assert_eq!(
            err.problem,
            CredentialProblem::InvalidField { field: "access_key".into(), expected: "a base64 account key".into() }
        );
        assert_eq!(
            err.to_string(),
            "credentials (Azure account key): field `access_key` is invalid: expected a base64 account key",
            "{key:?}"
        );
    }
}

/// A key `AzureCredentials::new` accepts must also be accepted when the store is built.
#[test]
fn azure_key_accepted_by_new_also_opens() {
    let bytes = b"\xfb\xff\xfe azure key with bytes that give - and _ in URL-safe base64";
    for key in [URL_SAFE.encode(bytes), STANDARD_NO_PAD.encode(bytes), wrap(&STANDARD.encode(bytes), 20)] {
        let creds = Credentials::Azure(AzureCredentials::new("ternbackups", Secret::new(key.clone())).unwrap());
        let loc = Location::parse("az://container/p?endpoint=http://127.0.0.1:9&allow_http=true")
            .unwrap()
            .with_credentials(creds)
            .unwrap();
        if let Err(e) = loc.open() {
            panic!("{key:?} accepted by AzureCredentials::new but not by open(): {e}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Serde forms
// ---------------------------------------------------------------------------------------------

#[test]
fn serde_environment() {
    let creds: Credentials = serde_json::from_str(r#""environment""#).unwrap();
    assert_eq!(creds, Credentials::Environment);
    assert_eq!(Credentials::default(), Credentials::Environment);
    assert_eq!(serde_json::to_string(&creds).unwrap(), r#""environment""#);
}

#[test]
fn serde_aws_ini_base64() {
    let json = serde_json::json!({ "aws_ini_base64": wrap(&b64(BASIC_INI), 76) });
    let creds: Credentials = serde_json::from_value(json).unwrap();
    assert_eq!(creds, Credentials::from_aws_ini_base64(&b64(BASIC_INI)).unwrap());
}

#[test]
fn serde_gcp_service_account_base64() {
    let json = service_account_json(FAKE_PEM).to_string();
    let creds: Credentials =
        serde_json::from_value(serde_json::json!({ "gcp_service_account_base64": b64(&json) })).unwrap();
    let Credentials::Gcp(gcp) = &creds else { panic!("{creds:?}") };
    assert_eq!(gcp.client_email, "backup-writer@tern-test.iam.gserviceaccount.com");
    assert_eq!(creds, Credentials::from_gcp_service_account_base64(&b64(&json)).unwrap());
}

#[test]
fn serde_aws_table() {
    let creds: Credentials = serde_json::from_str(
        r#"{"aws": {"access_key_id": "AKIDTABLE", "secret_access_key": "table-secret",
                    "session_token": "table-token", "region": "eu-central-1"}}"#,
    )
    .unwrap();
    let Credentials::Aws(aws) = creds else { panic!() };
    assert_eq!(aws.access_key_id, "AKIDTABLE");
    assert_eq!(aws.secret_access_key.expose(), "table-secret");
    assert_eq!(aws.session_token.as_ref().map(Secret::expose), Some("table-token"));
    assert_eq!(aws.region.as_deref(), Some("eu-central-1"));
}

#[test]
fn serde_aws_table_minimal() {
    let creds: Credentials =
        serde_json::from_str(r#"{"aws": {"access_key_id": "AKIDMIN", "secret_access_key": "min-secret"}}"#).unwrap();
    let expected = AwsCredentials::new("AKIDMIN".into(), Secret::new("min-secret"), None, None).unwrap();
    assert_eq!(creds, Credentials::Aws(expected));
}

#[test]
fn serde_azure_table() {
    let key = STANDARD.encode("azure key");
    let creds: Credentials =
        serde_json::from_value(serde_json::json!({ "azure": { "account": "ternbackups", "access_key": key } }))
            .unwrap();
    assert_eq!(creds, Credentials::Azure(AzureCredentials::new("ternbackups", Secret::new(key)).unwrap()));
}

#[test]
fn serde_gcp_service_account_table() {
    let creds: Credentials = serde_json::from_value(serde_json::json!({ "gcp_service_account": {
        "client_email": "backup-writer@tern-test.iam.gserviceaccount.com",
        "private_key_id": "9f8e7d6c5b4a",
        "private_key": FAKE_PEM,
    }}))
    .unwrap();
    let Credentials::Gcp(gcp) = creds else { panic!() };
    assert_eq!(gcp.project_id, None);
    assert_eq!(gcp.private_key_id, "9f8e7d6c5b4a");
}

#[test]
fn serde_serializes_secrets_redacted() {
    let creds: Credentials = serde_json::from_str(
        r#"{"aws": {"access_key_id": "AKIDTABLE", "secret_access_key": "table-secret", "session_token": "tok-tok"}}"#,
    )
    .unwrap();
    assert_eq!(
        serde_json::to_value(&creds).unwrap(),
        serde_json::json!({"aws": {"access_key_id": "AKIDTABLE", "secret_access_key": "[secret]", "session_token": "[secret]"}})
    );
}

#[test]
fn serde_errors_are_the_credential_errors() {
    let cases = [
        (
            serde_json::json!({ "aws_ini_base64": "***" }),
            "credentials (AWS credentials INI): the value is not valid base64",
        ),
        (
            serde_json::json!({ "aws_ini_base64": b64("[default]\naws_access_key_id = A\n") }),
            "credentials (AWS credentials INI): field `aws_secret_access_key` is missing",
        ),
        (
            serde_json::json!({ "gcp_service_account_base64": b64("[]") }),
            "credentials (GCP service-account JSON): field `(top level)` is invalid: expected a JSON object, found an array",
        ),
        (
            serde_json::json!({ "aws": { "access_key_id": "A", "secret_access_key": "" } }),
            "credentials (AWS credentials INI): field `aws_secret_access_key` is invalid: expected a non-empty value",
        ),
        (
            serde_json::json!({ "azure": { "account": "Bad_Name", "access_key": "a2V5" } }),
            "credentials (Azure account key): field `account` is invalid: expected a storage account name \
             (lower-case letters and digits)",
        ),
        (
            serde_json::json!({ "azure": { "account": "ternbackups", "access_key": "%%%" } }),
            "credentials (Azure account key): field `access_key` is invalid: expected a base64 account key",
        ),
    ];
    for (json, expected) in cases {
        // From a `Value`, serde_json adds no position.
        let err = serde_json::from_value::<Credentials>(json.clone()).unwrap_err();
        assert_eq!(err.to_string(), expected, "{json}");
    }
}

#[test]
fn serde_error_from_text() {
    // From text, serde_json adds where the credentials end.
    let err = serde_json::from_str::<Credentials>(r#"{"aws_ini_base64": "***"}"#).unwrap_err();
    assert_eq!(err.to_string(), "credentials (AWS credentials INI): the value is not valid base64 at line 1 column 25");
}

#[test]
fn serde_unknown_form_and_fields() {
    let err = serde_json::from_str::<Credentials>(r#"{"gcp": {}}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown variant `gcp`, expected one of `environment`, `aws_ini_base64`, `gcp_service_account_base64`, \
         `aws`, `gcp_service_account`, `azure` at line 1 column 6"
    );
    let err = serde_json::from_str::<Credentials>(
        r#"{"aws": {"access_key_id": "A", "secret_access_key": "s", "profile": "prod"}}"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown field `profile`, expected one of `access_key_id`, `secret_access_key`, `session_token`, `region` \
         at line 1 column 66"
    );
    let err = serde_json::from_str::<Credentials>(r#"{"aws": {"access_key_id": "A"}}"#).unwrap_err();
    assert_eq!(err.to_string(), "missing field `secret_access_key` at line 1 column 30");
}

// ---------------------------------------------------------------------------------------------
// GCS store construction with a real key
// ---------------------------------------------------------------------------------------------

/// A fresh 2048-bit RSA private key in PKCS#8 PEM, from `openssl`.
fn generate_rsa_pem() -> String {
    let out = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        .output()
        .expect("openssl must be installed to run this test");
    assert!(out.status.success(), "openssl failed: {}", String::from_utf8_lossy(&out.stderr));
    let pem = String::from_utf8(out.stdout).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
    pem
}

#[test]
fn gcs_store_opens_with_a_real_service_account_key() {
    let pem = generate_rsa_pem();
    let encoded = b64(service_account_json(&pem).to_string());
    let creds = Credentials::from_gcp_service_account_base64(&encoded).unwrap();
    let loc = Location::parse("gs://tern-backups/eu/prod").unwrap().with_credentials(creds).unwrap();
    let store = loc.open().unwrap();
    assert_eq!(store.to_string(), "gs://tern-backups/eu/prod");
    let bare = Location::parse("gs://tern-backups").unwrap().with_credentials(loc.credentials().clone()).unwrap();
    assert_eq!(bare.open().unwrap().to_string(), "gs://tern-backups");
    // The same through the serde table form.
    let from_config: Location = serde_json::from_value(serde_json::json!({
        "url": "gs://tern-backups/eu/prod?timeout_secs=10",
        "credentials": { "gcp_service_account_base64": encoded },
    }))
    .unwrap();
    from_config.open().unwrap();
}

#[test]
fn gcs_store_with_garbage_pem_fails_to_build_without_showing_it() {
    let garbage_body = "R0FSQkFHRS1nY3Atc2VjcmV0LWJvZHktMTIzNDU2Nzg5MA==";
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{garbage_body}\n-----END PRIVATE KEY-----\n");
    let creds = Credentials::from_gcp_service_account_base64(&b64(service_account_json(&pem).to_string())).unwrap();
    let loc = Location::parse("gs://tern-backups/eu").unwrap().with_credentials(creds).unwrap();
    let err = loc.open().unwrap_err();
    assert!(matches!(&err, Error::Build { location, .. } if location == "gs://tern-backups/eu"), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(garbage_body), "{shown}");
    assert!(!shown.contains("R0FSQkFHRS1nY3At"), "{shown}");
    assert!(!shown.contains("GARBAGE-gcp-secret"), "{shown}");
    assert_eq!(
        err.to_string(),
        "cannot open gs://tern-backups/eu: Generic AwsLcCryptoProvider error: Invalid RSA key: InvalidEncoding"
    );
}

#[test]
fn gcs_store_with_other_unusable_pem_fails_to_build_without_showing_it() {
    // Wrong shapes are refused when the key is read, naming the field.
    for pem in [
        "-----BEGIN PRIVATE KEY-----\nnot*base64*GARBAGE-body-77\n-----END PRIVATE KEY-----\n", // not base64
        "-----BEGIN PRIVATE KEY-----\nR0FSQkFHRS1ib2R5LTc3\n",                                  // no end line
        "-----BEGIN CERTIFICATE-----\nR0FSQkFHRS1ib2R5LTc3\n-----END CERTIFICATE-----\n",       // not a key
        "-----BEGIN PRIVATE KEY----- R0FSQkFHRS1ib2R5LTc3 -----END PRIVATE KEY-----",           // one line
    ] {
        let err =
            Credentials::from_gcp_service_account_base64(&b64(service_account_json(pem).to_string())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "credentials (GCP service-account JSON): field `private_key` is invalid: expected a PEM private key \
             (`-----BEGIN PRIVATE KEY-----`, base64 lines, `-----END PRIVATE KEY-----`)"
        );
    }
    // The right shape with bytes that are no key: refused when the client is built, unquoted.
    let pem = "-----BEGIN PRIVATE KEY-----\nR0FSQkFHRS1ib2R5LTc3\n-----END PRIVATE KEY-----\n";
    let creds = Credentials::from_gcp_service_account_base64(&b64(service_account_json(pem).to_string())).unwrap();
    let err = Location::parse("gs://b").unwrap().with_credentials(creds).unwrap().open().unwrap_err();
    assert!(matches!(err, Error::Build { .. }), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("R0FSQkFHRS1ib2R5LTc3") && !shown.contains("GARBAGE-body-77"), "{shown}");
    assert!(err.to_string().starts_with("cannot open gs://b: "), "{err}");
}
