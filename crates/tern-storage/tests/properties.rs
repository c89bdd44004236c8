//! Property tests of the decoders of outside input: credentials and locations.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use tern_storage::{AwsCredentials, Credentials, GcpServiceAccount, Location};

#[derive(Debug, Clone)]
struct Ini {
    key_id: String,
    secret: String,
    token: Option<String>,
    region: Option<String>,
    header: String,
    spaces: bool,
    comment: bool,
    other_profile: bool,
}

fn ini() -> impl Strategy<Value = Ini> {
    (
        "[A-Z0-9]{16,20}",
        "[A-Za-z0-9/+]{20,40}",
        proptest::option::of("[A-Za-z0-9/+=]{20,60}"),
        proptest::option::of("[a-z]{2}-[a-z]{4,9}-[1-9]"),
        prop_oneof![Just("[default]".to_owned()), Just("[profile default]".to_owned()), Just("[ default ]".to_owned())],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(key_id, secret, token, region, header, spaces, comment, other_profile)| Ini {
            key_id,
            secret,
            token,
            region,
            header,
            spaces,
            comment,
            other_profile,
        })
}

impl Ini {
    fn render(&self) -> String {
        let eq = if self.spaces { " = " } else { "=" };
        let mut text = String::new();
        if self.other_profile {
            text.push_str("[other]\naws_access_key_id=OTHER\naws_secret_access_key=other\n\n");
        }
        if self.comment {
            text.push_str("# written by a tool\n; and a second comment\n");
        }
        text.push_str(&self.header);
        text.push('\n');
        let _ = writeln!(text, "aws_access_key_id{eq}{}\naws_secret_access_key{eq}{}", self.key_id, self.secret);
        if let Some(t) = &self.token {
            let _ = writeln!(text, "aws_session_token{eq}{t}");
        }
        if let Some(r) = &self.region {
            let _ = writeln!(text, "region{eq}{r}");
        }
        text
    }
}

fn encode(text: &str, engine: u8, wrap: bool) -> String {
    let encoded = match engine % 4 {
        0 => STANDARD.encode(text),
        1 => STANDARD_NO_PAD.encode(text),
        2 => URL_SAFE.encode(text),
        _ => URL_SAFE_NO_PAD.encode(text),
    };
    if wrap {
        encoded.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join("\n")
    } else {
        encoded
    }
}

proptest! {
    /// Whatever the formatting and base64 flavour, the values come back as written.
    #[test]
    fn aws_ini_round_trips(ini in ini(), engine in 0u8..4, wrap in any::<bool>()) {
        let Credentials::Aws(aws) = Credentials::from_aws_ini_base64(&encode(&ini.render(), engine, wrap)).unwrap() else {
            panic!("not AWS credentials");
        };
        prop_assert_eq!(&aws.access_key_id, &ini.key_id);
        prop_assert_eq!(aws.secret_access_key.expose(), ini.secret.as_str());
        prop_assert_eq!(aws.session_token.as_ref().map(|t| t.expose().to_owned()), ini.token.clone());
        prop_assert_eq!(&aws.region, &ini.region);
    }

    /// No error of any credential decoder quotes its input: a secret pasted into the wrong
    /// place must not come back in a message.
    #[test]
    fn credential_errors_never_quote_input(
        before in "[ -~\n]{0,40}", secret in "[A-Za-z0-9]{16}", after in "[ -~\n]{0,40}",
    ) {
        let text = format!("{before}{secret}{after}");
        let results = [
            AwsCredentials::from_ini(&text, None).map(drop),
            GcpServiceAccount::from_json(&text).map(drop),
            Credentials::from_aws_ini_base64(&text).map(drop),
            Credentials::from_gcp_service_account_base64(&STANDARD.encode(&text)).map(drop),
        ];
        for result in results {
            if let Err(e) = result {
                let shown = format!("{e} {e:?}");
                prop_assert!(!shown.contains(&secret), "{}", shown);
            }
        }
        let json = serde_json::json!({ "aws_ini_base64": text.clone() });
        if let Err(e) = serde_json::from_value::<Credentials>(json) {
            prop_assert!(!e.to_string().contains(&secret), "{}", e);
        }
    }

    /// A parsed bucket location displays as a URL that parses back to the same location, even
    /// with URL-special characters in the prefix.
    #[test]
    fn bucket_locations_round_trip(
        scheme in prop_oneof![Just("s3"), Just("gs"), Just("az")],
        bucket in "[a-z0-9][a-z0-9-]{2,20}",
        segments in proptest::collection::vec("[a-zA-Z0-9 ?#%&=+_-]{1,8}", 0..4),
    ) {
        let mut url = url::Url::parse(&format!("{scheme}://{bucket}")).unwrap();
        url.path_segments_mut().unwrap().extend(&segments);
        let location = Location::parse(url.as_str()).unwrap();
        let shown = location.to_string();
        let again = Location::parse(&shown).unwrap();
        prop_assert_eq!(&again, &location);
        prop_assert_eq!(again.to_string(), shown);
    }

    /// Parsing arbitrary text never panics, and whatever parses displays as a location that
    /// parses back to the same place (one location, one spelling).
    #[test]
    fn parsed_locations_display_and_parse_back(text in "\\PC{0,60}|(\\.\\.?/)*[a-z./]{0,12}") {
        if let Ok(location) = Location::parse(&text) {
            let shown = location.to_string();
            let again = Location::parse(&shown).unwrap();
            prop_assert_eq!(again.to_string(), shown);
        }
    }
}
