//! No secret ever shows: not in `Debug`/`Display` of credentials, locations, regions, errors or
//! opened stores, not in serialized configuration, and not in log output.
//!
//! Each credential type gets one distinctive secret, and every rendering is searched for it (and
//! for its base64 or byte-list forms, where a secret could hide in those).

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use tern_storage::{
    AwsCredentials, AzureCredentials, Credentials, Error, GcpServiceAccount, Location, REDACTED, Regions, Secret,
};

const AWS_KEY_ID: &str = "AKIDLEAKTEST0001";
const AWS_SECRET: &str = "SECRET-aws-9f8e7d";
const AWS_SESSION_TOKEN: &str = "SESSION-token-5a4b3c";
/// The body of the GCP private key (valid base64 characters, so it looks like a key body).
const GCP_KEY_BODY: &str = "MIIEvGCPsecretKEYbody6d5c4b";
const GCP_CLIENT_EMAIL: &str = "leak-test@tern-test.iam.gserviceaccount.com";
/// The Azure account key, decoded; the key itself is its base64 form.
const AZURE_KEY_DECODED: &str = "AZURE-SECRET-KEY-4c3b2a1f";
const AZURE_ACCOUNT: &str = "ternleaktest";

fn azure_key() -> String {
    STANDARD.encode(AZURE_KEY_DECODED)
}

fn gcp_pem() -> String {
    format!("-----BEGIN PRIVATE KEY-----\n{GCP_KEY_BODY}\n-----END PRIVATE KEY-----\n")
}

/// `[83, 69, 67, …` — how `{:?}` of a byte vector would show a secret.
fn byte_list(secret: &str) -> String {
    let list = format!("{:?}", secret.as_bytes());
    list.trim_start_matches('[').trim_end_matches(']').to_owned()
}

/// Every form in which a secret of this file could appear.
fn forbidden() -> Vec<String> {
    let mut all = vec![
        AWS_SECRET.to_owned(),
        AWS_SESSION_TOKEN.to_owned(),
        GCP_KEY_BODY.to_owned(),
        azure_key(),
        AZURE_KEY_DECODED.to_owned(),
        // Distinctive fragments, in case a secret is cut or partly escaped.
        "aws-9f8e7d".to_owned(),
        "token-5a4b3c".to_owned(),
        "GCPsecretKEY".to_owned(),
        "SECRET-KEY-4c3b".to_owned(),
        azure_key()[..12].to_owned(),
    ];
    for secret in [AWS_SECRET, AWS_SESSION_TOKEN, GCP_KEY_BODY, AZURE_KEY_DECODED] {
        all.push(byte_list(secret));
        all.push(STANDARD.encode(secret));
    }
    all
}

#[track_caller]
fn assert_no_secret(what: &str, text: &str) {
    for secret in forbidden() {
        assert!(!text.contains(&secret), "{what} shows a secret ({secret:?}):\n{text}");
    }
}

/// Checks `{}`, `{:?}` and `{:#?}` of an error.
#[track_caller]
fn assert_error_clean(what: &str, err: &(impl std::fmt::Display + std::fmt::Debug)) {
    assert_no_secret(&format!("{what} (Display)"), &err.to_string());
    assert_no_secret(&format!("{what} (Debug)"), &format!("{err:?}"));
    assert_no_secret(&format!("{what} (pretty Debug)"), &format!("{err:#?}"));
}

fn aws_ini() -> String {
    format!(
        "[default]\naws_access_key_id = {AWS_KEY_ID}\naws_secret_access_key = {AWS_SECRET}\n\
         aws_session_token = {AWS_SESSION_TOKEN}\nregion = eu-west-1\n"
    )
}

fn aws() -> AwsCredentials {
    let Credentials::Aws(aws) = Credentials::from_aws_ini_base64(&STANDARD.encode(aws_ini())).unwrap() else {
        panic!("not AWS")
    };
    aws
}

