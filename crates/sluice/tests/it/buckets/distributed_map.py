s3.create_bucket(Bucket="feeds")
s3.create_bucket(Bucket="results")
rows = ["user,action,score"] + [f"u{i},login,{i}" for i in range(7)]
s3.put_object(Bucket="feeds", Key="in/events.csv", Body="\n".join(rows).encode())
s3.put_object(Bucket="feeds", Key="in/events.jsonl", Body="\n".join(json.dumps({"n": i}) for i in range(5)).encode())
def run(definition, data=None):
    arn = sfn.create_state_machine(name=f"m{time.time_ns()}", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps(data or {}))["executionArn"]
    for _ in range(600):
        d = sfn.describe_execution(executionArn=ex)
        if d["status"] != "RUNNING":
            return d, ex
        time.sleep(0.05)
    raise AssertionError("still running")
def mapping(reader, processor_end, batcher=None, writer=None):
    m = {"Type": "Map", "ItemReader": reader, "MaxConcurrency": 3,
         "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                           "StartAt": "P", "States": {"P": processor_end}},
         "End": True}
    if batcher: m["ItemBatcher"] = batcher
    if writer: m["ResultWriter"] = writer
    return {"StartAt": "M", "States": {"M": m}}

# CSV with its header row, batched by 3 with a batch input, results exported.
d, ex = run(mapping(
    {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
     "Parameters": {"Bucket": "feeds", "Key": "in/events.csv"}},
    {"Type": "Pass", "End": True},
    batcher={"MaxItemsPerBatch": 3, "BatchInput": {"source": "csv"}},
    writer={"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "results", "Prefix": "runs"}}))
assert d["status"] == "SUCCEEDED", d
out = json.loads(d["output"])
details = out["ResultWriterDetails"]
assert details["Bucket"] == "results" and details["Key"].startswith("runs/") and details["Key"].endswith("/manifest.json"), out
manifest = json.loads(s3.get_object(Bucket="results", Key=details["Key"])["Body"].read())
files = manifest["ResultFiles"]["SUCCEEDED"]
assert len(files) == 1, manifest
succeeded = json.loads(s3.get_object(Bucket="results", Key=files[0]["Key"])["Body"].read())
assert len(succeeded) == 3, succeeded  # 7 rows in batches of 3
batches = [json.loads(r["Input"]) for r in succeeded]
assert sorted(len(b["Items"]) for b in batches) == [1, 3, 3] and all(b["BatchInput"] == {"source": "csv"} for b in batches), batches
items = sorted((i for b in batches for i in b["Items"]), key=lambda i: int(i["score"]))
assert items[0] == {"user": "u0", "action": "login", "score": "0"} and len(items) == 7, items
run_arn = out["MapRunArn"]
counts = sfn.describe_map_run(mapRunArn=run_arn)
assert counts["itemCounts"]["total"] == 7 and counts["executionCounts"]["total"] == 3, counts

# JSON Lines, items through an ItemSelector, results inline.
d, _ = run(mapping(
    {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"},
     "Parameters": {"Bucket": "feeds", "Key": "in/events.jsonl"}},
    {"Type": "Pass", "Parameters": {"double.$": "States.MathAdd($.n, $.n)"}, "End": True}))
assert d["status"] == "SUCCEEDED", d
assert sorted(r["double"] for r in json.loads(d["output"])) == [0, 2, 4, 6, 8], d["output"]

# The objects of a prefix, listed.
d, _ = run(mapping(
    {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "feeds", "Prefix": "in/"}},
    {"Type": "Pass", "End": True}))
listed = json.loads(d["output"])
assert sorted(i["Key"] for i in listed) == ["in/events.csv", "in/events.jsonl"], listed
assert all(isinstance(i["LastModified"], (int, float)) and i["StorageClass"] == "STANDARD" and i["Size"] > 0 for i in listed), listed

# A missing object fails the Map with States.ItemReaderFailed.
d, _ = run(mapping(
    {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
     "Parameters": {"Bucket": "feeds", "Key": "in/none.json"}},
    {"Type": "Pass", "End": True}))
assert d["status"] == "FAILED" and d["error"] == "States.ItemReaderFailed", d
print("OK")
