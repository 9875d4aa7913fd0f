import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, ListObjectsV2Command,
         CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand } from "@aws-sdk/client-s3";
import { Readable } from "node:stream";
import { createHash } from "node:crypto";
const s3 = new S3Client({ endpoint: process.env.ENDPOINT, region: "us-east-1", forcePathStyle: true,
  credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "any" } });
const assert = (c, m) => { if (!c) { throw new Error("assertion failed: " + m); } };
await s3.send(new CreateBucketCommand({ Bucket: "jsbucket" }));
// A string body: the SDK's default CRC32, in a header.
const put = await s3.send(new PutObjectCommand({ Bucket: "jsbucket", Key: "hello.txt", Body: "Hello world" }));
assert(put.ChecksumCRC32 === "i9aeUg==", JSON.stringify(put));
// A stream of unknown length: aws-chunked with the checksum as a trailer.
const data = Buffer.alloc(300_000, 7);
const stream = Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]);
const streamed = await s3.send(new PutObjectCommand({ Bucket: "jsbucket", Key: "stream.bin", Body: stream, ContentLength: data.length }));
assert(streamed.ETag === `"${createHash("md5").update(data).digest("hex")}"`, JSON.stringify(streamed));
// The SDK validates the checksum of what it reads (by default since 2025).
const got = await s3.send(new GetObjectCommand({ Bucket: "jsbucket", Key: "stream.bin", ChecksumMode: "ENABLED" }));
const bytes = Buffer.from(await got.Body.transformToByteArray());
assert(bytes.equals(data), "stream.bin round trip");
const text = await (await s3.send(new GetObjectCommand({ Bucket: "jsbucket", Key: "hello.txt" }))).Body.transformToString();
assert(text === "Hello world", text);
// Multipart with the SDK's checksums on each part.
const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: "jsbucket", Key: "mp.bin", ChecksumAlgorithm: "CRC32" }));
const part1 = Buffer.alloc(5 * 1024 * 1024, 1), part2 = Buffer.from("tail");
const parts = [];
for (const [i, body] of [part1, part2].entries()) {
  const r = await s3.send(new UploadPartCommand({ Bucket: "jsbucket", Key: "mp.bin", UploadId, PartNumber: i + 1, Body: body, ChecksumAlgorithm: "CRC32" }));
  parts.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32 });
}
const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: "jsbucket", Key: "mp.bin", UploadId, MultipartUpload: { Parts: parts } }));
assert(done.ETag.endsWith('-2"'), JSON.stringify(done));
const listed = await s3.send(new ListObjectsV2Command({ Bucket: "jsbucket" }));
assert(listed.Contents.map(o => o.Key).join(",") === "hello.txt,mp.bin,stream.bin", JSON.stringify(listed.Contents));
console.log("OK");
