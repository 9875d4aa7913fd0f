s3.create_bucket(Bucket="data")
# Bucket names and regions as AWS checks them.
for bad in ["ab", "Upper", "under_score", "a..b", "192.168.1.1", "-start", "xn--punycode", "name-s3alias"]:
    assert error(s3.create_bucket, Bucket=bad)[:2] == ("InvalidBucketName", "The specified bucket is not valid."), (bad, error(s3.create_bucket, Bucket=bad))
# us-east-1 answers a second create of one's own bucket with success; other regions refuse it.
s3.create_bucket(Bucket="data")
s3.create_bucket(Bucket="in-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
assert error(s3.create_bucket, Bucket="in-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})[0] == "BucketAlreadyOwnedByYou"
assert s3.get_bucket_location(Bucket="in-eu")["LocationConstraint"] == "eu-west-1"
assert s3.get_bucket_location(Bucket="data")["LocationConstraint"] is None
assert {b["Name"] for b in s3.list_buckets()["Buckets"]} >= {"data", "in-eu"}
assert s3.head_bucket(Bucket="in-eu")["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"
assert error(s3.head_bucket, Bucket="missing-bucket")[2] == 404
assert error(s3.list_objects_v2, Bucket="missing-bucket")[0] == "NoSuchBucket"

# Standard headers, user metadata and tags come back as stored.
body = bytes(range(256)) * 40
s3.put_object(Bucket="data", Key="dir/obj.bin", Body=body, ContentType="application/x-test", CacheControl="no-cache",
              ContentDisposition="attachment", ContentLanguage="en", Metadata={"Origin": "sensor-7"}, Tagging="team=sec&tier=1")
head = s3.head_object(Bucket="data", Key="dir/obj.bin")
assert head["ContentLength"] == len(body) and head["ContentType"] == "application/x-test", head
assert head["CacheControl"] == "no-cache" and head["ContentDisposition"] == "attachment" and head["ContentLanguage"] == "en"
assert head["Metadata"] == {"origin": "sensor-7"}, head["Metadata"]
assert head["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
tags = s3.get_object_tagging(Bucket="data", Key="dir/obj.bin")["TagSet"]
assert sorted((t["Key"], t["Value"]) for t in tags) == [("team", "sec"), ("tier", "1")], tags
s3.put_object_tagging(Bucket="data", Key="dir/obj.bin", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
assert s3.get_object_tagging(Bucket="data", Key="dir/obj.bin")["TagSet"] == [{"Key": "k", "Value": "v"}]
s3.delete_object_tagging(Bucket="data", Key="dir/obj.bin")
assert s3.get_object_tagging(Bucket="data", Key="dir/obj.bin")["TagSet"] == []
assert error(s3.get_bucket_tagging, Bucket="data")[0] == "NoSuchTagSet"
s3.put_bucket_tagging(Bucket="data", Tagging={"TagSet": [{"Key": "env", "Value": "test"}]})
assert s3.get_bucket_tagging(Bucket="data")["TagSet"] == [{"Key": "env", "Value": "test"}]

# Ranges.
part = s3.get_object(Bucket="data", Key="dir/obj.bin", Range="bytes=10-19")
assert part["ResponseMetadata"]["HTTPStatusCode"] == 206 and part["ContentRange"] == f"bytes 10-19/{len(body)}"
assert part["Body"].read() == body[10:20]
assert s3.get_object(Bucket="data", Key="dir/obj.bin", Range="bytes=-5")["Body"].read() == body[-5:]
assert s3.get_object(Bucket="data", Key="dir/obj.bin", Range=f"bytes={len(body) - 3}-")["Body"].read() == body[-3:]
code = error(s3.get_object, Bucket="data", Key="dir/obj.bin", Range=f"bytes={len(body)}-")
assert code[0] == "InvalidRange" and code[2] == 416, code

# Conditional requests.
etag = head["ETag"]
assert s3.get_object(Bucket="data", Key="dir/obj.bin", IfMatch=etag)["Body"].read() == body
assert error(s3.get_object, Bucket="data", Key="dir/obj.bin", IfMatch='"0000"')[2] == 412
assert error(s3.get_object, Bucket="data", Key="dir/obj.bin", IfNoneMatch=etag)[2] == 304
assert error(s3.get_object, Bucket="data", Key="dir/obj.bin", IfModifiedSince=head["LastModified"])[2] == 304
assert error(s3.put_object, Bucket="data", Key="dir/obj.bin", Body=b"x", IfNoneMatch="*")[2] == 412
s3.put_object(Bucket="data", Key="new-only", Body=b"first", IfNoneMatch="*")
assert error(s3.put_object, Bucket="data", Key="new-only", Body=b"second", IfNoneMatch="*")[0] == "PreconditionFailed"
assert error(s3.put_object, Bucket="data", Key="new-only", Body=b"x", IfMatch='"0000"')[0] == "PreconditionFailed"
s3.put_object(Bucket="data", Key="new-only", Body=b"third", IfMatch='"%s"' % hashlib.md5(b"first").hexdigest())
assert s3.get_object(Bucket="data", Key="new-only")["Body"].read() == b"third"

# Copies: metadata copied or replaced; copying onto itself unchanged is refused.
copied = s3.copy_object(Bucket="data", Key="copy.bin", CopySource={"Bucket": "data", "Key": "dir/obj.bin"})
assert copied["CopyObjectResult"]["ETag"] == etag
assert s3.head_object(Bucket="data", Key="copy.bin")["Metadata"] == {"origin": "sensor-7"}
s3.copy_object(Bucket="data", Key="copy2.bin", CopySource="data/dir/obj.bin", MetadataDirective="REPLACE",
               Metadata={"new": "1"}, ContentType="text/plain")
replaced = s3.head_object(Bucket="data", Key="copy2.bin")
assert replaced["Metadata"] == {"new": "1"} and replaced["ContentType"] == "text/plain", replaced
assert error(s3.copy_object, Bucket="data", Key="copy.bin", CopySource="data/copy.bin")[0] == "InvalidRequest"
assert error(s3.copy_object, Bucket="data", Key="c", CopySource="data/nothing-here")[0] == "NoSuchKey"
assert error(s3.copy_object, Bucket="data", Key="c", CopySource="data/copy.bin", CopySourceIfMatch='"00"')[2] == 412

# A key is a name, never a path: it stays inside the store.
for key in ["../../escape", "/absolute/key", "a/./b/../c", "tab\there", "ünïcødé 🙂"]:
    s3.put_object(Bucket="data", Key=key, Body=key.encode())
    assert s3.get_object(Bucket="data", Key=key)["Body"].read() == key.encode(), key
assert error(s3.get_object, Bucket="data", Key="missing")[0] == "NoSuchKey"
assert error(s3.put_object, Bucket="data", Key="k" * 1025, Body=b"x")[:2] == ("KeyTooLongError", "Your key is too long")

# Listings: V2 with delimiter, pages and StartAfter; V1 with markers; URL encoding.
for i in range(25):
    s3.put_object(Bucket="data", Key=f"logs/2026/{i:02}.json", Body=b"{}")
s3.put_object(Bucket="data", Key="logs/readme", Body=b"")
page = s3.list_objects_v2(Bucket="data", Prefix="logs/", Delimiter="/")
assert [c["Prefix"] for c in page["CommonPrefixes"]] == ["logs/2026/"] and [o["Key"] for o in page["Contents"]] == ["logs/readme"], page
assert page["KeyCount"] == 2
keys, token = [], None
while True:
    page = s3.list_objects_v2(Bucket="data", Prefix="logs/2026/", MaxKeys=10, **({"ContinuationToken": token} if token else {}))
    keys += [o["Key"] for o in page["Contents"]]
    if not page["IsTruncated"]:
        break
    token = page["NextContinuationToken"]
assert keys == [f"logs/2026/{i:02}.json" for i in range(25)], keys
after = s3.list_objects_v2(Bucket="data", Prefix="logs/2026/", StartAfter="logs/2026/22.json")
assert [o["Key"] for o in after["Contents"]] == ["logs/2026/23.json", "logs/2026/24.json"]
v1 = s3.list_objects(Bucket="data", Prefix="logs/2026/", MaxKeys=5, Marker="logs/2026/04.json")
assert [o["Key"] for o in v1["Contents"]] == [f"logs/2026/{i:02}.json" for i in range(5, 10)] and v1["IsTruncated"]
paginated = [o["Key"] for p in s3.get_paginator("list_objects").paginate(Bucket="data", Prefix="logs/2026/", PaginationConfig={"PageSize": 7}) for o in p["Contents"]]
assert len(paginated) == 25
encoded = s3.list_objects_v2(Bucket="data", Prefix="ü")
assert [o["Key"] for o in encoded["Contents"]] == ["ünïcødé 🙂"], encoded

# Batch deletes, quiet and not; a bucket with objects cannot go.
deleted = s3.delete_objects(Bucket="data", Delete={"Objects": [{"Key": f"logs/2026/{i:02}.json"} for i in range(25)] + [{"Key": "never-was"}]})
assert len(deleted["Deleted"]) == 26, deleted
assert s3.list_objects_v2(Bucket="data", Prefix="logs/2026/")["KeyCount"] == 0
assert error(s3.delete_bucket, Bucket="data")[0] == "BucketNotEmpty"
assert s3.delete_object(Bucket="data", Key="never-was")["ResponseMetadata"]["HTTPStatusCode"] == 204

# Presigned URLs work; expired ones are refused as AWS refuses them.
url = s3.generate_presigned_url("get_object", Params={"Bucket": "data", "Key": "new-only"}, ExpiresIn=60)
with urllib.request.urlopen(url) as r:
    assert r.read() == b"third"
put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "data", "Key": "presigned"}, ExpiresIn=60)
urllib.request.urlopen(urllib.request.Request(put_url, data=b"via url", method="PUT")).read()
assert s3.get_object(Bucket="data", Key="presigned")["Body"].read() == b"via url"
expired = s3.generate_presigned_url("get_object", Params={"Bucket": "data", "Key": "new-only"}, ExpiresIn=1)
time.sleep(2.1)
try:
    urllib.request.urlopen(expired)
    raise AssertionError("expired URL accepted")
except urllib.error.HTTPError as e:
    assert e.code == 403 and b"<Code>AccessDenied</Code>" in e.read()

# Virtual-hosted style: the bucket in the Host.
port = endpoint.rsplit(":", 1)[1]
request = urllib.request.Request(f"{endpoint}/new-only", headers={"Host": f"data.localhost:{port}"})
with urllib.request.urlopen(request) as r:
    assert r.read() == b"third"

# Errors in S3's XML shape.
try:
    urllib.request.urlopen(f"{endpoint}/data/nothing")
except urllib.error.HTTPError as e:
    text = e.read().decode()
    assert e.code == 404 and "<Code>NoSuchKey</Code>" in text and e.headers["x-amz-request-id"], text
print("OK")
