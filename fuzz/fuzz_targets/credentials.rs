//! Credentials arrive from users over the API: no input may panic a decoder, and no error may
//! quote the input (which could hold a secret).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_storage::{AwsCredentials, Credentials, GcpServiceAccount};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for result in [
        Credentials::from_aws_ini_base64(text).map(drop),
        Credentials::from_gcp_service_account_base64(text).map(drop),
        AwsCredentials::from_ini(text, None).map(drop),
        GcpServiceAccount::from_json(text).map(drop),
    ] {
        if let Err(e) = result {
            let message = format!("{e} {e:?}");
            // Sound for inputs with a control character: no message of ours contains one, so a
            // message containing such an input must have quoted it. (Without this, an input
            // that happens to be a piece of a fixed message would look quoted.)
            if text.len() >= 8 && text.contains('\u{1}') {
                assert!(!message.contains(text), "an error quoted its input");
            }
        }
    }
});
