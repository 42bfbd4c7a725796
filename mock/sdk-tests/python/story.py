"""The story CI runs against wechatpay-mock with the official Python SDK, wechatpayv3 2.0.4, unchanged.

A QQ-wallet transfer created with an encrypted name, queried and cancelled (the seed's call), a native order that
the simulator pays by itself (--auto-pay) and whose callback the SDK's own `callback()` verifies and decrypts, a
refund and its callback, and WeChat Pay's codes for unknown ids. Any failed step exits non-zero.

    python story.py [platform|public-key]

WECHATPAY_MOCK names the wechatpay-mock binary (default: `wechatpay-mock` on PATH). Written for this project.
"""

import http.server
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings

from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.type import RequestType

PATIENCE = 20  # seconds
# wechatpayv3 2.0.4 still reads a certificate property that newer `cryptography` releases deprecate.
warnings.filterwarnings('ignore', message='Properties that return a na', module='wechatpayv3')
QQ = '/v3/fund-app/mch-transfer/transfer-to-qq-wallet-bills'


def callback_endpoint():
    """A loopback HTTP endpoint for callbacks: answers 204, hands over (headers, body) in arrival order."""
    arrived = queue.Queue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
            self.send_response(204)
            self.end_headers()
            arrived.put((self.headers, body))

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = 'http://127.0.0.1:%d/notify' % server.server_address[1]
    def next_callback():
        try:
            return arrived.get(timeout=PATIENCE)
        except queue.Empty:
            raise AssertionError('no callback within %d s' % PATIENCE) from None

    return url, next_callback, server.shutdown


def expect(code_and_text, status):
    """The JSON answer of a call that must have answered `status`."""
    code, text = code_and_text
    assert code == status, 'expected %d, got %d: %s' % (status, code, text)
    return json.loads(text) if text else {}