fn gcp_json() -> String {
    serde_json::json!({
        "type": "service_account",
        "project_id": "tern-test",
        "private_key_id": "keyid0001",
        "private_key": gcp_pem(),
        "client_email": GCP_CLIENT_EMAIL,
    })
    .to_string()
}

fn gcp() -> GcpServiceAccount {
    let Credentials::Gcp(gcp) = Credentials::from_gcp_service_account_base64(&STANDARD.encode(gcp_json())).unwrap()
    else {
        panic!("not GCP")
    };
    gcp
}

fn azure() -> AzureCredentials {
    AzureCredentials::new(AZURE_ACCOUNT, Secret::new(azure_key())).unwrap()
}

fn s3_location() -> Location {
    Location::parse("s3://leak-bucket/prefix?endpoint=http://127.0.0.1:9&allow_http=true&http_retries=0&attempts=2")
        .unwrap()
        .with_credentials(Credentials::Aws(aws()))
        .unwrap()
}

fn gs_location() -> Location {
    Location::parse("gs://leak-bucket/prefix").unwrap().with_credentials(Credentials::Gcp(gcp())).unwrap()
}

fn az_location() -> Location {
    Location::parse("az://leak-container/prefix?endpoint=http://127.0.0.1:9&allow_http=true&http_retries=0&attempts=2")
        .unwrap()
        .with_credentials(Credentials::Azure(azure()))
        .unwrap()
}

fn all_credentials() -> Vec<Credentials> {
    vec![Credentials::Aws(aws()), Credentials::Gcp(gcp()), Credentials::Azure(azure())]
}

/// The checks are only worth something if the secrets are really in the values checked.
#[test]
fn the_fixtures_hold_the_secrets() {
    let aws = aws();
    assert_eq!(aws.secret_access_key.expose(), AWS_SECRET);
    assert_eq!(aws.session_token.as_ref().unwrap().expose(), AWS_SESSION_TOKEN);
    assert!(gcp().key_json().expose().contains(GCP_KEY_BODY));
    assert_eq!(azure().access_key.expose(), azure_key());
    assert_eq!(STANDARD.decode(azure_key()).unwrap(), AZURE_KEY_DECODED.as_bytes());
    // And the checker does catch them.
    let caught =
        std::panic::catch_unwind(|| assert_no_secret("probe", &format!("x{:?}y", AZURE_KEY_DECODED.as_bytes())));
    assert!(caught.is_err());
}

// ---------------------------------------------------------------------------------------------
// Debug, Display and serialization of values
// ---------------------------------------------------------------------------------------------

#[test]
fn secret_shows_only_the_placeholder() {
    let s = Secret::new(AWS_SECRET);
    assert_eq!(format!("{s:?}"), REDACTED);
    assert_eq!(format!("{s:#?}"), REDACTED);
    assert_eq!(format!("{s}"), REDACTED);
    assert_eq!(serde_json::to_string(&s).unwrap(), "\"[secret]\"");
    // The value is still there for the client.
    assert_eq!(s.expose(), AWS_SECRET);
}

#[test]
fn aws_credentials_debug() {
    let aws = aws();
    for shown in [format!("{aws:?}"), format!("{aws:#?}")] {
        assert_no_secret("AwsCredentials", &shown);
        assert!(shown.contains(AWS_KEY_ID), "the key id is not a secret and helps debugging: {shown}");
        assert!(shown.contains(REDACTED), "{shown}");
    }
}

#[test]
fn gcp_service_account_debug() {
    let gcp = gcp();
    for shown in [format!("{gcp:?}"), format!("{gcp:#?}")] {
        assert_no_secret("GcpServiceAccount", &shown);
        assert!(shown.contains(GCP_CLIENT_EMAIL), "{shown}");
        assert!(!shown.contains("BEGIN PRIVATE KEY"), "{shown}");
        assert!(shown.contains(REDACTED), "{shown}");
    }
    assert_no_secret("GcpServiceAccount::key_json", &format!("{:?} {}", gcp.key_json(), gcp.key_json()));
}

