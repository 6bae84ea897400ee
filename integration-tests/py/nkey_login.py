"""nats-py logs in with an nkey seed (it signs the server's nonce) and round-trips a message.

usage: nkey_login.py URL SEED [bad]   (with `bad`: the login must be refused)
"""
import asyncio
import sys

import nats


async def main(url, seed, expect_refused):
    try:
        nc = await nats.connect(
            url, nkeys_seed_str=seed, allow_reconnect=False, max_reconnect_attempts=0,
            connect_timeout=5,
        )
    except Exception as e:  # the refusal surfaces as an error of the connect
        if expect_refused:
            print(f"refused as expected: {e!r}")
            return 0
        print(f"FAIL: login refused: {e!r}")
        return 1
    if expect_refused:
        print("FAIL: a bad key logged in")
        await nc.close()
        return 1
    sub = await nc.subscribe("nk.py")
    await nc.publish("nk.py", b"hello")
    msg = await sub.next_msg(timeout=5)
    assert msg.data == b"hello", msg.data
    await nc.close()
    print("ok: logged in with the seed and got the message back")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], len(sys.argv) > 3)))
