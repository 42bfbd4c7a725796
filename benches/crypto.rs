//! RSA and AES-GCM costs per backend: the numbers behind the default backend choice (see BENCHMARKS.md).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use wechatpay::crypto::{AesGcm, Backend, Padding, PrivateKey};

fn merchant_key() -> PrivateKey {
    PrivateKey::load(concat!("file://", env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/merchant_private_key.pem"))
        .expect("fixture key loads")
}

fn rsa(c: &mut Criterion) {
    let message = b"POST\n/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{\"appid\":\"102022609\",\"out_bill_no\":\"plfk2020042013\"}\n";
    for backend in Backend::available() {
        let key = merchant_key().with_backend(*backend).expect("backend loads the key");
        let public = key.public_key().expect("public key derives");
        let signature = key.sign(message).expect("signs");
        let ciphertext = public.encrypt(b"\xe5\xbc\xa0\xe4\xb8\x89", Padding::Oaep).expect("encrypts");
        let mut group = c.benchmark_group(format!("rsa2048/{backend:?}"));
        group.bench_function("sign_sha256", |b| b.iter(|| key.sign(black_box(message))));
        group.bench_function("verify_sha256", |b| b.iter(|| public.verify(black_box(message), black_box(&signature))));
        group.bench_function("oaep_encrypt", |b| b.iter(|| public.encrypt(black_box(b"name"), Padding::Oaep)));
        group.bench_function("oaep_decrypt", |b| b.iter(|| key.decrypt(black_box(&ciphertext), Padding::Oaep)));
        group.finish();
    }
}

fn aes_gcm(c: &mut Criterion) {
    let key = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
    let plaintext = vec![b'x'; 1024];
    let ciphertext = AesGcm::encrypt(&plaintext, key, "uluk4a9R25RW", "transaction").expect("encrypts");
    c.bench_function("aes256gcm/decrypt_1KiB_base64", |b| {
        b.iter(|| AesGcm::decrypt(black_box(&ciphertext), key, "uluk4a9R25RW", "transaction"))
    });
}

criterion_group!(benches, rsa, aes_gcm);
criterion_main!(benches);
