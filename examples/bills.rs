//! Bills: apply, then download the file in one call, checked against the apply's SHA-1 on the way.
//!
//! `cargo run --example bills` runs against the embedded WeChat Pay simulator (no credentials needed): a trade bill
//! (gzip), a fund-flow bill into a file, an encrypted sub-merchant fund-flow bill, and what happens when a download
//! is corrupted or cut. The simulator serves generated bills of the size asked for, so the same code downloads a
//! bill of gigabytes without holding it in memory.

use serde_json::json;
use wechatpay::{Bill, Builder, Error, Options};
use wechatpay_mock::Fault;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = wechatpay_mock::Server::start_blocking()?;
    let ids = server.identities();
    let instance = Builder::factory(json!({
        "mchid": ids.mchid,
        "serial": ids.merchant.serial,
        "privateKey": ids.merchant.private_key_pem,
        "certs": {ids.platform.serial.clone(): ids.platform.certificate_pem},
        "base_uri": server.base_uri(),
    }))?;
    // Bills of 5 MiB instead of the (empty) bills of the simulator's orders.
    server.set_bill_size(Some(5 * 1024 * 1024));
    let dir = std::env::temp_dir().join(format!("wechatpay-bills-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    // 1. PHP: $instance->v3->bill->tradebill->get(['query' => [...]]), then GET the download_url yourself.
    let apply =
        instance.v3().bill().tradebill().get(json!({"query": {"bill_date": "2024-01-02", "tar_type": "GZIP"}}))?;
    let downloaded = Bill::from_response(&apply)?.download(&instance, &mut std::io::sink())?;
    println!(
        "1. trade bill: {} bytes gunzipped, SHA-1 {} matches the apply's hash_value: {}",
        downloaded.bytes(),
        downloaded.sha1_hex(),
        downloaded.verified()
    );

    // 2. Into a file: it appears complete and checked, or not at all.
    let path = dir.join("fundflow-2024-01-02.csv");
    let apply = instance.v3().bill().fundflowbill().get(json!({"query": {"bill_date": "2024-01-02"}}))?;
    let downloaded = Bill::from_response(&apply)?.download_to_file(&instance, &path)?;
    println!("2. fund-flow bill written to {} ({} bytes)", path.display(), downloaded.bytes());

    // 3. Encrypted bills (the sub-merchant and e-commerce fund flows): the key is decrypted with the merchant key.
    let apply = instance.v3().bill().sub_merchant_fundflowbill().get(
        Options::new()
            .query("sub_mchid", "1900000109")
            .query("bill_date", "2024-01-02")
            .query("account_type", "BASIC")
            .query("algorithm", "AEAD_AES_256_GCM")
            .query("tar_type", "GZIP"),
    )?;
    let downloaded = Bill::from_response(&apply)?.download(&instance, &mut std::io::sink())?;
    println!(
        "3. encrypted sub-merchant bill: {} files, {} bytes decrypted and checked",
        downloaded.files(),
        downloaded.bytes()
    );

    // 4. A corrupted or cut download is a typed error, and a file target is not left behind.
    let apply = instance.v3().bill().tradebill().get(json!({"query": {"bill_date": "2024-01-03"}}))?;
    let bill = Bill::from_response(&apply)?;
    let path = dir.join("trade-2024-01-03.csv");
    server.faults().on_route_n("GET", "/v3/billdownload/file", 1, Fault::CorruptByte(1_000_000));
    match bill.download_to_file(&instance, &path) {
        Err(err @ Error::Integrity { .. }) => println!("4. corrupted: {err}\n   file left behind: {}", path.exists()),
        other => println!("4. unexpected: {other:?}"),
    }
    server.faults().on_route_n("GET", "/v3/billdownload/file", 1, Fault::CutAfter(2_000_000));
    match bill.download_to_file(&instance, &path) {
        Err(err @ Error::Truncated { .. }) => println!("5. cut: {err}\n   file left behind: {}", path.exists()),
        other => println!("5. unexpected: {other:?}"),
    }
    let downloaded = bill.download_to_file(&instance, &path)?;
    println!("6. downloaded again: {} bytes at {}", downloaded.bytes(), path.display());

    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
