//! Media uploads: the PHP SDK's `MediaUtil`, streamed. Only the `meta` part is signed; the file is hashed in a first
//! pass and streamed from disk in a second one, never held whole in memory.
//!
//! `cargo run --example media` runs against the embedded WeChat Pay simulator (no credentials needed).

use std::io::Write;

use serde_json::{Value, json};
use wechatpay::{Builder, MediaUpload, Options};

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

    // A 20 MiB "video" on disk.
    let path = std::env::temp_dir().join(format!("wechatpay-media-{}.mp4", std::process::id()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for i in 0..20u8 {
        file.write_all(&[i; 1024 * 1024])?;
    }
    file.flush()?;
    drop(file);

    // PHP: $media = new MediaUtil('file:///path/to/video.mp4');
    //      $instance->v3->merchant->media->video_upload->post(['body' => $media->getStream(), 'headers' => [...]]);
    let media = MediaUpload::from_file(&path)?;
    println!("meta (the signed part): {}", media.meta());
    let answer: Value = instance.v3().merchant().media().video_upload().post(Options::new().media(media))?.json()?;
    println!("1. video uploaded: media_id {}", answer["media_id"]);

    // Any reader: seekable ones are rewound, others are copied to a private temporary file first.
    let media = MediaUpload::from_stream("logo.png", &b"\x89PNG\r\n\x1a\n...from a pipe..."[..])?;
    let answer: Value =
        instance.v3().marketing().favor().media().image_upload().post(Options::new().media(media))?.json()?;
    println!("2. image uploaded: media_url {}", answer["media_url"]);

    // Endpoints with another meta schema, another file field and more form fields.
    let media = MediaUpload::from_file(&path)?;
    let meta = json!({"file_name": "video.mp4", "file_digest": media.sha256_hex().to_ascii_uppercase()});
    let media = media
        .with_meta(&meta)
        .with_file_field("submission_file")
        .with_field("item_id", "56")
        .with_field("manage_record_id", "56");
    let answer: Value = instance["v3/mch-manage/submission-files/sub-mchid/{sub_mchid}/upload"]
        .post(Options::new().var("sub_mchid", "1900000109").media(media))?
        .json()?;
    println!("3. submission file uploaded: file_id {}", answer["file_id"]);

    std::fs::remove_file(&path)?;
    Ok(())
}
