"""The same work as benches/push.rs, done by wechatpy: verify + decrypt + parse one ticket push.

Prints the median time per push in nanoseconds, as JSON, for scripts/bench.sh.
"""
import json
import pathlib
import statistics
import timeit

import xmltodict
from wechatpy.component import ComponentVerifyTicketMessage
from wechatpy.crypto import WeChatCrypto

here = pathlib.Path(__file__).resolve().parent
vectors = json.loads((here.parent / "tests" / "fixtures" / "vectors.json").read_text())
v = next(x for x in vectors["decrypt"] if x["id"] == "V2")
crypto = WeChatCrypto(v["token"], v["encoding_aes_key"], v["appid"])
body = "<xml><AppId><![CDATA[%s]]></AppId><Encrypt><![CDATA[%s]]></Encrypt></xml>" % (v["appid"], v["encrypt"])


def one_push():
    # What wechatpy's WeChatComponent.parse_message does for this push, minus its session write.
    content = crypto.decrypt_message(body, v["msg_signature"], v["timestamp"], v["nonce"])
    message = ComponentVerifyTicketMessage(xmltodict.parse(content)["xml"])
    return message.verify_ticket


assert one_push().startswith("ticket@@@")
number = 2000
runs = timeit.repeat(one_push, number=number, repeat=15)
per_push_ns = [r / number * 1e9 for r in runs]
print(json.dumps({"median_ns": statistics.median(per_push_ns), "runs": len(runs), "pushes_per_run": number}))
