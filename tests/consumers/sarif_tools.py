"""How sarif-tools reads a report.sarif: prints, as JSON, its records (Tool, Location, Line,
Severity, Code, Description: what `sarif ls`, `sarif csv` and `sarif html` show) and the
result counts by severity it summarises. A file it cannot read is {"error": "..."}.

Usage: python3 sarif_tools.py report.sarif"""

import json
import sys
import traceback

try:
    from sarif import loader

    sarif_file = loader.load_sarif_file(sys.argv[1])
    report = sarif_file.get_report()
    print(json.dumps({
        "records": sarif_file.get_records(),
        "counts": {severity: report.get_issue_count_for_severity(severity) for severity in report.get_severities()},
    }))
except Exception:
    print(json.dumps({"error": traceback.format_exc(limit=3)}))
