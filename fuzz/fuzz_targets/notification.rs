#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wechatpay_sdk_fuzz::notification(data));
