s3.create_bucket(Bucket="parts")
MiB = 1024 * 1024
chunks = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1234)]
upload = s3.create_multipart_upload(Bucket="parts", Key="big", ContentType="application/octet-stream", Metadata={"m": "1"})["UploadId"]
etags = [s3.upload_part(Bucket="parts", Key="big", UploadId=upload, PartNumber=i + 1, Body=c)["ETag"] for i, c in enumerate(chunks)]
assert etags == ['"%s"' % hashlib.md5(c).hexdigest() for c in chunks]
listed = s3.list_parts(Bucket="parts", Key="big", UploadId=upload)
assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed["Parts"]] == [(i + 1, len(c), etags[i]) for i, c in enumerate(chunks)]
assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="parts")["Uploads"]] == [upload]
# Completing with a wrong ETag, out of order, or a small part before the last fails and keeps the upload.
assert error(s3.complete_multipart_upload, Bucket="parts", Key="big", UploadId=upload,
             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]})[0] == "InvalidPart"
assert error(s3.complete_multipart_upload, Bucket="parts", Key="big", UploadId=upload,
             MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": etags[1]}, {"PartNumber": 1, "ETag": etags[0]}]})[0] == "InvalidPartOrder"
assert error(s3.complete_multipart_upload, Bucket="parts", Key="big", UploadId=upload,
             MultipartUpload={"Parts": [{"PartNumber": 3, "ETag": etags[2]}, {"PartNumber": 4, "ETag": etags[2]}]})[0] == "InvalidPart"
small = s3.create_multipart_upload(Bucket="parts", Key="small")["UploadId"]
tiny = [s3.upload_part(Bucket="parts", Key="small", UploadId=small, PartNumber=n, Body=b"x" * 10)["ETag"] for n in (1, 2)]
assert error(s3.complete_multipart_upload, Bucket="parts", Key="small", UploadId=small,
             MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), tiny)]})[0] == "EntityTooSmall"
