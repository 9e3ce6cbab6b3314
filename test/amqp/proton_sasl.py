"""Qpid Proton (Debian python3-qpid-proton) logging in to the Junction test broker.

    proton_sasl.py URL MECHS USER PASSWORD [CERT KEY CA]

Connects with only MECHS allowed (space-separated SASL mechanism names), sends one message to
/queue/sasl, and prints {"sent": 1} or {"error": "<condition or message>"}. With CERT, KEY and CA
the connection is TLS with that client certificate (for EXTERNAL).
"""
import json
import sys

from proton import Message, SSLDomain
from proton.reactor import Container
from proton.utils import BlockingConnection

url, mechs, user, password = sys.argv[1:5]
kwargs = {"allowed_mechs": mechs, "timeout": 15}
if user:
    kwargs["user"] = user
if password:
    kwargs["password"] = password
    kwargs["allow_insecure_mechs"] = True
if len(sys.argv) > 5:
    cert, key, ca = sys.argv[5:8]
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    domain.set_credentials(cert, key, None)
    domain.set_trusted_ca_db(ca)
    domain.set_peer_authentication(SSLDomain.VERIFY_PEER)
    kwargs["ssl_domain"] = domain
try:
    conn = BlockingConnection(url, container=Container(), **kwargs)
    sender = conn.create_sender("/queue/sasl")
    sender.send(Message(body="via " + mechs))
    conn.close()
    print(json.dumps({"sent": 1}))
except Exception as e:  # noqa: BLE001 - the test reads the message
    print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
