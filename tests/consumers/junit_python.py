"""How the Python JUnit consumers read a junit.xml: prints, as JSON, for each of junitparser,
xunitparser and junit2html (its parser, which its HTML pages render), every test case as
{"suite", "name", "status", "message"} with status passed, failure, error or skipped.

Usage: python3 junit_python.py junit.xml [junit2html-output.html]
A consumer that cannot read the file is reported as {"error": "..."} instead of its cases."""

import json
import sys
import traceback


def junitparser_cases(path):
    from junitparser import Error, Failure, JUnitXml, Skipped

    cases = []
    for suite in JUnitXml.fromfile(path):
        for case in suite:
            status, message = "passed", None
            for result in case.result:
                if isinstance(result, Failure):
                    status = "failure"
                elif isinstance(result, Error):
                    status = "error"
                elif isinstance(result, Skipped):
                    status = "skipped"
                message = result.message
            cases.append({"suite": suite.name, "name": case.name, "status": status, "message": message})
    return cases


def xunitparser_cases(path):
    import xunitparser

    with open(path, "rb") as source:
        suite, result = xunitparser.parse(source)
    cases = []
    for case in suite:
        status = {"success": "passed", "failure": "failure", "error": "error", "skipped": "skipped"}[case.result]
        cases.append({"suite": case.classname, "name": case.methodname, "status": status, "message": case.message})
    return {"cases": cases, "properties": suite.properties}


def junit2html_cases(path, html):
    from junit2htmlreport.parser import Junit

    report = Junit(path)
    cases = []
    for suite in report.suites:
        for case in suite.all():
            outcome = case.outcome()
            status = {"passed": "passed", "failed": "failure", "error": "error", "skipped": "skipped"}.get(outcome, outcome)
            message = case.failure_msg or case.skipped_msg
            cases.append({"suite": suite.name, "name": case.name, "status": status, "message": message})
    if html:
        with open(html, "w", encoding="utf-8") as out:
            out.write(report.html())
    return cases


def attempt(read, *args):
    try:
        return read(*args)
    except Exception:  # a consumer that cannot read the file is a finding, not a crash here
        return {"error": traceback.format_exc(limit=3)}


path = sys.argv[1]
html = sys.argv[2] if len(sys.argv) > 2 else None
print(json.dumps({
    "junitparser": attempt(junitparser_cases, path),
    "xunitparser": attempt(xunitparser_cases, path),
    "junit2html": attempt(junit2html_cases, path, html),
}))