s3.abort_multipart_upload(Bucket="parts", Key="small", UploadId=small)
assert error(s3.list_parts, Bucket="parts", Key="small", UploadId=small)[0] == "NoSuchUpload"
assert error(s3.upload_part, Bucket="parts", Key="small", UploadId=small, PartNumber=1, Body=b"x")[0] == "NoSuchUpload"
assert error(s3.upload_part, Bucket="parts", Key="big", UploadId=upload, PartNumber=10001, Body=b"x")[0] == "InvalidArgument"
done = s3.complete_multipart_upload(Bucket="parts", Key="big", UploadId=upload,
                                    MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
# The multipart ETag: MD5 of the parts' MD5s, dash, the part count.
expected = '"%s-3"' % hashlib.md5(b"".join(hashlib.md5(c).digest() for c in chunks)).hexdigest()
assert done["ETag"] == expected, (done["ETag"], expected)
whole = b"".join(chunks)
got = s3.get_object(Bucket="parts", Key="big")
assert got["Body"].read() == whole and got["ContentLength"] == len(whole) and got["Metadata"] == {"m": "1"}
assert s3.get_object(Bucket="parts", Key="big", Range=f"bytes={5 * MiB - 2}-{5 * MiB + 1}")["Body"].read() == whole[5 * MiB - 2:5 * MiB + 2]
second = s3.get_object(Bucket="parts", Key="big", PartNumber=2)
assert second["Body"].read() == chunks[1] and second["PartsCount"] == 3
assert s3.list_multipart_uploads(Bucket="parts").get("Uploads", []) == []
attributes = s3.get_object_attributes(Bucket="parts", Key="big", ObjectAttributes=["ETag", "ObjectSize", "ObjectParts", "StorageClass"])
assert attributes["ObjectSize"] == len(whole) and attributes["StorageClass"] == "STANDARD", attributes
assert attributes["ObjectParts"]["TotalPartsCount"] == 3 and [p["Size"] for p in attributes["ObjectParts"]["Parts"]] == [len(c) for c in chunks], attributes
assert error(s3.list_parts, Bucket="parts", Key="big", UploadId=upload)[0] == "NoSuchUpload"

# A composite SHA256 checksum: the parts' checksums, then the checksum of their concatenation, "-N".
up = s3.create_multipart_upload(Bucket="parts", Key="sha", ChecksumAlgorithm="SHA256")["UploadId"]
parts = []
for i, c in enumerate(chunks[:2]):
    r = s3.upload_part(Bucket="parts", Key="sha", UploadId=up, PartNumber=i + 1, Body=c, ChecksumAlgorithm="SHA256")
    assert r["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(c).digest()).decode()
    parts.append({"PartNumber": i + 1, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]})
done = s3.complete_multipart_upload(Bucket="parts", Key="sha", UploadId=up, MultipartUpload={"Parts": parts})
composite = base64.b64encode(hashlib.sha256(b"".join(hashlib.sha256(c).digest() for c in chunks[:2])).digest()).decode() + "-2"
assert done["ChecksumSHA256"] == composite and done["ChecksumType"] == "COMPOSITE", done
sha = s3.get_object_attributes(Bucket="parts", Key="sha", ObjectAttributes=["Checksum", "ObjectParts"])
assert sha["Checksum"]["ChecksumSHA256"] == composite and sha["Checksum"]["ChecksumType"] == "COMPOSITE", sha
assert [p["ChecksumSHA256"] for p in sha["ObjectParts"]["Parts"]] == [base64.b64encode(hashlib.sha256(c).digest()).decode() for c in chunks[:2]], sha
# A full-object CRC32: the CRCs of the parts combine into the CRC of the whole.
up = s3.create_multipart_upload(Bucket="parts", Key="crc", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT")["UploadId"]
parts = [{"PartNumber": i + 1, "ETag": s3.upload_part(Bucket="parts", Key="crc", UploadId=up, PartNumber=i + 1, Body=c, ChecksumAlgorithm="CRC32")["ETag"]}
         for i, c in enumerate(chunks)]
done = s3.complete_multipart_upload(Bucket="parts", Key="crc", UploadId=up, MultipartUpload={"Parts": parts})
crc = base64.b64encode((zlib.crc32(whole) & 0xffffffff).to_bytes(4, "big")).decode()
assert done["ChecksumCRC32"] == crc and done["ChecksumType"] == "FULL_OBJECT", (done, crc)
# Copying parts from an object, by range.
up = s3.create_multipart_upload(Bucket="parts", Key="copied")["UploadId"]
p1 = s3.upload_part_copy(Bucket="parts", Key="copied", UploadId=up, PartNumber=1, CopySource="parts/big", CopySourceRange=f"bytes=0-{5 * MiB - 1}")
p2 = s3.upload_part_copy(Bucket="parts", Key="copied", UploadId=up, PartNumber=2, CopySource="parts/big", CopySourceRange=f"bytes={10 * MiB}-{len(whole) - 1}")
assert error(s3.upload_part_copy, Bucket="parts", Key="copied", UploadId=up, PartNumber=3, CopySource="parts/big", CopySourceRange=f"bytes=0-{len(whole)}")[0] == "InvalidRange"
s3.complete_multipart_upload(Bucket="parts", Key="copied", UploadId=up, MultipartUpload={"Parts": [
    {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
assert s3.get_object(Bucket="parts", Key="copied")["Body"].read() == chunks[0] + chunks[2]
# boto3's managed transfer (threads, multipart above the threshold) round-trips.
from boto3.s3.transfer import TransferConfig
data = os.urandom(12 * MiB + 7)
s3.upload_fileobj(io.BytesIO(data), "parts", "managed", Config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB))
out = io.BytesIO()
s3.download_fileobj("parts", "managed", out, Config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB))
assert out.getvalue() == data
print("OK")
