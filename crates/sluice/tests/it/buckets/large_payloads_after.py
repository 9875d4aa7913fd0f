ex = open(os.environ["MARKER"]).read()
big = "".join(f"line {i:07} of a large vendor export\n" for i in range(40_000))
for _ in range(600):
    d = sfn.describe_execution(executionArn=ex)
    if d["status"] != "RUNNING":
        break
    time.sleep(0.05)
assert d["status"] == "SUCCEEDED", d
out = json.loads(d["output"])
assert out["lines"] == 40_000 and out["echo"] == big, {k: str(v)[:80] for k, v in out.items()}
# The history shows the payloads whole.
events = sfn.get_execution_history(executionArn=ex, maxResults=1000)["events"]
fetched = next(e for e in events if e["type"] == "TaskSucceeded")
assert json.loads(fetched["taskSucceededEventDetails"]["output"])["Body"] == big
# They are kept as objects of the payload bucket, not in the execution's records.
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="sluice-large-payloads")["Contents"]]
assert keys and all(k.startswith("executions/") for k in keys), keys
print("OK")
