"""How in-toto-attestation reads attestation.intoto.json: parses it into the protobuf
Statement and runs its validate(); parses the predicate's test-result fields (result,
configuration, url, passedTests, warnedTests, failedTests) into the test-result v0.1 protobuf,
refusing unknown or mistyped fields, and validates each configuration ResourceDescriptor.
Prints {"ok": true, "subjects": N, "result": ...} or {"error": "..."}.

Usage: python3 intoto.py attestation.intoto.json"""

import json
import sys
import traceback

TEST_RESULT_FIELDS = ["result", "configuration", "url", "passedTests", "warnedTests", "failedTests"]

try:
    from google.protobuf import json_format
    from in_toto_attestation.predicates.test_result.v0 import test_result_pb2
    from in_toto_attestation.v1 import resource_descriptor, statement, statement_pb2

    with open(sys.argv[1], encoding="utf-8") as source:
        document = json.load(source)
    parsed = json_format.ParseDict(document, statement_pb2.Statement())
    statement.Statement.copy_from_pb(parsed).validate()

    predicate = document["predicate"]
    subset = {key: predicate[key] for key in TEST_RESULT_FIELDS if key in predicate}
    missing = [key for key in ["result", "configuration"] if key not in subset]
    if missing:
        raise ValueError(f"the predicate lacks test-result's required {missing}")
    result = json_format.ParseDict(subset, test_result_pb2.TestResult())
    if not result.configuration:
        raise ValueError("test-result's configuration is empty")
    for descriptor in result.configuration:
        resource_descriptor.ResourceDescriptor.copy_from_pb(descriptor).validate()
    print(json.dumps({"ok": True, "subjects": len(parsed.subject), "result": result.result}))
except Exception:
    print(json.dumps({"error": traceback.format_exc(limit=4)}))
