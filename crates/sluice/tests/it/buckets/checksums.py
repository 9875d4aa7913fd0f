s3.create_bucket(Bucket="sums")
# The SDK's default since 2025: a CRC32 it computes, sent as a trailer of an aws-chunked body or a header.
put = s3.put_object(Bucket="sums", Key="default", Body=b"Hello world")
assert put["ETag"] == '"3e25960a79dbc69b674cd4ec67a72c62"', put["ETag"]
assert put["ChecksumCRC32"] == "i9aeUg==", put
got = s3.get_object(Bucket="sums", Key="default", ChecksumMode="ENABLED")
assert got["Body"].read() == b"Hello world"
assert got["ChecksumCRC32"] == "i9aeUg==" and got["ChecksumType"] == "FULL_OBJECT", got
expected = {"CRC32": "i9aeUg==", "CRC32C": "crUfeA==", "CRC64NVME": "OOJZ0D8xKts=", "SHA1": "e1AsOh9IyGCa4hLN+2Od7jlnP14=", "SHA256": "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw="}
for algorithm, value in expected.items():
    key = f"alg-{algorithm}"
    # botocore computes CRC32C and CRC64NVME only with awscrt: those values are given.
    if algorithm in ("CRC32C", "CRC64NVME"):
        put = s3.put_object(Bucket="sums", Key=key, Body=b"Hello world", **{f"Checksum{algorithm}": value})
        assert put[f"Checksum{algorithm}"] == value, (algorithm, put)
        assert error(s3.put_object, Bucket="sums", Key="bad", Body=b"Hello world!", **{f"Checksum{algorithm}": value})[0] == "BadDigest"
        continue
    put = s3.put_object(Bucket="sums", Key=key, Body=b"Hello world", ChecksumAlgorithm=algorithm)
    assert put[f"Checksum{algorithm}"] == value, (algorithm, put)
    head = s3.head_object(Bucket="sums", Key=key, ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == value, (algorithm, head)
    # A streamed body (aws-chunked with the checksum as a trailer).
    put = s3.put_object(Bucket="sums", Key=key + "-stream", Body=io.BytesIO(b"Hello world"), ChecksumAlgorithm=algorithm)
    assert put[f"Checksum{algorithm}"] == value, (algorithm, put)
# Checksums come back only with the checksum mode (botocore asks for it by default); a plain
# GET (any client, unsigned) gets none.
with urllib.request.urlopen(f"{endpoint}/sums/default") as r:
    assert r.read() == b"Hello world" and r.headers.get("x-amz-checksum-crc32") is None, dict(r.headers)
request = urllib.request.Request(f"{endpoint}/sums/default", headers={"x-amz-checksum-mode": "ENABLED"})
with urllib.request.urlopen(request) as r:
    assert r.headers["x-amz-checksum-crc32"] == "i9aeUg==", dict(r.headers)
# A wrong checksum is refused and nothing is stored.
code = error(s3.put_object, Bucket="sums", Key="bad", Body=b"Hello world", ChecksumCRC32="AAAAAA==")
assert code[0] == "BadDigest" and code[2] == 400, code
assert error(s3.head_object, Bucket="sums", Key="bad")[2] == 404
code = error(s3.put_object, Bucket="sums", Key="bad", Body=b"Hello world", ContentMD5=base64.b64encode(hashlib.md5(b"other").digest()).decode())
assert code[0] == "BadDigest", code
code = error(s3.put_object, Bucket="sums", Key="bad", Body=b"Hello world", ContentMD5="not-md5")
assert code[0] == "InvalidDigest", code
print("OK")
