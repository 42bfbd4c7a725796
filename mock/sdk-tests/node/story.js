'use strict';

// The story CI runs against wechatpay-mock with the official Node SDK, wechatpay-axios-plugin 0.9.6, unchanged:
// a QQ-wallet transfer created with an encrypted name, queried and cancelled (the seed's call), a native order
// that the simulator pays by itself (--auto-pay) and whose callback the SDK's own helpers verify and decrypt, a
// refund and its callback, and WeChat Pay's codes for unknown ids. Any failed step exits non-zero.
//
//   node story.js [platform|public-key]
//
// WECHATPAY_MOCK names the wechatpay-mock binary (default: `wechatpay-mock` on PATH). Written for this project.

const assert = require('node:assert/strict');
const http = require('node:http');
const readline = require('node:readline');
const { once } = require('node:events');
const { spawn } = require('node:child_process');
const { readFileSync } = require('node:fs');
const { Wechatpay, Rsa, Aes: { AesGcm }, Formatter } = require('wechatpay-axios-plugin');

const mode = process.argv[2] || 'platform';
assert.ok(['platform', 'public-key'].includes(mode), `unknown mode ${mode}: platform or public-key`);
const PATIENCE = 20000;

/** A loopback HTTP endpoint for callbacks: answers 204, hands them over in arrival order. */
async function callbackEndpoint() {
  const arrived = [];
  const waiting = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      res.writeHead(204).end();
      const callback = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      const next = waiting.shift();
      if (next) next(callback); else arrived.push(callback);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const next = () => {
    if (arrived.length) return Promise.resolve(arrived.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no callback within ${PATIENCE} ms`)), PATIENCE);
      waiting.push((callback) => { clearTimeout(timer); resolve(callback); });
    });
  };
  return { url: `http://127.0.0.1:${server.address().port}/notify`, next, close: () => server.close() };
}

/** The error answer of a failed request: status and WeChat Pay's code. */
async function failure(request) {
  try {
    const { status } = await request;
    return assert.fail(`expected an error answer, got ${status}`);
  } catch (error) {
    if (!error.response) throw error;
    return { status: error.response.status, code: error.response.data.code };
  }
}

async function main() {
  // Until the story ends well, any way out is a failure (even an event loop that runs dry while waiting).
  process.exitCode = 1;
  // guide:node:start
  // Start the simulator and read its ready line (one JSON object on stdout).
  const args = ['--auto-pay', '300', '--auto-advance', '2000', '--auto-notify'];
  if (mode === 'public-key') args.push('--public-key-only');
  const mock = spawn(process.env.WECHATPAY_MOCK || 'wechatpay-mock', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(readline.createInterface({ input: mock.stdout }), 'line');
  const ready = JSON.parse(line);

  // Point the SDK at it: baseURL, the merchant key and serial, and the key that verifies answers and callbacks
  // (the platform certificate, or the WeChat Pay public key for a merchant in public-key mode).
  const certs = mode === 'public-key'
    ? { [ready.public_key_id]: readFileSync(ready.public_key, 'utf8') }
    : { [ready.platform_serial]: readFileSync(ready.platform_certificate, 'utf8') };
  const wxpay = new Wechatpay({
    baseURL: ready.base_uri,
    mchid: ready.mchid,
    serial: ready.merchant_serial,
    privateKey: readFileSync(ready.merchant_private_key, 'utf8'),
    certs,
  });

  // A callback is checked with the SDK's helpers: the signature over `timestamp\nnonce\nbody\n` with the key
  // `Wechatpay-Serial` names, then the resource decrypted with the APIv3 key.
  const publicKeys = Object.fromEntries(Object.entries(certs).map(([id, pem]) => [id, Rsa.from(pem, Rsa.KEY_TYPE_PUBLIC)]));
  const openCallback = ({ headers, body }) => {
    const message = Formatter.response(headers['wechatpay-timestamp'], headers['wechatpay-nonce'], body);
    assert.ok(Rsa.verify(message, headers['wechatpay-signature'], publicKeys[headers['wechatpay-serial']]), 'callback signature');
    const { event_type: eventType, resource } = JSON.parse(body);
    const plain = AesGcm.decrypt(resource.ciphertext, ready.apiv3_key, resource.nonce, resource.associated_data);
    return { eventType, resource: JSON.parse(plain) };
  };
  // guide:node:end

  const watchdog = setTimeout(() => {
    console.error(`node wechatpay-axios-plugin (${mode}): FAILED: not done within 90 s`);
    mock.kill('SIGTERM');
    process.exit(1);
  }, 90000);
  let stopping = false;
  mock.on('exit', (code, signal) => {
    if (!stopping) console.error(`wechatpay-mock exited before the story ended (${code ?? signal})`);
  });
  const notify = await callbackEndpoint();
  const [serial, encryptionKey] = Object.entries(certs)[0];
  try {
    // Keys: the certificate download in platform mode; 404 RESOURCE_NOT_EXISTS for a public-key-only merchant.
    if (mode === 'platform') {
      const { data } = await wxpay.v3.certificates.get();
      const listed = data.data[0];
      const { ciphertext, nonce, associated_data: aad } = listed.encrypt_certificate;
      assert.equal(listed.serial_no, ready.platform_serial);
      assert.equal(AesGcm.decrypt(ciphertext, ready.apiv3_key, nonce, aad), certs[serial]);
    } else {
      assert.deepEqual(await failure(wxpay.v3.certificates.get()), { status: 404, code: 'RESOURCE_NOT_EXISTS' });
    }

    // The QQ-wallet story: create with an encrypted user_name, query (decrypt it back), cancel as the seed does.
    const outBillNo = `plfk${Date.now()}`;
    const created = await wxpay.v3.fundApp.mchTransfer.transferToQqWalletBills.post({
      appid: '102022609',
      out_bill_no: outBillNo,
      transfer_scene_id: '1401',
      transfer_scene_report_infos: [{ info_type: '活动名称', info_content: '注册会员有礼' }],
      openid: 'o-MYE42l80oelYMDE34nYD456Xoy',
      user_name: Rsa.encrypt('张三', Rsa.from(encryptionKey, Rsa.KEY_TYPE_PUBLIC)),
      transfer_amount: 400000,
      transfer_remark: '2020年4月报销',
      notify_url: notify.url,
    }, { headers: { 'Wechatpay-Serial': serial } });
    assert.equal(created.data.state, 'ACCEPTED');
    const { data: bill } = await wxpay.v3.fundApp.mchTransfer.transferToQqWalletBills.$out_bill_no$
      .get({ out_bill_no: outBillNo });
    assert.equal(Rsa.decrypt(bill.user_name, Rsa.from(readFileSync(ready.merchant_private_key, 'utf8'))), '张三');
    const { data: cancelled } = await wxpay.v3.fundApp.mchTransfer.transferToQqWalletBills._out_bill_no_.cancel
      .post(undefined, { out_bill_no: outBillNo });
    assert.equal(cancelled.state, 'CANCELING');
    const transferCallback = openCallback(await notify.next());
    assert.equal(transferCallback.eventType, 'MCHTRANSFER.BILL.FINISHED');
    assert.deepEqual([transferCallback.resource.out_bill_no, transferCallback.resource.state], [outBillNo, 'CANCELLED']);

    // A native order the simulator pays by itself: its callback arrives with no further request.
    const outTradeNo = `native${Date.now()}`;
    const { data: prepay } = await wxpay.v3.pay.transactions.native.post({
      mchid: ready.mchid,
      appid: 'wxd678efh567hg6787',
      out_trade_no: outTradeNo,
      description: 'Image形象店-深圳腾大-QQ公仔',
      notify_url: notify.url,
      amount: { total: 100, currency: 'CNY' },
    });
    assert.match(prepay.code_url, /^weixin:\/\//);
    const paid = openCallback(await notify.next());
    assert.equal(paid.eventType, 'TRANSACTION.SUCCESS');
    assert.deepEqual([paid.resource.out_trade_no, paid.resource.trade_state], [outTradeNo, 'SUCCESS']);
    const { data: order } = await wxpay.v3.pay.transactions.outTradeNo.$out_trade_no$
      .get({ params: { mchid: ready.mchid }, out_trade_no: outTradeNo });
    assert.equal(order.transaction_id, paid.resource.transaction_id);

    // A refund of it, and the refund's callback.
    const outRefundNo = `refund${Date.now()}`;
    const { data: refund } = await wxpay.v3.refund.domestic.refunds.post({
      transaction_id: order.transaction_id,
      out_refund_no: outRefundNo,
      notify_url: notify.url,
      amount: { refund: 40, total: 100, currency: 'CNY' },
    });
    assert.equal(refund.status, 'PROCESSING');
    const refunded = openCallback(await notify.next());
    assert.equal(refunded.eventType, 'REFUND.SUCCESS');
    assert.deepEqual([refunded.resource.out_refund_no, refunded.resource.refund_status], [outRefundNo, 'SUCCESS']);
    const { data: queried } = await wxpay.v3.refund.domestic.refunds.$out_refund_no$.get({ out_refund_no: outRefundNo });
    assert.equal(queried.status, 'SUCCESS');

    // WeChat Pay's codes for ids it never saw.
    const unknownOrder = wxpay.v3.pay.transactions.outTradeNo.$out_trade_no$
      .get({ params: { mchid: ready.mchid }, out_trade_no: 'NEVER' });
    assert.deepEqual(await failure(unknownOrder), { status: 404, code: 'ORDER_NOT_EXIST' });
    const unknownRefund = wxpay.v3.refund.domestic.refunds.$out_refund_no$.get({ out_refund_no: 'NEVER' });
    assert.deepEqual(await failure(unknownRefund), { status: 404, code: 'RESOURCE_NOT_EXISTS' });
    const unknownBill = wxpay.v3.fundApp.mchTransfer.transferToQqWalletBills.$out_bill_no$.get({ out_bill_no: 'NEVER' });
    assert.deepEqual(await failure(unknownBill), { status: 404, code: 'NOT_FOUND' });
    console.log(`node wechatpay-axios-plugin (${mode}): QQ-wallet transfer, auto-paid native order, refund, callbacks, error codes: ok`);
    process.exitCode = 0;
  } finally {
    clearTimeout(watchdog);
    notify.close();
    stopping = true;
    mock.kill('SIGTERM');
  }
}

main().catch((error) => {
  console.error(`node wechatpay-axios-plugin (${mode}): FAILED:`, error.response ? error.response.data : error);
  process.exit(1);
});