#[test]
fn azure_credentials_debug() {
    let az = azure();
    for shown in [format!("{az:?}"), format!("{az:#?}")] {
        assert_no_secret("AzureCredentials", &shown);
        assert!(shown.contains(AZURE_ACCOUNT), "{shown}");
        assert!(shown.contains(REDACTED), "{shown}");
    }
}

#[test]
fn credentials_debug() {
    for creds in all_credentials() {
        assert_no_secret("Credentials", &format!("{creds:?}"));
        assert_no_secret("Credentials", &format!("{creds:#?}"));
    }
    assert_eq!(format!("{:?}", Credentials::Environment), "Environment");
}

#[test]
fn credentials_serialize_redacted() {
    assert_eq!(
        serde_json::to_value(Credentials::Aws(aws())).unwrap(),
        serde_json::json!({ "aws": {
            "access_key_id": AWS_KEY_ID,
            "secret_access_key": "[secret]",
            "session_token": "[secret]",
            "region": "eu-west-1",
        }})
    );
    assert_eq!(
        serde_json::to_value(Credentials::Gcp(gcp())).unwrap(),
        serde_json::json!({ "gcp_service_account": {
            "client_email": GCP_CLIENT_EMAIL,
            "project_id": "tern-test",
            "private_key_id": "keyid0001",
            "private_key": "[secret]",
        }})
    );
    assert_eq!(
        serde_json::to_value(Credentials::Azure(azure())).unwrap(),
        serde_json::json!({ "azure": { "account": AZURE_ACCOUNT, "access_key": "[secret]" } })
    );
    for creds in all_credentials() {
        assert_no_secret("serialized Credentials", &serde_json::to_string(&creds).unwrap());
        assert_no_secret("serialized Credentials", &serde_json::to_string_pretty(&creds).unwrap());
    }
}

/// Credentials read from the base64 forms serialize as the explicit form, redacted: the base64
/// text (which *is* the secret, encoded) must not come back out.
#[test]
fn credentials_from_base64_forms_do_not_serialize_the_base64() {
    let ini_b64 = STANDARD.encode(aws_ini());
    let json_b64 = STANDARD.encode(gcp_json());
    let from_ini: Credentials = serde_json::from_value(serde_json::json!({ "aws_ini_base64": ini_b64 })).unwrap();
    let from_json: Credentials =
        serde_json::from_value(serde_json::json!({ "gcp_service_account_base64": json_b64 })).unwrap();
    for (creds, b64) in [(from_ini, &ini_b64), (from_json, &json_b64)] {
        let text = serde_json::to_string(&creds).unwrap();
        assert_no_secret("serialized Credentials", &text);
        assert!(!text.contains(&b64[..40]), "{text}");
        assert!(!format!("{creds:?}").contains(&b64[..40]));
    }
}

#[test]
fn location_display_debug_and_serialization() {
    for loc in [s3_location(), gs_location(), az_location()] {
        let url = loc.to_string();
        assert_no_secret("Location (Display)", &url);
        let debug = format!("{loc:?}");
        assert_no_secret("Location (Debug)", &debug);
        assert!(debug.contains(&url), "{debug}");
        assert!(debug.contains(REDACTED), "the credentials are in the Debug form, redacted: {debug}");
        assert_no_secret("Location (pretty Debug)", &format!("{loc:#?}"));
        let json = serde_json::to_string(&loc).unwrap();
        assert_no_secret("serialized Location", &json);
        assert!(json.contains("\"[secret]\""), "{json}");
    }
}

