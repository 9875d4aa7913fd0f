s3.create_bucket(Bucket="audit-trail")
assert "Status" not in s3.get_bucket_versioning(Bucket="audit-trail")
s3.put_object(Bucket="audit-trail", Key="before", Body=b"null version")
s3.put_bucket_versioning(Bucket="audit-trail", VersioningConfiguration={"Status": "Enabled"})
assert s3.get_bucket_versioning(Bucket="audit-trail")["Status"] == "Enabled"
assert error(s3.put_bucket_versioning, Bucket="audit-trail", VersioningConfiguration={"Status": "On"})[0] == "MalformedXML"
v1 = s3.put_object(Bucket="audit-trail", Key="log", Body=b"one")["VersionId"]
v2 = s3.put_object(Bucket="audit-trail", Key="log", Body=b"two")["VersionId"]
assert v1 != v2 and len(v1) == 32
assert s3.get_object(Bucket="audit-trail", Key="log")["Body"].read() == b"two"
old = s3.get_object(Bucket="audit-trail", Key="log", VersionId=v1)
assert old["Body"].read() == b"one" and old["VersionId"] == v1
assert s3.head_object(Bucket="audit-trail", Key="log", VersionId=v2)["VersionId"] == v2
assert error(s3.get_object, Bucket="audit-trail", Key="log", VersionId="x" * 32)[0] == "NoSuchVersion"
s3.copy_object(Bucket="audit-trail", Key="restored", CopySource={"Bucket": "audit-trail", "Key": "log", "VersionId": v1})
assert s3.get_object(Bucket="audit-trail", Key="restored")["Body"].read() == b"one"
s3.delete_object(Bucket="audit-trail", Key="restored", VersionId=s3.head_object(Bucket="audit-trail", Key="restored")["VersionId"])
# A delete leaves a marker: the key reads as missing, its versions stay.
gone = s3.delete_object(Bucket="audit-trail", Key="log")
assert gone["DeleteMarker"] is True and gone["VersionId"], gone
marker = gone["VersionId"]
assert error(s3.get_object, Bucket="audit-trail", Key="log")[0] == "NoSuchKey"
assert error(s3.get_object, Bucket="audit-trail", Key="log", VersionId=marker)[2] == 405
assert [o["Key"] for o in s3.list_objects_v2(Bucket="audit-trail").get("Contents", [])] == ["before"]
listing = s3.list_object_versions(Bucket="audit-trail")
versions = [(v["Key"], v["VersionId"], v["IsLatest"]) for v in listing["Versions"]]
assert versions == [("before", "null", True), ("log", v2, False), ("log", v1, False)], versions
assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in listing["DeleteMarkers"]] == [("log", marker, True)], listing
page = s3.list_object_versions(Bucket="audit-trail", MaxKeys=2)
assert page["IsTruncated"] and page["NextKeyMarker"] == "log", page
rest = s3.list_object_versions(Bucket="audit-trail", KeyMarker=page["NextKeyMarker"], VersionIdMarker=page["NextVersionIdMarker"])
assert len(rest.get("Versions", [])) + len(rest.get("DeleteMarkers", [])) == 2, rest
# Deleting the marker brings the object back; deleting a version for good forgets it.
s3.delete_object(Bucket="audit-trail", Key="log", VersionId=marker)
assert s3.get_object(Bucket="audit-trail", Key="log")["Body"].read() == b"two"
s3.delete_object(Bucket="audit-trail", Key="log", VersionId=v2)
assert s3.get_object(Bucket="audit-trail", Key="log")["Body"].read() == b"one"
assert [v["VersionId"] for v in s3.list_object_versions(Bucket="audit-trail", Prefix="log")["Versions"]] == [v1]
# Suspended: new writes are the null version, replacing the previous null one.
s3.put_bucket_versioning(Bucket="audit-trail", VersioningConfiguration={"Status": "Suspended"})
assert s3.put_object(Bucket="audit-trail", Key="log", Body=b"n1").get("VersionId") == "null"
s3.put_object(Bucket="audit-trail", Key="log", Body=b"n2")
ids = [v["VersionId"] for v in s3.list_object_versions(Bucket="audit-trail", Prefix="log")["Versions"]]
assert ids == ["null", v1], ids
assert s3.get_object(Bucket="audit-trail", Key="log")["Body"].read() == b"n2"
# A bucket with versions is not empty.
s3.delete_objects(Bucket="audit-trail", Delete={"Objects": [{"Key": "log", "VersionId": "null"}, {"Key": "log", "VersionId": v1}, {"Key": "before", "VersionId": "null"}]})
assert s3.list_object_versions(Bucket="audit-trail").get("Versions") is None
s3.delete_bucket(Bucket="audit-trail")
print("OK")
