//! Credentials from flags or the environment, turned into the library's keys and [`Builder`].
//!
//! Errors name the flag and the variable a value came from, never the value of a secret: a path is shown only
//! when it looks like one (so that a key pasted where a path belongs is not echoed back).

use std::time::Duration;

use wechatpay::crypto::{Certificate, PrivateKey, PublicKey};
use wechatpay::{AutoRefresh, Builder, Config, ConfigBuilder, PlatformKeys};
use zeroize::Zeroizing;

use crate::args::{Apiv2Args, Apiv3Args, CaArgs, EndpointArgs, MerchantArgs, MerchantTlsArgs, PlatformArgs};
use crate::failure::{Failure, Result};

/// Where a value comes from: its flag and its variable.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    pub flag: &'static str,
    pub env: &'static str,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.flag, self.env)
    }
}

pub const MCHID: Source = Source { flag: "-m/--mchid", env: "WECHATPAY_MCHID" };
pub const SERIAL: Source = Source { flag: "-s/--serial", env: "WECHATPAY_SERIAL" };
pub const PRIVATE_KEY: Source = Source { flag: "-f/--private-key", env: "WECHATPAY_PRIVATE_KEY" };
pub const PUBLIC_KEY: Source = Source { flag: "--public-key", env: "WECHATPAY_PUBLIC_KEY" };
pub const PUBLIC_KEY_ID: Source = Source { flag: "--public-key-id", env: "WECHATPAY_PUBLIC_KEY_ID" };
pub const CERTIFICATE: Source = Source { flag: "--certificate", env: "WECHATPAY_CERTIFICATE" };
pub const APIV3_KEY: Source = Source { flag: "-k/--apiv3-key", env: "WECHATPAY_APIV3_KEY" };
pub const APIV2_KEY: Source = Source { flag: "--apiv2-key", env: "WECHATPAY_APIV2_KEY" };
pub const MERCHANT_CERTIFICATE: Source =
    Source { flag: "--merchant-certificate", env: "WECHATPAY_MERCHANT_CERTIFICATE" };
pub const CA: Source = Source { flag: "--ca", env: "WECHATPAY_CA" };

/// A value that was given and is not blank (an empty variable counts as unset).
pub fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|value| !value.is_empty())
}

/// A value that must be given.
pub fn required<'a>(value: &'a Option<String>, source: Source, what: &str) -> Result<&'a str> {
    given(value).ok_or_else(|| Failure::usage(format!("{what} is missing: pass {} or set {}", source.flag, source.env)))
}

/// The bytes of a key or certificate given as a file path, a `file://` path, or PEM text.
fn key_material(value: &str, source: Source) -> Result<Vec<u8>> {
    if value.contains("-----BEGIN ") {
        return Ok(value.as_bytes().to_vec());
    }
    let path = value.strip_prefix("file://").unwrap_or(value);
    std::fs::read(path).map_err(|err| {
        let shown = if looks_like_a_path(path) { format!("`{path}`") } else { "the given path".to_owned() };
        let mut failure = Failure::usage(format!("{source}: cannot read {shown}: {err}"));
        if !looks_like_a_path(path) {
            failure =
                failure.hint("give the path of a PEM file (the value is not shown: it does not look like a path)");
        }
        failure
    })
}

/// Whether `value` looks like a file path rather than a key pasted in its place.
fn looks_like_a_path(value: &str) -> bool {
    value.len() <= 512
        && !value.chars().any(char::is_whitespace)
        && (value.contains(['/', '\\', '.']) || value.starts_with('~'))
}

/// The merchant API private key.
pub fn private_key(value: &Option<String>) -> Result<PrivateKey> {
    let value = required(value, PRIVATE_KEY, "the merchant API private key (apiclient_key.pem)")?;
    let material = Zeroizing::new(key_material(value, PRIVATE_KEY)?);
    PrivateKey::load(material.as_slice()).map_err(|err| Failure::from(err).context(PRIVATE_KEY))
}

fn public_key(value: &str) -> Result<PublicKey> {
    PublicKey::load(key_material(value, PUBLIC_KEY)?).map_err(|err| Failure::from(err).context(PUBLIC_KEY))
}

fn certificate(value: &str, source: Source) -> Result<Certificate> {
    Certificate::load(key_material(value, source)?).map_err(|err| Failure::from(err).context(source))
}

/// A secret given as itself or as `@FILE` (its first line).
pub fn secret(value: &str, source: Source) -> Result<Zeroizing<String>> {
    let Some(path) = value.strip_prefix('@') else { return Ok(Zeroizing::new(value.to_owned())) };
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|err| Failure::usage(format!("{source}: cannot read the key file `{path}`: {err}")))?,
    );
    Ok(Zeroizing::new(text.lines().next().unwrap_or_default().trim().to_owned()))
}

