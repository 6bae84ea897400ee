"""nats-py logs in with a .creds file (user JWT and nkey seed) and round-trips a message.

usage: creds_login.py URL CREDS_FILE SUBJECT [bad]   (with `bad`: the login must be refused)
"""
import asyncio
import sys

import nats


async def main(url, creds, subject, expect_refused):
    try:
        nc = await nats.connect(
            url, user_credentials=creds, allow_reconnect=False, max_reconnect_attempts=0,
            connect_timeout=5,
        )
    except Exception as e:  # the refusal surfaces as an error of the connect
        if expect_refused:
            print(f"refused as expected: {e!r}")
            return 0
        print(f"FAIL: login refused: {e!r}")
        return 1
    if expect_refused:
        print("FAIL: a bad .creds logged in")
        await nc.close()
        return 1
    sub = await nc.subscribe(subject)
    await nc.publish(subject, b"hello")
    msg = await sub.next_msg(timeout=5)
    assert msg.data == b"hello", msg.data
    await nc.close()
    print("ok: logged in with the .creds and got the message back")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], len(sys.argv) > 4)))