def story(mode):
    # guide:python:start
    # Start the simulator and read its ready line (one JSON object on stdout).
    args = ['--auto-pay', '300', '--auto-advance', '2000', '--auto-notify']
    if mode == 'public-key':
        args.append('--public-key-only')
    mock = subprocess.Popen([os.environ.get('WECHATPAY_MOCK', 'wechatpay-mock')] + args,
                            stdout=subprocess.PIPE, text=True)
    ready = json.loads(mock.stdout.readline())

    def read(path):
        with open(path, encoding='utf-8') as file:
            return file.read()

    # Point the SDK at it. wechatpayv3 has no base-URL option: its gateway is set after construction. In platform
    # mode it loads the platform certificate from cert_dir (so it downloads nothing from WeChat Pay at start);
    # in public-key mode it takes the WeChat Pay public key and its id.
    cert_dir = tempfile.mkdtemp()
    keys = {}
    if mode == 'public-key':
        keys = {'public_key': read(ready['public_key']), 'public_key_id': ready['public_key_id']}
    else:
        shutil.copy(ready['platform_certificate'], os.path.join(cert_dir, ready['platform_serial'] + '.pem'))
    wxpay = WeChatPay(wechatpay_type=WeChatPayType.NATIVE, mchid=ready['mchid'],
                      private_key=read(ready['merchant_private_key']), cert_serial_no=ready['merchant_serial'],
                      appid='wxd678efh567hg6787', apiv3_key=ready['apiv3_key'], cert_dir=cert_dir, **keys)
    wxpay._core._gate_way = ready['base_uri'].rstrip('/')
    # Callbacks: wxpay.callback(headers, body) verifies the signature and decrypts the resource (None if either fails).
    # guide:python:end

    notify_url, next_callback, stop_endpoint = callback_endpoint()

    def open_callback():
        headers, body = next_callback()
        opened = wxpay.callback(headers, body)
        assert opened, 'the callback does not verify or decrypt'
        return opened['event_type'], opened['resource']

    try:
        # The QQ-wallet story (wechatpayv3 has no method for it: Core.request signs and verifies any call).
        out_bill_no = 'plfk%d' % time.time_ns()
        created = expect(wxpay._core.request(QQ, method=RequestType.POST, cipher_data=True, data={
            'appid': '102022609', 'out_bill_no': out_bill_no, 'transfer_scene_id': '1401',
            'transfer_scene_report_infos': [{'info_type': '活动名称', 'info_content': '注册会员有礼'}],
            'openid': 'o-MYE42l80oelYMDE34nYD456Xoy', 'user_name': wxpay._core.encrypt('张三'),
            'transfer_amount': 400000, 'transfer_remark': '2020年4月报销', 'notify_url': notify_url,
        }), 200)
        assert created['state'] == 'ACCEPTED', created
        bill = expect(wxpay._core.request('%s/%s' % (QQ, out_bill_no)), 200)
        assert wxpay._core.decrypt(bill['user_name']) == '张三', bill
        cancelled = expect(wxpay._core.request('%s/%s/cancel' % (QQ, out_bill_no), method=RequestType.POST), 200)
        assert cancelled['state'] == 'CANCELING', cancelled
        event, bill = open_callback()
        assert (event, bill['out_bill_no'], bill['state']) == ('MCHTRANSFER.BILL.FINISHED', out_bill_no, 'CANCELLED')

        # A native order the simulator pays by itself: its callback arrives with no further request.
        out_trade_no = 'native%d' % time.time_ns()
        prepay = expect(wxpay.pay(description='Image形象店-深圳腾大-QQ公仔', out_trade_no=out_trade_no,
                                  amount={'total': 100, 'currency': 'CNY'}, notify_url=notify_url), 200)
        assert prepay['code_url'].startswith('weixin://'), prepay
        event, paid = open_callback()
        assert (event, paid['out_trade_no'], paid['trade_state']) == ('TRANSACTION.SUCCESS', out_trade_no, 'SUCCESS')
        order = expect(wxpay.query(out_trade_no=out_trade_no), 200)
        assert order['transaction_id'] == paid['transaction_id'], order

        # A refund of it, and the refund's callback.
        out_refund_no = 'refund%d' % time.time_ns()
        refund = expect(wxpay.refund(out_refund_no=out_refund_no, transaction_id=order['transaction_id'],
                                     amount={'refund': 40, 'total': 100, 'currency': 'CNY'},
                                     notify_url=notify_url), 200)
        assert refund['status'] == 'PROCESSING', refund
        event, refunded = open_callback()
        assert (event, refunded['out_refund_no'], refunded['refund_status']) == \
            ('REFUND.SUCCESS', out_refund_no, 'SUCCESS')
        assert expect(wxpay.query_refund(out_refund_no=out_refund_no), 200)['status'] == 'SUCCESS'

        # WeChat Pay's codes for ids it never saw.
        assert expect(wxpay.query(out_trade_no='NEVER'), 404)['code'] == 'ORDER_NOT_EXIST'
        assert expect(wxpay.query_refund(out_refund_no='NEVER'), 404)['code'] == 'RESOURCE_NOT_EXISTS'
        assert expect(wxpay._core.request('%s/NEVER' % QQ), 404)['code'] == 'NOT_FOUND'
        print('python wechatpayv3 (%s): QQ-wallet transfer, auto-paid native order, refund, callbacks, error codes: ok'
              % mode)
    finally:
        stop_endpoint()
        mock.terminate()
        mock.wait(timeout=PATIENCE)
        shutil.rmtree(cert_dir, ignore_errors=True)


if __name__ == '__main__':
    mode = sys.argv[1] if len(sys.argv) > 1 else 'platform'
    if mode not in ('platform', 'public-key'):
        sys.exit('unknown mode %s: platform or public-key' % mode)
    try:
        story(mode)
    except Exception as error:  # every failed step, with what went wrong
        print('python wechatpayv3 (%s): FAILED: %r' % (mode, error), file=sys.stderr)
        sys.exit(1)
