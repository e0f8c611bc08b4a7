"""wechatpy as an independent peer for the Rust interop test.

Reads one JSON document on stdin: {"cases": [{"id", "token", "encoding_aes_key", "appid",
"message", "timestamp", "nonce", "our_reply"}, ...]}. For each case it encrypts `message` with
wechatpy (returning wechatpy's reply envelope) and decrypts `our_reply` (the Rust side's envelope)
after checking its MsgSignature. Writes {"results": [{"id", "their_reply", "decrypted",
"error"}, ...]} on stdout. One process for all cases keeps the test fast.
"""
import json
import re
import sys

from wechatpy.crypto import WeChatCrypto


def field(xml, name):
    """The CDATA value of <name> in an envelope (our layout is fixed, so a regex is enough)."""
    m = re.search(r"<%s><!\[CDATA\[(.*?)\]\]></%s>" % (name, name), xml, re.S)
    if m is None:
        m = re.search(r"<%s>(.*?)</%s>" % (name, name), xml, re.S)
    return None if m is None else m.group(1)


def run_case(case):
    crypto = WeChatCrypto(case["token"], case["encoding_aes_key"], case["appid"])
    result = {"id": case["id"], "their_reply": None, "decrypted": None, "error": None}
    try:
        result["their_reply"] = crypto.encrypt_message(
            case["message"], case["nonce"], case["timestamp"]
        )
        ours = case["our_reply"]
        result["decrypted"] = crypto.decrypt_message(
            ours, field(ours, "MsgSignature"), field(ours, "TimeStamp"), field(ours, "Nonce")
        )
    except Exception as e:  # reported to the Rust side, which fails the test with it
        result["error"] = "%s: %s" % (type(e).__name__, e)
    return result


def main():
    request = json.load(sys.stdin)
    results = [run_case(c) for c in request["cases"]]
    json.dump({"results": results}, sys.stdout, ensure_ascii=True)


if __name__ == "__main__":
    main()
