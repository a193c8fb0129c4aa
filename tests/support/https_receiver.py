#!/usr/bin/python3
"""A client's HTTPS endpoint for the back-channel logout tests: serves on 127.0.0.1:<port>
with <cert> and <key>, answers every POST 200 and prints its body (one line each), and exits
after <count> POSTs or <seconds>. Prints "listening" first.

  https_receiver.py <port> <cert> <key> <count> <seconds>
"""
import http.server
import ssl
import sys
import threading

port, cert, key, count, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
done = threading.Event()
seen = []


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        print(body, flush=True)
        seen.append(body)
        if len(seen) >= count:
            done.set()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("listening", flush=True)
done.wait(seconds)
server.shutdown()