/// WeChat Pay's keys: the public key (with its id) and platform certificates.
pub fn platform_keys(args: &PlatformArgs) -> Result<PlatformKeys> {
    let keys = PlatformKeys::new();
    match (given(&args.public_key), given(&args.public_key_id)) {
        (Some(key), Some(id)) => keys.insert(id, public_key(key)?),
        (Some(_), None) => {
            return Err(Failure::usage(format!(
                "{PUBLIC_KEY} needs its id: pass {} or set {} (PUB_KEY_ID_..., shown beside the key on the merchant \
                 platform)",
                PUBLIC_KEY_ID.flag, PUBLIC_KEY_ID.env
            )));
        }
        (None, Some(_)) => {
            return Err(Failure::usage(format!(
                "{PUBLIC_KEY_ID} is given without the key itself: pass {} or set {}",
                PUBLIC_KEY.flag, PUBLIC_KEY.env
            )));
        }
        (None, None) => {}
    }
    for path in args.certificates.iter().map(|path| path.trim()).filter(|path| !path.is_empty()) {
        keys.insert_certificate(&certificate(path, CERTIFICATE)?);
    }
    Ok(keys)
}

/// The pieces of a client; each command fills in what it has.
#[derive(Default)]
pub struct Client<'a> {
    pub merchant: Option<&'a MerchantArgs>,
    pub platform: Option<&'a PlatformArgs>,
    pub apiv3: Option<&'a Apiv3Args>,
    pub apiv2: Option<&'a Apiv2Args>,
    pub tls: Option<&'a MerchantTlsArgs>,
    pub ca: Option<&'a CaArgs>,
    pub endpoint: Option<&'a EndpointArgs>,
    /// Whether the APIv3 key must be there (certificate downloads).
    pub needs_apiv3_key: bool,
}

impl Client<'_> {
    /// The library's [`Builder`], for the library's whole pipeline: signing, verification, refresh, APIv2.
    pub fn build(&self) -> Result<Builder> {
        let config = self.config()?;
        Builder::factory(config).map_err(Failure::from)
    }

    fn config(&self) -> Result<ConfigBuilder> {
        let merchant = self.merchant.ok_or_else(|| Failure::usage("this command has no merchant credentials"))?;
        let mchid = required(&merchant.mchid, MCHID, "the merchant id")?;
        let serial = required(&merchant.serial, SERIAL, "the merchant certificate serial")?;
        let key = private_key(&merchant.key.private_key)?;
        let mut config = Config::builder().mchid(mchid).serial(serial).private_key(key.clone());

        let mut has_keys = false;
        if let Some(platform) = self.platform {
            let keys = platform_keys(platform)?;
            has_keys = !keys.is_empty();
            for serial in keys.serials() {
                config = match keys.certificate(&serial) {
                    Some(certificate) => config.platform_certificate(certificate),
                    None => match keys.get(&serial) {
                        Some(key) => config.public_key(serial, key),
                        None => config,
                    },
                };
            }
        }
        let apiv3_key = self.apiv3.and_then(|apiv3| given(&apiv3.apiv3_key));
        match apiv3_key {
            Some(key) => {
                // Download the platform certificates when an answer names an unknown serial (and, with no key
                // given at all, before the first answer is verified).
                let mut refresh = AutoRefresh::default();
                refresh.interval = None;
                config = config.apiv3_key(secret(key, APIV3_KEY)?.as_str()).auto_refresh(refresh);
            }
            None if self.needs_apiv3_key => {
                return Err(Failure::usage(format!(
                    "the APIv3 key is missing: pass {} or set {} (it decrypts the platform certificates)",
                    APIV3_KEY.flag, APIV3_KEY.env
                )));
            }
            None if self.platform.is_some() && !has_keys => {
                return Err(Failure::usage(
                    "no WeChat Pay key to verify answers with: pass --public-key FILE with --public-key-id \
                     PUB_KEY_ID_... (WECHATPAY_PUBLIC_KEY, WECHATPAY_PUBLIC_KEY_ID), or --certificate FILE \
                     (WECHATPAY_CERTIFICATE), or the APIv3 key (-k/--apiv3-key, WECHATPAY_APIV3_KEY) to download \
                     the platform certificates",
                ));
            }
            None => {}
        }
        if let Some(key) = self.apiv2.and_then(|apiv2| given(&apiv2.apiv2_key)) {
            config = config.secret(secret(key, APIV2_KEY)?.as_str());
        }
        if let Some(path) = self.tls.and_then(|tls| given(&tls.merchant_certificate)) {
            config = config.merchant_tls(certificate(path, MERCHANT_CERTIFICATE)?, key);
        }
        if let Some(path) = self.ca.and_then(|ca| given(&ca.ca)) {
            config = config.root_certificate(key_material(path, CA)?);
        }
        if let Some(endpoint) = self.endpoint {
            if let Some(base_uri) = given(&endpoint.base_uri) {
                config = config.base_uri(base_uri);
            }
            if let Some(seconds) = endpoint.timeout {
                config = config.timeout(timeout(seconds)?);
            }
        }
        Ok(config)
    }
}

fn timeout(seconds: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|timeout| !timeout.is_zero())
        .ok_or_else(|| Failure::usage(format!("--timeout {seconds}: give a positive number of seconds")))
}