#[test]
fn regions_debug_and_serialization() {
    let regions: Regions = [
        ("eu-west".to_owned(), s3_location()),
        ("eu-central".to_owned(), gs_location()),
        ("west-europe".to_owned(), az_location()),
    ]
    .into_iter()
    .collect();
    let debug = format!("{regions:?}");
    assert_no_secret("Regions (Debug)", &debug);
    assert!(debug.contains("s3://leak-bucket/prefix"), "{debug}");
    assert_no_secret("Regions (pretty Debug)", &format!("{regions:#?}"));
    let json = serde_json::to_value(&regions).unwrap();
    assert_no_secret("serialized Regions", &json.to_string());
    assert_eq!(json["eu-west"]["credentials"]["aws"]["secret_access_key"], "[secret]");
    assert_eq!(json["eu-west"]["credentials"]["aws"]["session_token"], "[secret]");
    assert_eq!(json["eu-central"]["credentials"]["gcp_service_account"]["private_key"], "[secret]");
    assert_eq!(json["west-europe"]["credentials"]["azure"]["access_key"], "[secret]");
    // The clone (with the same credentials) is as discreet.
    assert_no_secret("cloned Regions", &format!("{:?}", regions.clone()));
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[test]
fn ini_syntax_error_next_to_the_secret() {
    let ini = format!(
        "[default]\naws_access_key_id = {AWS_KEY_ID}\naws_secret_access_key {AWS_SECRET}\n\
         aws_session_token = {AWS_SESSION_TOKEN}\n"
    );
    let err = Credentials::from_aws_ini_base64(&STANDARD.encode(&ini)).unwrap_err();
    assert_eq!(err.to_string(), "credentials (AWS credentials INI): syntax error: line 3: expected `key = value`");
    assert_error_clean("INI syntax error", &err);
    // The same through the crate's error type and through a configuration file.
    assert_error_clean("INI syntax error", &Error::from(err));
    let config = serde_json::json!({ "url": "s3://b/p", "credentials": { "aws_ini_base64": STANDARD.encode(&ini) } });
    let err = serde_json::from_str::<Location>(&config.to_string()).unwrap_err();
    assert_error_clean("INI syntax error in a configuration", &err);
}

#[test]
fn ini_header_error_on_the_secret_line() {
    let ini = format!("[default\naws_secret_access_key = {AWS_SECRET}]\n");
    let err = Credentials::from_aws_ini_base64(&STANDARD.encode(ini)).unwrap_err();
    assert_error_clean("INI header error", &err);
    let ini = format!("[{AWS_SECRET}\n");
    let err = Credentials::from_aws_ini_base64(&STANDARD.encode(ini)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "credentials (AWS credentials INI): syntax error: line 1: unclosed `[` in a section header"
    );
    assert_error_clean("INI header error", &err);
}

#[test]
fn ini_with_the_secret_in_an_invalid_field() {
    // A secret pasted into the key id (it has a space) or the region.
    let ini = format!("[default]\naws_access_key_id = {AWS_SECRET} {AWS_SECRET}\naws_secret_access_key = x\n");
    assert_error_clean("bad key id", &Credentials::from_aws_ini_base64(&STANDARD.encode(ini)).unwrap_err());
    let ini = format!("[default]\naws_access_key_id = A\naws_secret_access_key = x\nregion = {AWS_SECRET}\n");
    assert_error_clean("bad region", &Credentials::from_aws_ini_base64(&STANDARD.encode(ini)).unwrap_err());
}

#[test]
fn ini_profile_names_are_shown_but_not_values() {
    let ini = format!("[a]\naws_secret_access_key = {AWS_SECRET}\n[b]\naws_session_token = {AWS_SESSION_TOKEN}\n");
    let err = Credentials::from_aws_ini_base64(&STANDARD.encode(ini)).unwrap_err();
    assert_eq!(err.to_string(), "credentials (AWS credentials INI): profile [default] not found (found: a, b)");
    assert_error_clean("missing profile", &err);
}

#[test]
fn truncated_json_after_the_private_key() {
    for json in [
        format!("{{\"private_key\": \"{GCP_KEY_BODY}"),
        format!("{{\"private_key\": \"{GCP_KEY_BODY}\""),
        format!("{{\"private_key\": \"{GCP_KEY_BODY}\" \"type\": 1}}"),
        format!("{{\"private_key\": {GCP_KEY_BODY}}}"),
        format!("{{\"private_key\": \"{GCP_KEY_BODY}\\q\"}}"),
        format!("{{\"type\": \"service_account\", \"private_key\": \"{GCP_KEY_BODY}\", \"client_email\": 5}}"),
        format!(
            "{{\"type\": \"service_account\", \"client_email\": \"a@b\", \"private_key_id\": \"k\", \
             \"private_key\": \"{GCP_KEY_BODY}\"}}"
        ),
    ] {
        let err = Credentials::from_gcp_service_account_base64(&STANDARD.encode(&json)).unwrap_err();
        assert_error_clean(&format!("GCP JSON error for {json:?}"), &err);
    }
    let err =
        Credentials::from_gcp_service_account_base64(&STANDARD.encode(format!("{{\"private_key\": \"{GCP_KEY_BODY}")))
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "credentials (GCP service-account JSON): syntax error: unexpected end of input at line 1 column 44"
    );
}

