//! Media uploads against wechatpay-mock: every way to give the content, every upload endpoint of the catalog, the
//! form as sent, and an upload whose file changes after it was hashed.

mod common;

use std::io::{Cursor, Write};

use serde_json::{Value, json};
use wechatpay::{Error, MediaUpload, Options};

fn header<'a>(request: &'a wechatpay_mock::RawRequest, name: &str) -> Option<&'a str> {
    request.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
}

/// A small file in a fresh directory.
fn fixture(name: &str, content: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join(name);
    std::fs::write(&path, content).expect("fixture written");
    (dir, path)
}

#[test]
fn files_readers_and_streams_upload_the_same_meta_and_the_form_is_sent_as_announced() {
    let server = common::mock();
    let instance = common::client(&server);
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (_dir, path) = fixture("clip.mp4", &content);

    let from_file = MediaUpload::from_file(&path).unwrap();
    let from_reader = MediaUpload::from_reader("clip.mp4", Cursor::new(content.clone())).unwrap();
    let from_stream = MediaUpload::from_stream("clip.mp4", &content[..]).unwrap();
    let in_memory = MediaUpload::new("clip.mp4", content.clone());
    for media in [&from_file, &from_reader, &from_stream] {
        assert_eq!(media.meta(), in_memory.meta());
        assert_eq!(media.len(), content.len() as u64);
    }
    for media in [from_file, from_reader, from_stream, in_memory] {
        // A clone sends the same content again (a reader is rewound, a file reopened).
        for attempt in [media.clone(), media.clone()] {
            let answer: Value = instance
                .v3()
                .merchant()
                .media()
                .video_upload()
                .post(Options::new().media(attempt))
                .unwrap_or_else(|err| panic!("{media:?}: {err}"))
                .json()
                .unwrap();
            assert!(answer["media_id"].as_str().is_some_and(|id| !id.is_empty()), "{answer}");
            let sent = server.last_request().unwrap();
            assert_eq!(header(&sent, "Content-Length"), Some(media.content_length().to_string().as_str()));
            assert_eq!(sent.body, media.to_body().unwrap(), "{media:?}");
        }
    }
}

#[test]
fn every_upload_endpoint_of_the_catalog_takes_a_streamed_form() {
    let server = common::mock();
    let instance = common::client(&server);
    let (_dir, path) = fixture("scan.png", b"\x89PNG\r\n\x1a\n a small image");
    let media = MediaUpload::from_file(&path).unwrap();
    let sha256 = media.sha256_hex();
    let default = |path: &'static str| (path, media.clone());
    let uploads = [
        default("v3/merchant/media/upload"),
        default("v3/merchant/media/video_upload"),
        default("v3/marketing/favor/media/image-upload"),
        default("v3/merchant-service/images/upload"),
        default("v3/global/merchant-service/images/upload"),
        default("v3/global/merchant-storage/file/upload"),
        default("v3/marketing/partner/product-coupon/media/upload-image"),
        (
            "v3/mch-manage/submission-files/sub-mchid/1900000109/upload",
            media
                .clone()
                .with_meta(&json!({"file_name": "scan.png", "file_digest": sha256.to_ascii_uppercase()}))
                .with_file_field("submission_file")
                .with_field("item_id", "56")
                .with_field("manage_record_id", "56"),
        ),
        (
            "v3/mch-operation-manage/enhanced-due-diligence/DD0001/upload",
            media
                .clone()
                .with_meta(&json!({"file_name": "scan.png", "file_digest": sha256}))
                .with_file_field("due_diligence_file"),
        ),
        (
            "v3/new-tax-control-fapiao/fapiao-applications/upload-fapiao-file",
            media.clone().with_meta(&json!({"file_type": "PDF", "digest_alogrithm": "SM3", "digest": sha256})),
        ),
        (
            "v3/taxi-invoice/cards/upload-file",
            media.clone().with_meta(&json!({
                "company_mchid": "1900000109", "digest": sha256, "digest_algorithm": "DIGEST_ALGORITHM_SM3",
                "region_id": 110000,
            })),
        ),
    ];
    for (path, upload) in uploads {
        let meta = upload.meta().to_owned();
        let response = instance.chain(path).post(Options::new().media(upload));
        let response = response.unwrap_or_else(|err| panic!("{path}: {err}"));
        assert_eq!(response.status(), 200, "{path}");
        // Only the meta was signed: the mock checked the signature over exactly these bytes.
        let sent = server.last_request().unwrap();
        assert!(String::from_utf8_lossy(&sent.body).contains(&meta), "{path}");
    }
}

#[test]
fn a_custom_meta_is_sent_and_signed_as_given() {
    let server = common::mock();
    let instance = common::client(&server);
    let media = MediaUpload::new("card.jpg", b"not a real card".to_vec());
    let meta = json!({"bank_type": "CMB", "filename": "card.jpg", "sha256": media.sha256_hex()});
    let media = media.with_meta(&meta);
    instance.v3().merchant().media().upload().post(Options::new().media(media)).unwrap();
    let body = server.last_request().unwrap().body;
    assert!(String::from_utf8_lossy(&body).contains(&format!("\r\n\r\n{meta}\r\n")));
    // A meta whose sha256 is not the file's is refused by WeChat Pay (here, its simulator).
    let wrong = MediaUpload::new("card.jpg", b"not a real card".to_vec())
        .with_meta(&json!({"filename": "card.jpg", "sha256": "00".repeat(32)}));
    let err = instance.v3().merchant().media().upload().post(Options::new().media(wrong)).unwrap_err();
    assert!(matches!(err, Error::Api { status: 400, ref code, .. } if code == "PARAM_ERROR"), "{err}");
}

#[test]
fn a_file_that_changes_after_it_was_hashed_fails_the_upload_with_a_transport_error() {
    let server = common::mock();
    let instance = common::client(&server);
    let (_dir, path) = fixture("video.mp4", &vec![7u8; 300_000]);
    let media = MediaUpload::from_file(&path).unwrap();
    // Same length, different bytes: only the second pass's hash can tell.
    std::fs::File::create(&path).unwrap().write_all(&vec![8u8; 300_000]).unwrap();
    let before = server.requests_served();
    let err = instance.v3().merchant().media().video_upload().post(Options::new().media(media.clone())).unwrap_err();
    match &err {
        Error::Transport { reason, .. } => {
            assert!(reason.contains("video.mp4 changed after it was hashed"), "{reason}");
            assert!(reason.contains("never processes an incomplete request"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // The form was cut short of its Content-Length: the simulator never processed it.
    assert_eq!(server.requests_served(), before);
    // A file that went away is said so too.
    std::fs::remove_file(&path).unwrap();
    let err = instance.v3().merchant().media().video_upload().post(Options::new().media(media)).unwrap_err();
    assert!(matches!(err, Error::Transport { ref reason, .. } if reason.contains("could not be read")), "{err}");
    // Writing the form says so as well, as an error rather than a short form.
    assert!(MediaUpload::from_file(&path).is_err());
}

#[test]
fn uploads_are_sent_from_async_code_too() {
    let server = common::mock();
    let instance = common::client(&server);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let media = MediaUpload::from_stream("logo.png", &b"\x89PNG not really"[..]).unwrap();
    let answer: Value = runtime
        .block_on(instance.v3().marketing().favor().media().image_upload().post_async(Options::new().media(media)))
        .unwrap()
        .json()
        .unwrap();
    assert!(answer["media_url"].as_str().is_some(), "{answer}");
}
