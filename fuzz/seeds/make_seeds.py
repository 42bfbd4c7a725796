#!/usr/bin/env python3
"""Writes the seed inputs of each fuzz target into fuzz/corpus/<target>/ (run from the repository root).

The seeds are what each target reads in its happy path (a signed answer, an encrypted callback, the official APIv2
vector, the fixture keys) plus a few hostile shapes; libFuzzer grows the corpus from them, then `cargo fuzz cmin`
keeps it small. Needs Python's `cryptography` package (AES-GCM, RSA) for the signed and encrypted seeds.
"""
import base64, hashlib, json, os, time
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FIXTURES = "tests/fixtures"
APIV2_KEY = "192006250b4c09247ec02edce69f6a2d"
APIV3_KEY = b"a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"
PUBLIC_KEY_ID = "PUB_KEY_ID_0114232134912410000000000000000"

def read(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()

platform_key = serialization.load_pem_private_key(read("wechat_pay_private_key.pem"), None)

def sign(message: bytes) -> str:
    return base64.b64encode(platform_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()

def signed_headers(body: bytes, timestamp=1554208460, nonce="593BEC0C930BF1AFEB40B4A08C8FB242") -> str:
    signature = sign(f"{timestamp}\n{nonce}\n".encode() + body + b"\n")
    return (f"Wechatpay-Timestamp: {timestamp}\nWechatpay-Nonce: {nonce}\nWechatpay-Signature: {signature}\n"
            f"Wechatpay-Serial: {PUBLIC_KEY_ID}\nRequest-ID: 08F78BB5AF0610D302202C\n")

def write(target, name, data):
    directory = os.path.join("fuzz", "corpus", target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "seed-" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

# template: a template, then the options as JSON.
write("template", "seed", 'v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills/{out_bill_no}/cancel\n{"out_bill_no":"plfk2020042013"}')
write("template", "reserved", 'v3/{+path}/x\n{"path":"a/b%20c","query":{"a":1,"b":"c d"}}')
write("template", "options", 'v3/pay/transactions/id/{transaction_id}\n{"transaction_id":42,"json":{"a":[1,{"b":null}]},"headers":{"Wechatpay-Serial":"X"},"timeout":2.5}')
write("template", "apiv2", 'v2/pay/micropay\n{"xml":{"mch_id":"1900000001","body":"x","total_fee":1},"security":false,"nonceless":true}')
write("template", "dots", 'v3/{a}/{b}/.%2e/x\n{"a":"..","b":"%2e"}')

# chain_keys: one key.
for name, key in [("climb", "v3/pay/transactions/id/../../../billdownload/file"), ("php", "fundApp/mchTransfer/_out_bill_no_"),
                  ("encoded", "v3/%2e%2e/x"), ("reserved", "{+myurl}/{id}"), ("apiv2", "v2/secapi/mch/addInstitutionsub"),
                  ("marks", "a\\b#c?d=e\tf")]:
    write("chain_keys", name, key)

# answers: "METHOD path", headers, an empty line, the body.
body = b'{"data":[{"serial_no":"X"}]}'
write("answers", "signed", f"GET v3/certificates\n{signed_headers(body)}\n".encode() + body)
statement = b"2024-01-01,statement line\n"
digest = hashlib.sha1(statement).hexdigest()
write("answers", "statement", f"GET v3/global/statements\n{signed_headers(json.dumps({'sha1': digest}, separators=(',', ':')).encode())}"
      f"Wechatpay-Statement-Sha1: {digest}\n\n".encode() + statement)
write("answers", "bill", b"GET v3/billdownload/file\n\n\xe4\xba\xa4\xe6\x98\x93,bill\n")
write("answers", "probe", b"POST v3/pay/transactions/native\nWechatpay-Timestamp: 1\nWechatpay-Nonce: n\n"
      b"Wechatpay-Signature: WECHATPAY/SIGNTEST/abc\nWechatpay-Serial: S\n\n{}")
write("answers", "error", b'GET v3/x\n\n{"code":"PARAM_ERROR","message":"line\\r\\nbreak","detail":{"field":"/amount"}}')
write("answers", "html", b"GET v3/x\n\n<html>\r\n<head><title>502 Bad Gateway</title></head><body>nginx</body></html>")

# notification: a callback with headers and the encrypted resource.
resource = json.dumps({"out_trade_no": "1217752501201407033233368018", "trade_state": "SUCCESS"}).encode()
nonce = "fdasflkja484"
sealed = AESGCM(APIV3_KEY).encrypt(nonce.encode(), resource, b"transaction")
callback = json.dumps({"id": "EV-2018022511223320873", "create_time": "2015-05-20T13:29:35+08:00",
                       "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
                       "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                                    "ciphertext": base64.b64encode(sealed).decode(), "associated_data": "transaction",
                                    "nonce": nonce}}, ensure_ascii=False, separators=(",", ":")).encode()
write("notification", "v3", signed_headers(callback).encode() + b"\n" + callback)

def apiv2_sign(fields):
    text = "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if v != "" and k != "sign") + f"&key={APIV2_KEY}"
    return hashlib.md5(text.encode()).hexdigest().upper()

def xml(fields):
    return "<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items()) + "</xml>"

paid = {"appid": "wxd930ea5d5a258f4f", "mch_id": "1900000001", "nonce_str": "ibuaiVcKdpRxkhJA", "result_code": "SUCCESS",
        "return_code": "SUCCESS", "out_trade_no": "1217752501201407033233368018", "total_fee": "1"}
paid["sign"] = apiv2_sign(paid)
write("notification", "apiv2", b"\n\n" + xml(paid).encode())
refund = "<root><out_refund_no><![CDATA[R1]]></out_refund_no><refund_status><![CDATA[SUCCESS]]></refund_status></root>"
key = hashlib.md5(APIV2_KEY.encode()).hexdigest().encode()
padded = refund.encode() + bytes([16 - len(refund) % 16]) * (16 - len(refund) % 16)
encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
req_info = base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()
write("notification", "refund", b"\n\n" + xml({"return_code": "SUCCESS", "mch_id": "1900000001", "req_info": req_info}).encode())

# apiv2_xml: answers.
answer = {"return_code": "SUCCESS", "return_msg": "OK", "appid": "wxd930ea5d5a258f4f", "mch_id": "1900000001",
          "nonce_str": "ibuaiVcKdpRxkhJA", "result_code": "SUCCESS", "trade_state": "SUCCESS"}
answer["sign"] = apiv2_sign(answer)
write("apiv2_xml", "signed", xml(answer))
write("apiv2_xml", "fail", "<xml><return_code>FAIL</return_code><return_msg>签名错误</return_msg></xml>")
write("apiv2_xml", "xxe", '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><a>&x;</a></xml>')
write("apiv2_xml", "shapes", "\ufeff<xml>\n<a/><b>&#x4E2D;&lt;</b><c><d>1</d><d>2</d></c><!-- c --></xml>")
write("apiv2_xml", "bill", "交易时间,公众账号ID\r\n`2024-01-01,`wx\r\n")

# keys: the fixtures in each form.
for name in ["merchant_private_key.pem", "merchant_private_key.pkcs1.pem", "merchant_private_key.encrypted.pem",
             "wechat_pay_public_key.pem", "wechat_pay_certificate.pem"]:
    write("keys", name.replace(".pem", ""), read(name))
public_der = serialization.load_pem_public_key(read("wechat_pay_public_key.pem")).public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
write("keys", "spki-der", public_der)
write("keys", "spki-base64", "public.spki://" + base64.b64encode(public_der).decode())