#[test]
fn gcp_json_with_the_key_in_a_wrongly_typed_field() {
    // A key body where the e-mail should be is reported by field name only.
    let json = serde_json::json!({
        "type": "service_account", "client_email": GCP_KEY_BODY, "private_key_id": "k", "private_key": gcp_pem(),
    });
    let err = Credentials::from_gcp_service_account_base64(&STANDARD.encode(json.to_string())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "credentials (GCP service-account JSON): field `client_email` is invalid: expected an e-mail address"
    );
    assert_error_clean("GCP field error", &err);
}

#[test]
fn azure_errors_do_not_show_the_key() {
    let err = AzureCredentials::new("Bad Account", Secret::new(azure_key())).unwrap_err();
    assert_error_clean("Azure account error", &err);
    let err = AzureCredentials::new(AZURE_ACCOUNT, Secret::new(format!("{AZURE_KEY_DECODED}!"))).unwrap_err();
    assert_error_clean("Azure key error", &err);
    let err = serde_json::from_value::<Credentials>(serde_json::json!({
        "azure": { "account": AZURE_ACCOUNT, "access_key": format!("{AZURE_KEY_DECODED}!") }
    }))
    .unwrap_err();
    assert_error_clean("Azure key error from configuration", &err);
}

#[test]
fn wrong_kind_of_credentials() {
    let cases = [
        (Location::parse("gs://b/p").unwrap(), Credentials::Aws(aws())),
        (Location::parse("memory://m").unwrap(), Credentials::Gcp(gcp())),
        (Location::parse("s3://b/p").unwrap(), Credentials::Azure(azure())),
        (Location::parse("file:///srv/x").unwrap(), Credentials::Aws(aws())),
    ];
    for (loc, creds) in cases {
        let err = loc.with_credentials(creds).unwrap_err();
        assert!(err.to_string().contains("credentials cannot be used with `"), "{err}");
        assert_error_clean("wrong-kind credentials", &err);
    }
    // And from a configuration file.
    let config =
        serde_json::json!({ "url": "az://c/p", "credentials": { "aws_ini_base64": STANDARD.encode(aws_ini()) } });
    let err = serde_json::from_value::<Location>(config).unwrap_err();
    assert_eq!(err.to_string(), "invalid location `az://c/p`: AWS credentials cannot be used with `az://` locations");
    assert_error_clean("wrong-kind credentials from configuration", &err);
}

#[test]
fn option_errors_with_credentials_set() {
    let err =
        s3_location().with_options(tern_storage::StoreOptions { fsync: Some(true), ..Default::default() }).unwrap_err();
    assert_error_clean("option error", &err);
    let err = s3_location()
        .with_options(tern_storage::StoreOptions { endpoint: Some("http://x".into()), ..Default::default() })
        .unwrap_err();
    assert_error_clean("duplicate option error", &err);
}

