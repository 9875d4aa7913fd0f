import http.client, zlib
s3.create_bucket(Bucket="chunks")
host, port = endpoint.split("://")[1].split(":")
auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + "0" * 64
def send(key, body, sha, extra=None, decoded=None):
    c = http.client.HTTPConnection(host, int(port))
    headers = {"Authorization": auth, "x-amz-content-sha256": sha, "Content-Encoding": "aws-chunked",
               "x-amz-date": "20261207T000000Z", "Content-Length": str(len(body))}
    if decoded is not None:
        headers["x-amz-decoded-content-length"] = str(decoded)
    headers.update(extra or {})
    c.request("PUT", f"/chunks/{key}", body=body, headers=headers)
    r = c.getresponse()
    return r.status, r.read().decode(), dict(r.getheaders())
def chunks(data, size, signed):
    out = b""
    for i in range(0, len(data), size):
        part = data[i:i + size]
        out += (f"{len(part):x};chunk-signature={'a' * 64}" if signed else f"{len(part):x}").encode() + b"\r\n" + part + b"\r\n"
    return out + (f"0;chunk-signature={'a' * 64}" if signed else "0").encode() + b"\r\n"
data = os.urandom(70_000)
crc = base64.b64encode((zlib.crc32(data) & 0xffffffff).to_bytes(4, "big")).decode()
# What the Java and Go SDKs send: signed chunks, no trailer.
status, text, _ = send("signed", chunks(data, 8192, True) + b"\r\n", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", decoded=len(data))
assert status == 200, text
assert s3.get_object(Bucket="chunks", Key="signed")["Body"].read() == data
# What the JS SDK v3 sends: unsigned chunks with a trailing checksum.
trailer = f"x-amz-checksum-crc32:{crc}\r\n\r\n".encode()
status, text, headers = send("trailer", chunks(data, 65536, False) + trailer, "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                             {"x-amz-trailer": "x-amz-checksum-crc32", "x-amz-sdk-checksum-algorithm": "CRC32"}, decoded=len(data))
assert status == 200 and headers.get("x-amz-checksum-crc32") == crc, (status, text, headers)
got = s3.get_object(Bucket="chunks", Key="trailer", ChecksumMode="ENABLED")
assert got["Body"].read() == data and got["ChecksumCRC32"] == crc and "ContentEncoding" not in got, got
# Signed chunks with a signed trailer.
status, text, _ = send("both", chunks(data, 4096, True) + f"x-amz-checksum-crc32:{crc}\r\nx-amz-trailer-signature:{'b' * 64}\r\n\r\n".encode(),
                       "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", {"x-amz-trailer": "x-amz-checksum-crc32"}, decoded=len(data))
assert status == 200, text
# A trailing checksum that does not match: BadDigest, and nothing stored.
bad = base64.b64encode(b"\0\0\0\0").decode()
status, text, _ = send("bad-trailer", chunks(data, 65536, False) + f"x-amz-checksum-crc32:{bad}\r\n\r\n".encode(),
                       "STREAMING-UNSIGNED-PAYLOAD-TRAILER", {"x-amz-trailer": "x-amz-checksum-crc32"}, decoded=len(data))
assert status == 400 and "<Code>BadDigest</Code>" in text, (status, text)
# Truncated: the body ends inside a chunk; a decoded length that disagrees; no decoded length at all.
status, text, _ = send("cut", chunks(data, 65536, False)[:1000], "STREAMING-UNSIGNED-PAYLOAD-TRAILER", decoded=len(data))
assert status == 400 and "<Code>IncompleteBody</Code>" in text, (status, text)
status, text, _ = send("short", chunks(data, 65536, False) + b"\r\n", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", decoded=len(data) + 5)
assert status == 400 and "<Code>IncompleteBody</Code>" in text, (status, text)
status, text, _ = send("nolength", chunks(data, 65536, False) + b"\r\n", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
assert status == 411 and "<Code>MissingContentLength</Code>" in text, (status, text)
for key in ["bad-trailer", "cut", "short", "nolength"]:
    assert error(s3.head_object, Bucket="chunks", Key=key)[2] == 404, key
print("OK")
