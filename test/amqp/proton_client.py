"""Qpid Proton (Debian python3-qpid-proton) as an AMQP 1.0 client for the Junction test suite.

    proton_client.py send URL ADDRESS N         sends N durable messages, prints {"sent": N}
    proton_client.py receive URL ADDRESS N      receives and accepts N messages, prints them as JSON
    proton_client.py browse URL ADDRESS N       browses N messages (distribution-mode copy), prints them as JSON
    proton_client.py subscribe URL CID NAME TOPIC   attaches a durable subscription and leaves it (closes the connection)
    proton_client.py resume URL CID NAME TOPIC N    re-attaches it, receives N, then closes the link (unsubscribe)
    proton_client.py request URL SERVICE        dynamic reply queue, sends a request, prints the reply
    proton_client.py txsend URL ADDRESS N commit|abort     sends N messages in a transaction
    proton_client.py txreceive URL ADDRESS N commit|abort  receives and accepts N messages in a transaction
"""
import json
import sys
import uuid

from proton import Message
from proton.handlers import MessagingHandler, TransactionHandler
from proton.reactor import Container, Copy, DurableSubscription
from proton.utils import BlockingConnection

TIMEOUT = 15


def connect(url, container_id=None):
    container = Container()
    if container_id:
        container.container_id = container_id
    return BlockingConnection(url, timeout=TIMEOUT, container=container)


def describe(m):
    body = m.body
    if isinstance(body, (bytes, memoryview)):
        body = {"binary": bytes(body).hex()}
    elif hasattr(body, "tobytes"):
        body = {"binary": body.tobytes().hex()}
    props = {k: (v if isinstance(v, (str, int, float, bool)) or v is None else str(v)) for k, v in (m.properties or {}).items()}
    return {
        "body": body,
        "properties": props,
        "subject": m.subject,
        "correlation_id": str(m.correlation_id) if m.correlation_id is not None else None,
        "content_type": m.content_type,
        "durable": m.durable,
        "priority": m.priority,
        "reply_to": m.reply_to,
    }


class Transactional(MessagingHandler, TransactionHandler):
    """Sends (or receives and accepts) N messages in one local transaction, then commits or aborts."""

    def __init__(self, url, address, n, commit, receiving):
        super(Transactional, self).__init__(prefetch=0, auto_accept=False)
        self.url, self.address, self.n, self.commit, self.receiving = url, address, n, commit, receiving
        self.txn = None
        self.done = 0
        self.result = None
        self.received = []

    def on_start(self, event):
        self.conn = event.container.connect(self.url)
        if self.receiving:
            self.receiver = event.container.create_receiver(self.conn, self.address)
        else:
            self.sender = event.container.create_sender(self.conn, self.address)
        event.container.declare_transaction(self.conn, handler=self)

    def on_transaction_declared(self, event):
        self.txn = event.transaction
        if self.receiving:
            self.receiver.flow(self.n)
        else:
            for i in range(self.n):
                self.txn.send(self.sender, Message(body="tx-%d" % i, durable=True))
            self.finish()

    def on_message(self, event):
        self.received.append(event.message.body)
        self.txn.accept(event.delivery)
        if len(self.received) == self.n:
            self.finish()

    def finish(self):
        if self.commit:
            self.txn.commit()
        else:
            self.txn.abort()

    def on_transaction_committed(self, event):
        self.result = "committed"
        self.conn.close()

    def on_transaction_aborted(self, event):
        self.result = "aborted"
        self.conn.close()

    def on_transaction_declare_failed(self, event):
        self.result = "declare-failed"
        self.conn.close()

    def on_transaction_commit_failed(self, event):
        self.result = "commit-failed"
        self.conn.close()


def main():
    cmd, url = sys.argv[1], sys.argv[2]
    if cmd == "send":
        address, n = sys.argv[3], int(sys.argv[4])
        conn = connect(url)
        sender = conn.create_sender(address)
        for i in range(n):
            sender.send(Message(body="proton-%d" % i, durable=True, priority=5, subject="subj", correlation_id="corr-%d" % i,
                                content_type="text/plain", properties={"i": i, "lang": "python"}))
        conn.close()
        print(json.dumps({"sent": n}))
    elif cmd == "receive":
        address, n = sys.argv[3], int(sys.argv[4])
        conn = connect(url)
        receiver = conn.create_receiver(address, credit=n)
        out = []
        for _ in range(n):
            out.append(describe(receiver.receive(timeout=TIMEOUT)))
            receiver.accept()
        conn.close()
        print(json.dumps(out))
    elif cmd == "browse":
        address, n = sys.argv[3], int(sys.argv[4])
        conn = connect(url)
        receiver = conn.create_receiver(address, credit=n, options=Copy())
        out = [describe(receiver.receive(timeout=TIMEOUT)) for _ in range(n)]
        conn.close()
        print(json.dumps(out))
    elif cmd == "subscribe":
        cid, name, topic = sys.argv[3], sys.argv[4], sys.argv[5]
        conn = connect(url, cid)
        conn.create_receiver(topic, name=name, options=DurableSubscription())
        conn.close()
        print(json.dumps({"subscribed": name}))
    elif cmd == "resume":
        cid, name, topic, n = sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
        conn = connect(url, cid)
        receiver = conn.create_receiver(topic, name=name, credit=n, options=DurableSubscription())
        out = []
        for _ in range(n):
            out.append(describe(receiver.receive(timeout=TIMEOUT)))
            receiver.accept()
        receiver.close()
        conn.close()
        print(json.dumps(out))
    elif cmd == "request":
        service = sys.argv[3]
        conn = connect(url)
        replies = conn.create_receiver(None, dynamic=True, credit=1)
        reply_to = replies.link.remote_source.address
        sender = conn.create_sender(service)
        cid = str(uuid.uuid4())
        sender.send(Message(body="ping", reply_to=reply_to, correlation_id=cid))
        reply = replies.receive(timeout=TIMEOUT)
        replies.accept()
        conn.close()
        print(json.dumps({"reply_to": reply_to, "reply": describe(reply), "matches": str(reply.correlation_id) == cid}))
    elif cmd in ("txsend", "txreceive"):
        address, n, outcome = sys.argv[3], int(sys.argv[4]), sys.argv[5]
        handler = Transactional(url, address, n, outcome == "commit", cmd == "txreceive")
        Container(handler).run()
        print(json.dumps({"result": handler.result, "received": handler.received}))
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