#[test]
fn gcs_build_error_from_an_unusable_key() {
    let json = gcp_json();
    let loc = Location::parse("gs://leak-bucket/prefix")
        .unwrap()
        .with_credentials(Credentials::from_gcp_service_account_base64(&STANDARD.encode(&json)).unwrap())
        .unwrap();
    let err = loc.open().unwrap_err();
    assert!(matches!(err, Error::Build { .. }), "{err:?}");
    assert!(err.to_string().starts_with("cannot open gs://leak-bucket/prefix: "), "{err}");
    assert_error_clean("GCS build error", &err);
}

/// A key whose line breaks were lost (pasted through a tool that ate the `\n`s) is one line.
#[test]
fn gcs_build_error_from_a_one_line_key() {
    for pem in [
        format!("-----BEGIN PRIVATE KEY-----{GCP_KEY_BODY}-----END PRIVATE KEY-----"),
        format!("-----BEGIN PRIVATE KEY-----{GCP_KEY_BODY}-----END PRIVATE KEY-----\\n"),
    ] {
        let json = serde_json::json!({
            "type": "service_account", "client_email": GCP_CLIENT_EMAIL, "private_key_id": "k", "private_key": pem,
        });
        // Refused when read, by field name: the PEM decoder's own error would show the key's bytes.
        let err = Credentials::from_gcp_service_account_base64(&STANDARD.encode(json.to_string())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "credentials (GCP service-account JSON): field `private_key` is invalid: expected a PEM private key \
             (`-----BEGIN PRIVATE KEY-----`, base64 lines, `-----END PRIVATE KEY-----`)"
        );
        assert_error_clean("one-line GCP key", &tern_storage::Error::from(err));
    }
}

#[test]
fn credentials_in_the_url_are_not_shown() {
    for input in [
        format!("s3://{AWS_KEY_ID}:{AWS_SECRET}@bucket/p"),
        format!("s3://{AWS_KEY_ID}:{AWS_SECRET}@bucket:bad-port/p"),
        format!("az://{AZURE_ACCOUNT}:{}@container/p", azure_key().replace('=', "%3D")),
        format!("s3://bucket/p?aws_secret_access_key={AWS_SECRET}"),
        format!("s3://bucket/p#{AWS_SECRET}"),
    ] {
        let err = Location::parse(&input).unwrap_err();
        assert_error_clean(&format!("parse error of {input}"), &err);
        assert!(!err.to_string().contains(AWS_KEY_ID), "{err}");
    }
}

/// A user who writes the base64 value as the whole `credentials` (forgetting the key) must not
/// get the value back in the error.
#[test]
fn credentials_given_as_a_bare_string_are_not_shown() {
    let ini_b64 = STANDARD.encode(aws_ini());
    for bare in [ini_b64.clone(), AWS_SECRET.to_owned()] {
        let config = serde_json::json!({ "url": "s3://b/p", "credentials": bare });
        let err = serde_json::from_value::<Location>(config).unwrap_err();
        assert_error_clean("bare-string credentials", &err);
        assert!(!err.to_string().contains(&ini_b64[..20]), "{err}");
    }
}

// ---------------------------------------------------------------------------------------------
// Opened stores
// ---------------------------------------------------------------------------------------------

#[test]
fn opened_s3_store_display_and_debug() {
    let store: Arc<dyn ObjectStore> = s3_location().open().unwrap();
    assert_eq!(store.to_string(), "s3://leak-bucket/prefix");
    assert_no_secret("S3 store (Display)", &store.to_string());
    assert_no_secret("S3 store (Debug)", &format!("{store:?}"));
    assert_no_secret("S3 store (pretty Debug)", &format!("{store:#?}"));
}

#[test]
fn opened_azure_store_display_and_debug() {
    let store: Arc<dyn ObjectStore> = az_location().open().unwrap();
    assert_eq!(store.to_string(), "az://leak-container/prefix");
    assert_no_secret("Azure store (Display)", &store.to_string());
    assert_no_secret("Azure store (Debug)", &format!("{store:?}"));
    assert_no_secret("Azure store (pretty Debug)", &format!("{store:#?}"));
    // Without a prefix too, the store is named by its location only.
    let bare = Location::parse("az://leak-container?endpoint=http://127.0.0.1:9&allow_http=true")
        .unwrap()
        .with_credentials(Credentials::Azure(azure()))
        .unwrap()
        .open()
        .unwrap();
    assert_eq!(bare.to_string(), "az://leak-container");
    assert_no_secret("Azure store (Debug)", &format!("{bare:?}"));
}

#[test]
fn opened_gcs_store_display_and_debug_with_a_real_key() {
    let out = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        .output()
        .expect("openssl must be installed to run this test");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pem = String::from_utf8(out.stdout).unwrap();
    let body_lines: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(body_lines.len() > 10);
    let json = serde_json::json!({
        "type": "service_account", "client_email": GCP_CLIENT_EMAIL, "private_key_id": "k", "private_key": pem,
    });
    let creds = Credentials::from_gcp_service_account_base64(&STANDARD.encode(json.to_string())).unwrap();
    let loc = Location::parse("gs://leak-bucket/prefix").unwrap().with_credentials(creds).unwrap();
    let store = loc.open().unwrap();
    for shown in [store.to_string(), format!("{store:?}"), format!("{store:#?}"), format!("{loc:?}")] {
        for line in &body_lines {
            assert!(!shown.contains(line), "a line of the private key shows in {shown}");
        }
    }
}

/// An opened store's `Debug` never delegates to the backend's (Azure's prints the decoded key).
#[test]
fn opened_store_debug_hides_backend_configuration() {
    for loc in [s3_location(), az_location()] {
        let store = loc.open().unwrap();
        assert_no_secret("opened store (Debug)", &format!("{store:?} {store:#?}"));
    }
}

// ---------------------------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------------------------

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Runs `op` with every event of every level, from this thread, written into a buffer.
async fn capture_logs<F: std::future::Future>(op: F) -> (F::Output, String) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let output = {
        let _guard = tracing::subscriber::set_default(subscriber);
        op.await
    };
    (output, captured.text())
}

#[tokio::test]
async fn s3_retry_logs_show_no_secret() {
    let store = s3_location().open().unwrap();
    let path = Path::from("catalog/db1/0001.json");
    let (result, log) = capture_logs(async {
        let get = store.get(&path).await.map(|_| ());
        let put = store.put(&path, "payload".into()).await.map(|_| ());
        (get, put)
    })
    .await;
    let (get, put) = result;
    let get = get.unwrap_err();
    let put = put.unwrap_err();
    assert!(matches!(get, object_store::Error::Generic { .. }), "{get:?}");
    assert_error_clean("failed S3 get", &get);
    assert_error_clean("failed S3 put", &put);
    assert!(!log.is_empty());
    assert!(log.contains("transient storage error; retrying"), "{log}");
    assert!(log.contains("attempt=1"), "{log}");
    assert!(!log.contains("attempt=2"), "attempts=2 means one retry only: {log}");
    assert_no_secret("S3 logs", &log);
}

#[tokio::test]
async fn azure_retry_logs_show_no_secret() {
    let store = az_location().open().unwrap();
    let path = Path::from("catalog/db1/0001.json");
    let (result, log) = capture_logs(store.get(&path)).await;
    let err = result.map(|_| ()).unwrap_err();
    assert_error_clean("failed Azure get", &err);
    assert!(log.contains("transient storage error; retrying"), "{log}");
    assert_no_secret("Azure logs", &log);
}
